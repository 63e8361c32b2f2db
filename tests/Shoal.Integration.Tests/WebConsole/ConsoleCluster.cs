using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans;
using Orleans.Hosting;
using Shoal.Gateway;
using Shoal.Grains.Hosting;
using Shoal.Grains.Shards;
using Shoal.Hosting;
using Shoal.Integration.Tests.Encoders;

namespace Shoal.Integration.Tests.WebConsole;

/// <summary>
/// A two-silo cluster behind a real HTTP gateway, for the operator-facing surface (metrics,
/// traces, OpenAPI, the web console): the gateway process co-hosts silo A (localhost clustering,
/// the primary) and silo B joins it, holding the encoder role (the tiny dense fixture model).
/// Indexes: <c>scifact</c> (BEIR SciFact, 4 shards × 2 replicas spread over both silos) and
/// <c>tides</c> (the 40 sample passages, bm25 plus a dense channel encoded on silo B). Silo B
/// also misbehaves for two indexes that tests create when they need them: shard searches of
/// <see cref="SlowIndex"/> on silo B take a second (a coordinator hedges them to the replica on
/// silo A) and those of <see cref="FailingIndex"/> on silo B fail (answers are partial). Silo B
/// also hosts <see cref="WaitingEncoder"/>, the same model in a pool whose batches wait for
/// companions, so that queued requests can be seen in the queue-depth gauge.
/// </summary>
public sealed class ConsoleCluster : IAsyncLifetime
{
    private readonly string _data = Directory.CreateTempSubdirectory("shoal-console-").FullName;
    private WebApplication? _gateway;
    private IHost? _siloB;

    public HttpClient Http { get; private set; } = null!;

    public Uri BaseAddress { get; private set; } = null!;

    public IServiceProvider Services => _gateway!.Services;

    public string SciFactCorpus { get; } = Paths.Shared("scifact", "corpus.jsonl");

    /// <summary>Index whose shard searches on silo B take a second.</summary>
    public const string SlowIndex = "slowreplica";

    /// <summary>Index whose shard searches on silo B fail.</summary>
    public const string FailingIndex = "failingshard";

    /// <summary>
    /// Encoder on silo B (the tiny dense model) whose batches wait <see cref="WaitingEncoderBatchWait"/>
    /// after their first request, up to 64 requests, with no early dispatch: requests sent together
    /// stay queued until then.
    /// </summary>
    public const string WaitingEncoder = "dense-waiting";

    /// <summary>How long the first request to <see cref="WaitingEncoder"/> waits for companions.</summary>
    public static readonly TimeSpan WaitingEncoderBatchWait = TimeSpan.FromSeconds(8);

    /// <summary>Silo B's grain factory: a stateless-worker coordinator called from here runs on silo B.</summary>
    public IGrainFactory SiloBGrains => _siloB!.Services.GetRequiredService<IGrainFactory>();

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, Lazy<Task>> _once = new(StringComparer.Ordinal);

    /// <summary>Runs <paramref name="work"/> once per fixture (several tests may need the same index).</summary>
    public Task OnceAsync(string key, Func<Task> work) => _once.GetOrAdd(key, _ => new Lazy<Task>(work)).Value;

    /// <summary>Builds an index of the 40 sample passages once per fixture.</summary>
    public Task EnsureSampleIndexAsync(string index, int shards, int replicas) =>
        OnceAsync("ingest " + index, () => IngestAsync(index,
            $$"""{"corpus": {{JsonSerializer.Serialize(Paths.SamplePassages)}}, "shards": {{shards}}, "replicas": {{replicas}}}"""));

    public async Task InitializeAsync()
    {
        int siloPortA = EmbeddedCluster.FreeTcpPort(), gatewayPortA = EmbeddedCluster.FreeTcpPort();
        string clusterId = "console-" + Guid.NewGuid().ToString("N")[..8];
        _gateway = GatewayHost.Build([
            "--urls", "http://127.0.0.1:0",
            "--DataDirectory", _data,
            "--Index", "",
            "--SiloPort", siloPortA.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--GatewayPort", gatewayPortA.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--ClusterId", clusterId,
            "--Telemetry:Traces", "true",
            "--Logging:LogLevel:Default", "Warning",
        ]);
        await _gateway.StartAsync();
        var address = _gateway.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        BaseAddress = new Uri(address.EndsWith('/') ? address : address + "/");
        Http = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromMinutes(2) };

