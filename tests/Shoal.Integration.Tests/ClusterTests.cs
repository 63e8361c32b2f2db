using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;
using Shoal.Engine.Routing;
using Shoal.Evaluation;
using Shoal.Grains.Contracts;
using Shoal.Grains.Shards;
using Shoal.Hosting;

namespace Shoal.Integration.Tests;

/// <summary>A real two-silo Orleans cluster in this process, sharing one snapshot directory.</summary>
public sealed class TwoSiloCluster : IAsyncLifetime
{
    public string Data { get; } = Directory.CreateTempSubdirectory("shoal-cluster-").FullName;

    public InProcessTestCluster Cluster { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var builder = new InProcessTestClusterBuilder(2);
        string data = Data;
        builder.ConfigureSilo((_, silo) => silo.Services.AddSingleton<IShardSearchInterceptor>(new SlowShard("slow", 1, TimeSpan.FromSeconds(5))));
        builder.ConfigureSilo((_, silo) => silo.AddShoal(o =>
        {
            o.SnapshotDirectory = Path.Combine(data, "snapshots");
            o.AdditionalDataRoots = [Path.GetTempPath()]; // tests write sources to temporary directories
            o.CacheDirectory = Path.Combine(data, "cache");
            o.BuildDirectory = Path.Combine(data, "build");
        }));
        Cluster = builder.Build();
        await Cluster.DeployAsync();
    }

    public async Task DisposeAsync()
    {
        await Cluster.StopAllSilosAsync();
        await Cluster.DisposeAsync();
        TempDirectory.Delete(Data);
    }

    public Task<IndexInfo> IngestAsync(string index, string corpus, int shards) =>
        IngestAsync(index, new IngestRequest { CorpusPath = corpus, Shards = shards });

    public async Task<IndexInfo> IngestAsync(string index, IngestRequest request)
    {
        var grain = Cluster.Client.GetGrain<IIndexGrain>(index);
        await grain.StartIngestAsync(request);
        var deadline = DateTime.UtcNow.AddMinutes(3);
        while (true)
        {
            var status = await grain.GetIngestStatusAsync();
            if (status.State == IngestState.Failed) throw new InvalidOperationException(status.Error);
            if (status.State == IngestState.Succeeded) return (await grain.GetInfoAsync())!;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"build of {index} did not finish: {status.Phase}");
            await Task.Delay(100);
        }
    }
}

/// <summary>Makes one shard of one index slow; it ignores cancellation, like a stuck disk read.</summary>
internal sealed class SlowShard(string index, int shard, TimeSpan delay) : IShardSearchInterceptor
{
    public ValueTask BeforeSearchAsync(string i, int s, CancellationToken cancellationToken) =>
        i == index && s == shard ? new ValueTask(Task.Delay(delay, CancellationToken.None)) : ValueTask.CompletedTask;
}

