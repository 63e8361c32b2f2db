using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Shoal.Gateway;
using Shoal.Observability;

namespace Shoal.Integration.Tests.WebConsole;

/// <summary>OTLP export by configuration: the endpoints each signal goes to, and a real export to a collector.</summary>
public sealed class OtlpExportTests
{
    private static OtlpExport? From(params (string Key, string Value)[] settings) =>
        OtlpExport.From(new ConfigurationBuilder().AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>(s.Key, s.Value))).Build());

    [Fact]
    public void Otlp_http_gets_a_path_per_signal_and_grpc_keeps_the_endpoint()
    {
        Assert.Null(From());
        var http = From(("Otlp:Endpoint", "http://collector:4318"), ("Otlp:Protocol", "http"))!;
        Assert.Equal("http://collector:4318/v1/traces", http.EndpointOf("traces")!.AbsoluteUri);
        Assert.Equal("http://collector:4318/v1/metrics", http.EndpointOf("metrics")!.AbsoluteUri);
        var behindPath = From(("Otlp:Endpoint", "https://otel.example/ingest"), ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"))!;
        Assert.Equal("https://otel.example/ingest/v1/metrics", behindPath.EndpointOf("metrics")!.AbsoluteUri);
        var grpc = From(("Otlp:Endpoint", "http://collector:4317"))!;
        Assert.Equal("http://collector:4317/", grpc.EndpointOf("traces")!.AbsoluteUri);
        Assert.Equal("http://collector:4317/", grpc.EndpointOf("metrics")!.AbsoluteUri);
        // Only the standard variable: the SDK reads it and adds the signal paths itself.
        Assert.Null(From(("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"))!.EndpointOf("traces"));
    }

    [Theory]
    [InlineData("Otlp:Endpoint", "collector:4317", "Otlp:Endpoint must be an absolute http(s) URI")]
    [InlineData("Otlp:Protocol", "udp", "Otlp:Protocol must be grpc or http")]
    [InlineData("Otlp:ExportIntervalMilliseconds", "0", "Otlp:ExportIntervalMilliseconds must be a positive")]
    public void Bad_otlp_settings_are_refused_with_the_setting_named(string key, string value, string message)
    {
        var settings = new List<(string, string)> { ("Otlp:Endpoint", "http://collector:4317") };
        settings.RemoveAll(s => s.Item1 == key);
        settings.Add((key, value));
        var e = Assert.Throws<ArgumentException>(() => From([.. settings]));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
        Assert.Contains(value, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_gateway_exports_a_searchs_spans_to_v1_traces_and_its_metrics_to_v1_metrics_over_otlp_http()
    {
        await using var receiver = await OtlpReceiver.StartAsync();
        string data = Directory.CreateTempSubdirectory("shoal-otlp-").FullName;
        var app = GatewayHost.Build([
            "--urls", "http://127.0.0.1:0",
            "--DataDirectory", data,
            "--Corpus", Paths.SamplePassages,
            "--Index", "otlpsample",
            "--Shards", "2",
            "--SiloPort", "0",
            "--GatewayPort", "0",
            "--Otlp:Endpoint", receiver.Endpoint.AbsoluteUri,
            "--Otlp:Protocol", "http",
            "--Otlp:ExportIntervalMilliseconds", "300",
            "--Telemetry:ServiceName", "otlp-test-gateway",
            "--Logging:LogLevel:Default", "Warning",
        ]);
        try
        {
            await app.StartAsync();
            string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            using var http = new HttpClient { BaseAddress = new Uri(address.TrimEnd('/') + "/") };
            var deadline = DateTime.UtcNow.AddMinutes(2);
            while (true)
            {
                using var ready = await http.GetAsync("health/ready");
                if (ready.IsSuccessStatusCode) break;
                Assert.True(DateTime.UtcNow < deadline, "gateway not ready: " + await ready.Content.ReadAsStringAsync());
                await Task.Delay(100);
            }
            using var search = await http.PostAsync("v1/indexes/otlpsample/search",
                new StringContent("""{"text": "wind turbines and electricity", "k": 3}""", Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.OK, search.StatusCode);

            // The search's coordinator span and the query histogram arrive at their signal's path.
            Assert.True(await receiver.WaitForAsync("/v1/traces", "shoal.search", TimeSpan.FromSeconds(30)), "no shoal.search span at /v1/traces; received: " + receiver.Describe());
            Assert.True(await receiver.WaitForAsync("/v1/metrics", "shoal.gateway.search.duration", TimeSpan.FromSeconds(30)), "no gateway search histogram at /v1/metrics; received: " + receiver.Describe());
            Assert.True(await receiver.WaitForAsync("/v1/metrics", "shoal.query.duration", TimeSpan.FromSeconds(30)), "no coordinator histogram at /v1/metrics; received: " + receiver.Describe());
            Assert.All(receiver.Posts, p => Assert.Equal("application/x-protobuf", p.ContentType));
            Assert.All(receiver.Posts, p => Assert.Contains(p.Path, new[] { "/v1/traces", "/v1/metrics" }));
            Assert.Contains(receiver.BodiesAt("/v1/traces"), b => b.AsSpan().IndexOf("otlp-test-gateway"u8) >= 0);
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
            TempDirectory.Delete(data);
        }
    }
}
