using Orleans.TestingHost;
using Shoal.Evaluation;
using Shoal.Grains.Contracts;
using Shoal.Grains.Shards;
using Shoal.Hosting;

namespace Shoal.Integration.Tests;

public sealed class ReplicaFailoverTests : IAsyncLifetime
{
    private readonly string _data = Directory.CreateTempSubdirectory("shoal-replicas-").FullName;
    private InProcessTestCluster _cluster = null!;

    public async Task InitializeAsync()
    {
        var builder = new InProcessTestClusterBuilder(3);
        string data = _data;
        builder.ConfigureSilo((_, silo) => silo.AddShoal(o =>
        {
            o.SnapshotDirectory = Path.Combine(data, "snapshots");
            o.AdditionalDataRoots = [Path.GetTempPath()]; // tests write sources to temporary directories
            o.CacheDirectory = Path.Combine(data, "cache");
            o.BuildDirectory = Path.Combine(data, "build");
            o.DefaultDeadline = TimeSpan.FromSeconds(3);
            o.HedgeDelay = TimeSpan.FromMilliseconds(50);
        }));
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
    public async Task Queries_keep_flowing_while_a_silo_dies_and_coverage_returns_to_full()
    {
        var index = _cluster.Client.GetGrain<IIndexGrain>("scifact");
        await index.StartIngestAsync(new IngestRequest { CorpusPath = Paths.Shared("scifact", "corpus.jsonl"), Shards = 3, Replicas = 2 });
        while ((await index.GetIngestStatusAsync()) is { State: not IngestState.Succeeded } st)
        {
            Assert.NotEqual(IngestState.Failed, st.State);
            await Task.Delay(100);
        }

        // Replicas of a shard live on different silos.
        for (int s = 0; s < 3; s++)
        {
            var r0 = await _cluster.Client.GetGrain<IShardGrain>(ShardGrain.KeyOf("scifact", s, 0)).GetInfoAsync();
            var r1 = await _cluster.Client.GetGrain<IShardGrain>(ShardGrain.KeyOf("scifact", s, 1)).GetInfoAsync();
            Assert.NotEqual(r0.Silo, r1.Silo);
        }

        var coordinator = _cluster.Client.GetGrain<IQueryCoordinatorGrain>(0);
        var topics = TopicReader.Load(Paths.Shared("scifact", "queries.test.jsonl")).Take(40).ToList();
        var expected = new Dictionary<string, (string, float)[]>();
        foreach (var t in topics)
        {
            var r = await coordinator.SearchAsync(new SearchRequest { Index = "scifact", Text = t.Text, K = 10 });
            Assert.False(r.Coverage.Partial);
            expected[t.Id] = r.Hits.Select(h => (h.Id, h.Score)).ToArray();
        }

        // A continuous stream of queries; one silo (not the one hosting the client's gateway) is killed mid-way.
        int complete = 0, partial = 0;
        var victim = _cluster.Silos[2];
        var killAt = DateTime.UtcNow.AddSeconds(1);
        var stopAt = DateTime.UtcNow.AddSeconds(8);
        bool killed = false;
        for (int i = 0; DateTime.UtcNow < stopAt; i++)
        {
            if (!killed && DateTime.UtcNow >= killAt)
            {
                await _cluster.KillSiloAsync(victim);
                killed = true;
            }
            var t = topics[i % topics.Count];
            var r = await coordinator.SearchAsync(new SearchRequest { Index = "scifact", Text = t.Text, K = 10 });
            Assert.Equal(SearchStatus.Ok, r.Status);
            if (r.Coverage.Partial)
            {
                partial++;
                Assert.True(r.Coverage.Answered < r.Coverage.Shards);
                Assert.NotEmpty(r.Coverage.Missing);
            }
            else
            {
                complete++;
                Assert.Equal(expected[t.Id], r.Hits.Select(h => (h.Id, h.Score)).ToArray());
            }
        }
        Assert.True(killed);
        Assert.True(complete > 0, $"complete {complete}, partial {partial}");

        // After the dead silo's activations move, every query is complete again.
        var deadline = DateTime.UtcNow.AddSeconds(60);
        int fullInARow = 0;
        while (fullInARow < topics.Count)
        {
            Assert.True(DateTime.UtcNow < deadline, "coverage did not return to full");
            var t = topics[fullInARow];
            var r = await coordinator.SearchAsync(new SearchRequest { Index = "scifact", Text = t.Text, K = 10 });
            if (r.Coverage.Partial) { fullInARow = 0; await Task.Delay(200); continue; }
            Assert.Equal(expected[t.Id], r.Hits.Select(h => (h.Id, h.Score)).ToArray());
            fullInARow++;
        }
    }

    [Fact]
    public async Task An_index_never_searched_before_answers_right_after_the_silo_of_its_grain_dies()
    {
        // Indexes until one's grain lands on a silo other than the primary (the primary keeps the
        // test cluster's membership, so it is not the one to kill). No search runs before the kill,
        // so no silo has seen a description of the index.
        string corpus = Paths.SamplePassages;
        string? name = null;
        InProcessSiloHandle? host = null;
        for (int i = 0; i < 8 && host is null; i++)
        {
            string candidate = $"unseen{i}";
            var grain = _cluster.Client.GetGrain<IIndexGrain>(candidate);
            await grain.StartIngestAsync(new IngestRequest { CorpusPath = corpus, Shards = 2, Replicas = 2 });
            while ((await grain.GetIngestStatusAsync()) is { State: not IngestState.Succeeded } st)
            {
                Assert.NotEqual(IngestState.Failed, st.State);
                await Task.Delay(100);
            }
            var info = await grain.GetInfoAsync();
            var silo = _cluster.Silos.Single(s => s.SiloAddress.ToString() == info!.Silo);
            if (silo != _cluster.Silos[0]) (name, host) = (candidate, silo);
        }
        Assert.NotNull(host);
        await _cluster.KillSiloAsync(host);

        // No silo has a description to fall back on. In this in-process cluster the death is known
        // at once, so the index grain reactivates elsewhere; between real processes calls fail until
        // the failure detector acts, and the coordinator reads the newest published version from the
        // snapshot store instead (.ci/k8s.sh kills a silo that way). Either way every search answers.
        var coordinator = _cluster.Client.GetGrain<IQueryCoordinatorGrain>(0);
        for (int i = 0; i < 5; i++)
        {
            var r = await coordinator.SearchAsync(new SearchRequest { Index = name!, Text = "how vaccines train the immune system", K = 5 });
            Assert.True(r.Status == SearchStatus.Ok, $"search {i}: {r.Status} {r.Error}");
            Assert.Equal(1, r.Version);
            Assert.NotEmpty(r.Hits);
        }
    }
}
