using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;
using Shoal.Grains.Contracts;
using Shoal.Grains.Shards;
using Shoal.Hosting;

namespace Shoal.Integration.Tests;

/// <summary>
/// Two silos, an index with replicas 2 (one replica of every shard on each silo), and every shard
/// search on the second silo failing at once, as a silo that was killed and not yet declared dead
/// does. Found by bench/chaos.sh: a hedge went back to the replica that had just failed, so about
/// half the queries came back partial until the failure detector acted.
/// </summary>
public sealed class HedgingTests : IAsyncLifetime
{
    private readonly string _data = Directory.CreateTempSubdirectory("shoal-hedge-").FullName;
    private InProcessTestCluster _cluster = null!;

    public async Task InitializeAsync()
    {
        var builder = new InProcessTestClusterBuilder(2);
        string data = _data;
        string? healthy = null; // the first silo configured answers; the other fails every search
        builder.ConfigureSilo((options, silo) =>
        {
            healthy ??= options.SiloName;
            if (options.SiloName != healthy) silo.Services.AddSingleton<IShardSearchInterceptor>(new FailingSilo("hedged"));
            silo.AddShoal(o =>
            {
                o.SnapshotDirectory = Path.Combine(data, "snapshots");
                o.CacheDirectory = Path.Combine(data, "cache");
                o.BuildDirectory = Path.Combine(data, "build");
                o.HedgeDelay = TimeSpan.FromSeconds(2); // a failed replica must be hedged at once, not after the delay
            });
        });
        _cluster = builder.Build();
        await _cluster.DeployAsync();
    }

    public async Task DisposeAsync()
    {
        await _cluster.StopAllSilosAsync();
        await _cluster.DisposeAsync();
        TempDirectory.Delete(_data);
    }

    [Fact]
    public async Task A_replica_that_fails_is_hedged_to_the_other_replica_so_no_answer_is_partial()
    {
        var index = _cluster.Client.GetGrain<IIndexGrain>("hedged");
        await index.StartIngestAsync(new IngestRequest { CorpusPath = Paths.SamplePassages, Shards = 3, Replicas = 2 });
        while ((await index.GetIngestStatusAsync()) is { State: not IngestState.Succeeded } st)
        {
            Assert.NotEqual(IngestState.Failed, st.State);
            await Task.Delay(100);
        }
        var coordinator = _cluster.Client.GetGrain<IQueryCoordinatorGrain>(0);
        string[] texts = ["wind turbines and electricity", "tides and the moon", "how does BM25 normalise length", "coffee", "black holes"];
        for (int i = 0; i < 60; i++)
        {
            var r = await coordinator.SearchAsync(new SearchRequest { Index = "hedged", Text = texts[i % texts.Length], K = 5, DeadlineMs = 10_000 });
            Assert.Equal(SearchStatus.Ok, r.Status);
            Assert.False(r.Coverage.Partial, $"query {i}: shards {string.Join(",", r.Coverage.Missing)} missing");
        }
    }

    /// <summary>Every search of the index on this silo fails, as if the silo were gone.</summary>
    private sealed class FailingSilo(string index) : IShardSearchInterceptor
    {
        public ValueTask BeforeSearchAsync(string name, int shard, CancellationToken cancellationToken) =>
            name == index ? ValueTask.FromException(new IOException($"shard {shard} of '{name}' is on a failing silo")) : ValueTask.CompletedTask;
    }
}
