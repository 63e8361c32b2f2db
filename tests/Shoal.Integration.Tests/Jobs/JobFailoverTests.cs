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

        // Scores equal a reference index built from the same documents by an ingest (one chunk, no failover; the engine tests hold spill builds equal to the in-memory build)
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

/// <summary>The acceptance test with vector sources: the job's silo dies while it reads sparse vectors; the job resumes elsewhere and reads every record once.</summary>
public sealed class VectorJobFailoverTests(ThreeSiloJobCluster fixture, ITestOutputHelper output) : IClassFixture<ThreeSiloJobCluster>
{
    [Fact]
    public async Task A_job_with_vector_sources_whose_silo_is_killed_while_reading_vectors_resumes_and_equals_the_in_memory_ingest()
    {
        var cluster = fixture.Cluster;
        string dir = Directory.CreateDirectory(Path.Combine(fixture.Data, "vector-failover")).FullName;
        var sources = VectorSources.Write(dir, textDocs: 2000, sparseDocs: 12_000, denseDocs: 6000, dims: 24, shoalvec: true,
            denseFrom: 1000, sparseMalformedEvery: 997, denseMalformedEvery: 1499);
        const int ChunkLines = 1000;
        var request = new IndexJobRequest
        {
            Index = "vec-failover", Source = sources.Text, SparseVectors = sources.Sparse, SparseVocabulary = Paths.Shared("tokenizers", "bert-base-uncased-vocab.txt"),
            DenseVectors = sources.Dense, Shards = 3, ChunkLines = ChunkLines,
        };
        var clock = Stopwatch.StartNew();
        await cluster.Client.GetGrain<IIndexJobGrain>("vec-failover-1").SubmitAsync(request);

        // After two checkpoints of the sparse source, kill the silo that runs the job.
        var mid = await JobWaits.PollAsync(cluster, "vec-failover-1", s => s.IsFinished || s.Sources.Length == 3 && s.Sources[1].Chunks >= 2, TimeSpan.FromMinutes(2), TimeSpan.FromMilliseconds(5));
        Assert.Equal("reading", mid.Phase);
        Assert.True(mid.Sources[0].Done);
        Assert.False(mid.Sources[1].Done, "the sparse source was read before the kill");
        Assert.True(mid.Sources[1].Chunks < sources.SparseLines / ChunkLines - 2, $"the sparse source was nearly done ({mid.Sources[1].Chunks} chunks) before the kill");
        var victim = cluster.Silos.FirstOrDefault(h => h.SiloAddress.ToString() == mid.Silo)
            ?? throw new InvalidOperationException($"no silo is '{mid.Silo}'");
        output.WriteLine($"killing {victim.SiloAddress} at sparse chunk {mid.Sources[1].Chunks}, line {mid.Sources[1].LinesRead}, after {clock.Elapsed.TotalSeconds:F1} s");
        await cluster.KillSiloAsync(victim);

        var done = await JobWaits.FinishedAsync(cluster, "vec-failover-1", TimeSpan.FromMinutes(4));
        output.WriteLine($"finished after {clock.Elapsed.TotalSeconds:F1} s: {done.State}, attempts {done.Attempts}, silo {done.Silo}, error {done.Error}");
        Assert.True(done.State == IndexJobState.Succeeded, done.Error);
        Assert.True(done.Attempts >= 2, $"attempts {done.Attempts}");
        Assert.NotEqual(victim.SiloAddress.ToString(), done.Silo);

        // Every line and record was consumed once: the checkpointed counters are exact per source.
        Assert.Equal([sources.TextLines, sources.SparseLines, sources.DenseLines], done.Sources.Select(s => s.LinesRead));
        Assert.Equal([sources.TextLines, sources.SparseWellFormed, sources.DenseWellFormed], done.Sources.Select(s => s.DocumentsRead));
        // Line sources end with the chunk that finds no more lines; a SHOALVEC file knows its record count.
        Assert.Equal([sources.TextLines / ChunkLines + 1, sources.SparseLines / ChunkLines + 1, (sources.DenseLines + ChunkLines - 1) / ChunkLines], done.Sources.Select(s => s.Chunks));
        Assert.Equal(["beir", "anserini", "shoalvec"], done.Sources.Select(s => s.Format));
        Assert.Equal(sources.SparseMalformed.Select(l => ("sparse", l)).Concat(sources.DenseMalformed.Select(l => ("dense", l))),
            done.MalformedLines.Select(m => (m.Source, m.Line)));
        Assert.All(done.MalformedLines.Where(m => m.Source == "sparse"), m => Assert.Contains("is not in the vocabulary", m.Reason));
        Assert.All(done.MalformedLines.Where(m => m.Source == "dense"), m => Assert.Contains("component 1 is NaN or infinite", m.Reason));
        Assert.Equal(sources.Ids.Count, done.DocumentsIndexed);

        // The same search results (ids, scores, stored fields) as an ingest of the clean files.
        var reference = await JobWaits.IngestAsync(cluster, "vec-failover-ref", new IngestRequest
        {
            CorpusPath = sources.Text, SparseVectorsPath = sources.SparseClean, DenseVectorsPath = sources.DenseClean, Shards = 3,
        });
        var info = (await cluster.Client.GetGrain<IIndexGrain>("vec-failover").GetInfoAsync())!;
        Assert.Equal(reference.DocCount, info.DocCount);
        Assert.Equal(reference.Channels, info.Channels);
        var vocabulary = Shoal.Engine.Sparse.SparseVocabulary.Load(Paths.Shared("tokenizers", "bert-base-uncased-vocab.txt"));
        var sparseQueries = Enumerable.Range(0, 4).Select(q =>
        {
            var v = Shoal.Engine.Sparse.SparseVector.Create(Enumerable.Range(0, 3).Select(i => (vocabulary.TryGetId(VectorSources.Token(q * 31 + i * 5), out int t) ? t : throw new InvalidOperationException(), 0.5f + i)));
            return (v.Terms, v.Weights);
        }).ToList();
        await SameResults.AssertAsync(cluster.Client.GetGrain<IQueryCoordinatorGrain>(0), "vec-failover", "vec-failover-ref", sources,
            [$"{VectorSources.Token(5)} {VectorSources.Token(9)}", "uniq1234"], sparseQueries, denseQueries: 3);

        var store = new LocalDirectorySnapshotStore(fixture.Snapshots);
        Assert.Empty(await store.ListAsync("jobs/spill/vec-failover-1/"));
    }
}

