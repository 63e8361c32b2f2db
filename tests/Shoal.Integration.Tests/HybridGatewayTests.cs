using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Shoal.Gateway;

namespace Shoal.Integration.Tests;

/// <summary>
/// The embedded default with its built-in dense encoder (arctic-xs, real model) on the 40 sample
/// passages: BM25 is ready first, the dense channel is built in the background, then a plain text
/// search is hybrid; a restart restores both channels without encoding again.
/// </summary>
public sealed class HybridGatewayTests : IDisposable
{
    private readonly string _data = Directory.CreateTempSubdirectory("shoal-hybrid-").FullName;

    public void Dispose() => TempDirectory.Delete(_data);

    [Fact]
    public async Task Embedded_default_becomes_hybrid_in_the_background_and_restores_it_on_restart()
    {
        long version;
        await using (var first = await StartAsync())
        {
            // Ready (BM25) comes first; the dense channel follows.
            var detail = await WaitForDetailAsync(first.Http, d => d.Contains("hybrid", StringComparison.Ordinal), TimeSpan.FromMinutes(8));
            Assert.Contains("dense channel (arctic-xs) built", detail, StringComparison.Ordinal);
            var loader = first.App.Services.GetRequiredService<StartupIndexLoader>();
            Assert.True(loader.IsHybrid);

            using var doc = await SearchAsync(first.Http, "how does the body learn to fight a germ");
            var root = doc.RootElement;
            Assert.Equal(["bm25", "dense"], root.GetProperty("channels").EnumerateArray().Select(c => c.GetString()!).ToArray());
            Assert.Equal("s21", root.GetProperty("hits")[0].GetProperty("id").GetString()); // "Vaccines train the immune system ..."
            version = root.GetProperty("version").GetInt64();
            Assert.Equal(2, version);

            // The dense channel was built by an indexing job named after the version it extends.
            using var job = await JsonDocument.ParseAsync(await first.Http.GetStreamAsync(new Uri("v1/jobs/startup-sample-dense-v1", UriKind.Relative)));
            Assert.Equal("Succeeded", job.RootElement.GetProperty("state").GetString(), StringComparer.OrdinalIgnoreCase);
            Assert.Equal(2, job.RootElement.GetProperty("version").GetInt64());
            Assert.Equal("arctic-xs", job.RootElement.GetProperty("request").GetProperty("denseEncoder").GetString());
        }

        await using (var second = await StartAsync())
        {
            var detail = await WaitForDetailAsync(second.Http, d => d.Contains("hybrid", StringComparison.Ordinal), TimeSpan.FromMinutes(2));
            Assert.Contains("restored from the snapshot", detail, StringComparison.Ordinal);
            using var doc = await SearchAsync(second.Http, "how does the body learn to fight a germ");
            Assert.Equal(version, doc.RootElement.GetProperty("version").GetInt64()); // nothing rebuilt
            Assert.Equal(2, doc.RootElement.GetProperty("channels").GetArrayLength());
        }
    }

    [Fact]
    public async Task Bm25_only_flag_starts_without_encoders_and_says_so()
    {
        await using var gateway = await StartAsync("--Bm25Only", "true");
        var detail = await WaitForDetailAsync(gateway.Http, d => d.Contains("BM25 only", StringComparison.Ordinal), TimeSpan.FromMinutes(2));
        Assert.Contains("--Bm25Only", detail, StringComparison.Ordinal);
        using var doc = await SearchAsync(gateway.Http, "vaccines");
        Assert.Equal(["bm25"], doc.RootElement.GetProperty("channels").EnumerateArray().Select(c => c.GetString()!).ToArray());
    }

    [Fact]
    public async Task An_unavailable_dense_encoder_leaves_bm25_serving_and_says_why()
    {
        await using var gateway = await StartAsync("--DenseEncoder", "no-such-model");
        var detail = await WaitForDetailAsync(gateway.Http, d => d.Contains("BM25 only", StringComparison.Ordinal), TimeSpan.FromMinutes(2));
        Assert.Contains("no-such-model", detail, StringComparison.Ordinal);
        Assert.Contains("arctic-xs", detail, StringComparison.Ordinal); // lists the built-in models
    }

    private async Task<Gateway> StartAsync(params string[] extra)
    {
        var app = GatewayHost.Build([
            "--urls", "http://127.0.0.1:0", "--DataDirectory", _data, "--Corpus", Paths.SamplePassages, "--Index", "sample",
            "--Shards", "2", "--SiloPort", "0", "--GatewayPort", "0", .. extra,
        ]);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
#pragma warning disable CA2000 // the client is owned by the returned Gateway, which disposes it
        return new Gateway(app, new HttpClient { BaseAddress = new Uri(address.TrimEnd('/') + "/") });
#pragma warning restore CA2000
    }

    private static async Task<string> WaitForDetailAsync(HttpClient http, Func<string, bool> done, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        string detail = "";
        while (DateTime.UtcNow < deadline)
        {
            using var response = await http.GetAsync("health/ready");
            if (response.IsSuccessStatusCode)
            {
                using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
                detail = doc.RootElement.GetProperty("detail").GetString() ?? "";
                if (done(detail)) return detail;
            }
            await Task.Delay(250);
        }
        throw new TimeoutException($"readiness detail never matched; last: {detail}");
    }

    private static async Task<JsonDocument> SearchAsync(HttpClient http, string text)
    {
        using var response = await http.PostAsync("v1/indexes/sample/search",
            new StringContent(JsonSerializer.Serialize(new { text, k = 3 }), Encoding.UTF8, "application/json"));
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, body);
        return JsonDocument.Parse(body);
    }

    private sealed record Gateway(WebApplication App, HttpClient Http) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            Http.Dispose();
            await App.StopAsync();
            await App.DisposeAsync();
        }
    }
}