public sealed class ClusterTests(TwoSiloCluster fixture) : IClassFixture<TwoSiloCluster>
{
    [Fact]
    public async Task A_slow_shard_yields_a_flagged_partial_answer_within_the_deadline()
    {
        await fixture.IngestAsync("slow", Paths.Shared("scifact", "corpus.jsonl"), 4);
        var coordinator = fixture.Cluster.Client.GetGrain<IQueryCoordinatorGrain>(0);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var r = await coordinator.SearchAsync(new SearchRequest { Index = "slow", Text = "vitamin D and bone density", K = 20, DeadlineMs = 400 });
        clock.Stop();

        Assert.Equal(SearchStatus.Ok, r.Status);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3), $"took {clock.Elapsed} with a 400 ms deadline");
        Assert.True(r.Coverage.Partial);
        Assert.Equal(4, r.Coverage.Shards);
        Assert.Equal(3, r.Coverage.Answered);
        Assert.Equal([1], r.Coverage.Missing);
        Assert.Equal(20, r.Hits.Length);
        Assert.All(r.Hits, h => Assert.NotEqual(1, ShardRouter.ShardOf(h.Id, 4)));

        // Without the deadline pressure the same query is complete.
        var full = await coordinator.SearchAsync(new SearchRequest { Index = "slow", Text = "vitamin D and bone density", K = 20, DeadlineMs = 30_000 });
        Assert.False(full.Coverage.Partial);
        Assert.Equal(4, full.Coverage.Answered);
    }

    [Fact]
    public async Task Four_shards_on_two_silos_answer_exactly_like_one_shard()
    {
        string corpus = Paths.Shared("scifact", "corpus.jsonl");
        var one = await fixture.IngestAsync("scifact-1", corpus, 1);
        var four = await fixture.IngestAsync("scifact-4", corpus, 4);
        Assert.Equal(5183, one.DocCount);
        Assert.Equal(one.DocCount, four.DocCount);

        var coordinator = fixture.Cluster.Client.GetGrain<IQueryCoordinatorGrain>(0);
        var topics = TopicReader.Load(Paths.Shared("scifact", "queries.test.jsonl"));
        int compared = 0;
        foreach (var topic in topics.Take(120))
        {
            var a = await coordinator.SearchAsync(new SearchRequest { Index = "scifact-1", Text = topic.Text, K = 20 });
            var b = await coordinator.SearchAsync(new SearchRequest { Index = "scifact-4", Text = topic.Text, K = 20 });
            Assert.Equal(SearchStatus.Ok, a.Status);
            Assert.Equal(new Coverage { Shards = 4, Answered = 4 }.Shards, b.Coverage.Shards);
            Assert.Equal(4, b.Coverage.Answered);
            Assert.False(b.Coverage.Partial);
            Assert.Equal(a.Hits.Select(h => (h.Id, h.Score)), b.Hits.Select(h => (h.Id, h.Score)));
            compared += a.Hits.Length;
        }
        Assert.True(compared > 1000, $"only {compared} hits compared");

        // The four shards really are separate activations holding a quarter of the corpus each.
        long total = 0;
        var silos = new HashSet<string>();
        for (int s = 0; s < 4; s++)
        {
            var shard = await fixture.Cluster.Client.GetGrain<IShardGrain>(ShardGrain.KeyOf("scifact-4", s)).GetInfoAsync();
            Assert.Equal(four.Version, shard.Version);
            Assert.InRange(shard.DocCount, 1000, 1600);
            total += shard.DocCount;
            silos.Add(shard.Silo);
        }
        Assert.Equal(5183, total);
        Assert.Equal(2, silos.Count); // shard placement spreads the four shards over both silos
    }

    [Fact]
    public async Task A_shard_restores_its_segment_after_deactivation()
    {
        var info = await fixture.IngestAsync("sample", Paths.SamplePassages, 2);
        var coordinator = fixture.Cluster.Client.GetGrain<IQueryCoordinatorGrain>(0);
        var before = await coordinator.SearchAsync(new SearchRequest { Index = "sample", Text = "how do grains survive silo failure", K = 5 });
        Assert.NotEmpty(before.Hits);

        foreach (int s in new[] { 0, 1 })
            await fixture.Cluster.DeactivateAsync(fixture.Cluster.Client.GetGrain<IShardGrain>(ShardGrain.KeyOf("sample", s)));

        var after = await coordinator.SearchAsync(new SearchRequest { Index = "sample", Text = "how do grains survive silo failure", K = 5 });
        Assert.Equal(before.Hits.Select(h => (h.Id, h.Score)), after.Hits.Select(h => (h.Id, h.Score)));
        Assert.Equal(info.Version, after.Version);
    }

    [Fact]
    public async Task Coordinator_rejects_bad_requests_and_unknown_indexes()
    {
        var coordinator = fixture.Cluster.Client.GetGrain<IQueryCoordinatorGrain>(0);
        var empty = await coordinator.SearchAsync(new SearchRequest { Index = "sample", Text = "  ", K = 10 });
        Assert.Equal(SearchStatus.Invalid, empty.Status);
        var badK = await coordinator.SearchAsync(new SearchRequest { Index = "sample", Text = "x", K = 0 });
        Assert.Equal(SearchStatus.Invalid, badK.Status);
        Assert.Contains("'k'", badK.Error);
        var missing = await coordinator.SearchAsync(new SearchRequest { Index = "no-such-index", Text = "x", K = 10 });
        Assert.Equal(SearchStatus.IndexNotFound, missing.Status);
    }

    [Fact]
    public async Task A_bad_corpus_fails_the_build_with_the_line_number_and_keeps_the_old_version()
    {
        var good = await fixture.IngestAsync("flaky", Paths.SamplePassages, 1);
        string bad = Path.Combine(fixture.Data, "bad.jsonl");
        await File.WriteAllLinesAsync(bad, ["{\"_id\":\"a\",\"text\":\"fine\"}", "{\"_id\":\"b\",\"text\":", "{\"_id\":\"c\",\"text\":\"fine\"}"]);
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => fixture.IngestAsync("flaky", bad, 1));
        Assert.Contains("line 2", e.Message);

        var info = await fixture.Cluster.Client.GetGrain<IIndexGrain>("flaky").GetInfoAsync();
        Assert.Equal(good.Version, info!.Version);
        var r = await fixture.Cluster.Client.GetGrain<IQueryCoordinatorGrain>(0).SearchAsync(new SearchRequest { Index = "flaky", Text = "coffee beans", K = 3 });
        Assert.Equal("s17", r.Hits[0].Id);
    }
}
