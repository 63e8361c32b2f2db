using System.Diagnostics;
using Orleans.TestingHost;
using Shoal.Engine.Snapshots;
using Shoal.Grains.Contracts;
using Shoal.Grains.Jobs;
using Xunit.Abstractions;

namespace Shoal.Integration.Tests.Jobs;

public sealed class ThreeSiloJobCluster() : JobCluster(3);

/// <summary>The acceptance test of indexing jobs: the silo running a job dies mid-way; the job resumes elsewhere and indexes every document exactly once.</summary>
public sealed class JobFailoverTests(ThreeSiloJobCluster fixture, ITestOutputHelper output) : IClassFixture<ThreeSiloJobCluster>
{
    [Fact]
    public async Task A_job_whose_silo_is_killed_mid_way_resumes_on_another_silo_and_indexes_every_document_exactly_once()
    {
        var cluster = fixture.Cluster;
        var corpus = GeneratedCorpus.Write(fixture.Data, documents: 120_000);
        const int Shards = 3;
        var request = new IndexJobRequest { Index = "generated", Source = corpus.Path, Shards = Shards, ChunkLines = 2000 };
        var clock = Stopwatch.StartNew();
        var submitted = await cluster.Client.GetGrain<IIndexJobGrain>("failover-1").SubmitAsync(request);
        Assert.Equal(IndexJobState.Running, submitted.State);

        // After at least two checkpoints, kill the silo that runs the job.
        var mid = await JobWaits.PollAsync(cluster, "failover-1", s => s.Chunks >= 2 || s.IsFinished, TimeSpan.FromMinutes(2), TimeSpan.FromMilliseconds(5));
        Assert.Equal("reading", mid.Phase);
        long expectedChunks = (corpus.Lines + 1999) / 2000;
        Assert.True(mid.Chunks < expectedChunks - 2, $"the job was nearly done ({mid.Chunks} of {expectedChunks} chunks) before the kill");
        var victim = cluster.Silos.FirstOrDefault(h => h.SiloAddress.ToString() == mid.Silo)
            ?? throw new InvalidOperationException($"no silo is '{mid.Silo}' among {string.Join(", ", cluster.Silos.Select(h => h.SiloAddress))}");
        output.WriteLine($"killing {victim.SiloAddress} at chunk {mid.Chunks}, line {mid.LinesRead}, after {clock.Elapsed.TotalSeconds:F1} s");
        await cluster.KillSiloAsync(victim);

        var done = await JobWaits.FinishedAsync(cluster, "failover-1", TimeSpan.FromMinutes(4));
        output.WriteLine($"finished after {clock.Elapsed.TotalSeconds:F1} s: {done.State}, attempts {done.Attempts}, {done.DocsPerSecond:F0} docs/s, silo {done.Silo}, error {done.Error}");
        Assert.Equal(IndexJobState.Succeeded, done.State);
        Assert.True(done.Attempts >= 2, $"attempts {done.Attempts}");
        Assert.NotEqual(victim.SiloAddress.ToString(), done.Silo);

        // Every line was consumed once: the counters, made of checkpointed chunks only, are exact.
        Assert.Equal(corpus.Lines, done.LinesRead);
        Assert.Equal(corpus.WellFormed, done.DocumentsRead);
        Assert.Equal(expectedChunks, done.Chunks);
        Assert.Equal(corpus.MalformedLines.Count, done.Malformed);
        Assert.Equal(corpus.MalformedLines, done.MalformedLines.Select(m => m.Line));
        Assert.All(done.MalformedLines, m => Assert.Contains("invalid JSON", m.Reason));

        // The published index holds every distinct document once.
        var info = await cluster.Client.GetGrain<IIndexGrain>("generated").GetInfoAsync();
        Assert.NotNull(info);
        Assert.Equal(done.Version, info!.Version);
        Assert.Equal(corpus.FinalUnique.Count, info.DocCount);
        Assert.Equal(corpus.FinalUnique.Count, done.DocumentsIndexed);

        var coordinator = cluster.Client.GetGrain<IQueryCoordinatorGrain>(0);
        var rng = new Random(7);
        var sample = corpus.FinalUnique.OrderBy(_ => rng.Next()).Take(60).ToList();
        foreach (var (id, unique) in sample)
        {
            var r = await coordinator.SearchAsync(new SearchRequest { Index = "generated", Text = unique, K = 5 });
            Assert.Equal(SearchStatus.Ok, r.Status);
            Assert.False(r.Coverage.Partial);
            var hit = Assert.Single(r.Hits);
            Assert.Equal(id, hit.Id);
            Assert.Equal($"Title {id}", hit.Title);
        }
        // A re-issued id serves its last text only.
        var reissued = corpus.FinalUnique.First(kv => kv.Value.StartsWith("zqr", StringComparison.Ordinal));
        var old = await coordinator.SearchAsync(new SearchRequest { Index = "generated", Text = "zq" + reissued.Key[1..], K = 5 });
        Assert.Empty(old.Hits);

        // Scores equal a reference index built from the same documents by the in-memory ingest
        // (same collection-global BM25 statistics).
        var reference = cluster.Client.GetGrain<IIndexGrain>("generated-ref");
        await reference.StartIngestAsync(new IngestRequest { CorpusPath = corpus.CleanPath, Shards = 2 });
        while ((await reference.GetIngestStatusAsync()) is { State: not IngestState.Succeeded } st)
        {
            Assert.NotEqual(IngestState.Failed, st.State);
            await Task.Delay(100);
        }
        foreach (var q in new[] { "river stone market", "glacier falcon thunder willow", "copper lantern", "zq17 harbor" })
        {
            var a = await coordinator.SearchAsync(new SearchRequest { Index = "generated", Text = q, K = 20 });
            var b = await coordinator.SearchAsync(new SearchRequest { Index = "generated-ref", Text = q, K = 20 });
            Assert.Equal(b.Hits.Select(h => (h.Id, h.Score)), a.Hits.Select(h => (h.Id, h.Score)));
        }

        // The spills are gone; the job's state is durable JSON in the store.
        var store = new LocalDirectorySnapshotStore(fixture.Snapshots);
        Assert.Empty(await store.ListAsync("jobs/spill/failover-1/"));
        Assert.Contains(await store.ListAsync("jobs/state/job/"), k => k.EndsWith("failover-1.json", StringComparison.Ordinal));
        Assert.DoesNotContain("failover-1", await cluster.Client.GetGrain<IIndexJobCatalogGrain>(0).ActiveAsync());
    }
}