        // Silo B joins A's cluster and hosts the dense encoder.
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Shoal:Encoders:dense:Kind"] = "dense",
            ["Shoal:Encoders:dense:ModelPath"] = EncoderFixtures.Model("dense-tiny.onnx"),
            ["Shoal:Encoders:dense:VocabPath"] = EncoderFixtures.VocabTxt,
            [$"Shoal:Encoders:{WaitingEncoder}:Kind"] = "dense",
            [$"Shoal:Encoders:{WaitingEncoder}:ModelPath"] = EncoderFixtures.Model("dense-tiny.onnx"),
            [$"Shoal:Encoders:{WaitingEncoder}:VocabPath"] = EncoderFixtures.VocabTxt,
            [$"Shoal:Encoders:{WaitingEncoder}:MaxBatchSize"] = "64",
            [$"Shoal:Encoders:{WaitingEncoder}:MaxBatchWait"] = WaitingEncoderBatchWait.ToString("c", System.Globalization.CultureInfo.InvariantCulture),
            [$"Shoal:Encoders:{WaitingEncoder}:EarlyDispatch"] = "false",
            [$"Shoal:Encoders:{WaitingEncoder}:Workers"] = "1",
        });
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        string data = _data;
        builder.UseOrleans(silo =>
        {
            silo.Services.AddSingleton<IShardSearchInterceptor>(new MisbehavingSilo());
            silo.UseLocalhostClustering(EmbeddedCluster.FreeTcpPort(), EmbeddedCluster.FreeTcpPort(), new IPEndPoint(IPAddress.Loopback, siloPortA), serviceId: "shoal", clusterId: clusterId);
            silo.AddShoal(o =>
            {
                o.SnapshotDirectory = Path.Combine(data, "snapshots");
                o.CacheDirectory = Path.Combine(data, "cache-b");
                o.BuildDirectory = Path.Combine(data, "build-b");
            });
            silo.AddShoalJobs();
        });
        _siloB = builder.Build();
        await _siloB.StartAsync();
        await WaitForSilosAsync(2);

        await IngestAsync("scifact", $$"""{"corpus": {{JsonSerializer.Serialize(SciFactCorpus)}}, "shards": 4, "replicas": 2}""");
        await IngestAsync("tides", $$"""{"corpus": {{JsonSerializer.Serialize(Paths.SamplePassages)}}, "shards": 2, "denseEncoder": "dense"}""");
    }

    private async Task WaitForSilosAsync(int count)
    {
        var deadline = DateTime.UtcNow.AddMinutes(1);
        while (true)
        {
            var status = await Http.GetFromJsonAsync<JsonElement>("v1/cluster");
            int active = status.GetProperty("silos").EnumerateArray().Count(s => s.GetProperty("status").GetString() == "Active");
            if (active >= count) return;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"{active} of {count} silos active");
            await Task.Delay(200);
        }
    }

    /// <summary>Builds an index through the HTTP API and waits until it serves.</summary>
    public async Task IngestAsync(string index, string body)
    {
        using var start = await Http.PostAsync($"v1/indexes/{index}/ingest", new StringContent(body, Encoding.UTF8, "application/json"));
        if (start.StatusCode != HttpStatusCode.Accepted) throw new InvalidOperationException($"ingest of {index}: {start.StatusCode} {await start.Content.ReadAsStringAsync()}");
        var deadline = DateTime.UtcNow.AddMinutes(3);
        while (true)
        {
            var status = await Http.GetFromJsonAsync<JsonElement>($"v1/indexes/{index}/ingest");
            string state = status.GetProperty("state").GetString()!;
            if (state == "succeeded") return;
            if (state == "failed") throw new InvalidOperationException($"ingest of {index} failed: {status.GetProperty("error")}");
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"ingest of {index}: {status}");
            await Task.Delay(200);
        }
    }

    public Task<HttpResponseMessage> PostJsonAsync(string path, string json) =>
        Http.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));

    public async Task DisposeAsync()
    {
        Http?.Dispose();
        if (_siloB is not null)
        {
            try { await _siloB.StopAsync(TimeSpan.FromSeconds(20)); }
            finally { _siloB.Dispose(); }
        }
        if (_gateway is not null)
        {
            await _gateway.StopAsync();
            await _gateway.DisposeAsync();
        }
        try { TempDirectory.Delete(_data); }
        catch (IOException) { }
    }
}

/// <summary>Silo B's shard searches: slow for <see cref="ConsoleCluster.SlowIndex"/>, failing for <see cref="ConsoleCluster.FailingIndex"/>.</summary>
internal sealed class MisbehavingSilo : IShardSearchInterceptor
{
    public async ValueTask BeforeSearchAsync(string index, int shard, CancellationToken cancellationToken)
    {
        if (index == ConsoleCluster.SlowIndex) await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
        else if (index == ConsoleCluster.FailingIndex) throw new IOException($"shard {shard} of '{index}' fails on silo B (test)");
    }
}

[CollectionDefinition(Name)]
public sealed class ConsoleCollection : ICollectionFixture<ConsoleCluster>
{
    public const string Name = "console cluster";
}
