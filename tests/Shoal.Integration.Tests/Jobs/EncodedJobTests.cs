using Microsoft.Extensions.Configuration;
using Orleans.TestingHost;
using Shoal.Grains.Contracts;
using Shoal.Grains.Encoders;
using Shoal.Hosting;
using Shoal.Grains.Hosting;
using Shoal.Grains.Indexes;
using Shoal.Grains.Jobs;
using Shoal.Integration.Tests.Encoders;

namespace Shoal.Integration.Tests.Jobs;

/// <summary>A one-silo cluster with indexing jobs and the fixture encoders (dense and SPLADE models).</summary>
public sealed class EncoderJobCluster : IAsyncLifetime
{
    public string Data { get; } = Directory.CreateTempSubdirectory("shoal-encoded-jobs-").FullName;

    public InProcessTestCluster Cluster { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var builder = new InProcessTestClusterBuilder(1);
        string data = Data;
        builder.ConfigureSiloHost((_, host) => host.Configuration.AddInMemoryCollection(EncoderCluster.EncoderConfiguration));
        builder.ConfigureSilo((_, silo) =>
        {
            silo.AddShoal(o =>
            {
                o.SnapshotDirectory = Path.Combine(data, "snapshots");
                o.AdditionalDataRoots = [Path.GetTempPath()];
                o.CacheDirectory = Path.Combine(data, "cache");
                o.BuildDirectory = Path.Combine(data, "build");
            });
            silo.AddShoalEncoderPools();
            silo.AddShoalJobs(o => o.SupervisorInterval = TimeSpan.FromSeconds(1));
        });
        Cluster = builder.Build();
        await Cluster.DeployAsync();
    }

    public async Task DisposeAsync()
    {
        await Cluster.StopAllSilosAsync();
        await Cluster.DisposeAsync();
        TempDirectory.Delete(Data);
    }
}

/// <summary>
/// Indexing jobs that encode their text source through the encoder pools: chunk by chunk, each
/// chunk's vectors checkpointed with its text, giving the index an ingest (one chunk) gives with
/// the same encoders; an ingest is such a job, followed by its index; the bm25 channel can be left
/// out; and the requests such a job refuses.
/// </summary>
public sealed class EncodedJobTests(EncoderJobCluster fixture) : IClassFixture<EncoderJobCluster>
{
    private IQueryCoordinatorGrain Coordinator => fixture.Cluster.Client.GetGrain<IQueryCoordinatorGrain>(0);

    [Fact]
    public async Task A_job_with_encoders_encodes_chunk_by_chunk_and_answers_as_an_ingest_in_one_chunk_with_the_same_encoders()
    {
        var request = new IndexJobRequest { Index = "enc-job", Source = Paths.SamplePassages, SparseEncoder = "splade", DenseEncoder = "dense", Shards = 2, ChunkLines = 16 };
        await fixture.Cluster.Client.GetGrain<IIndexJobGrain>("enc-job-1").SubmitAsync(request);
        var done = await JobWaits.FinishedAsync(fixture.Cluster, "enc-job-1");
        Assert.True(done.State == IndexJobState.Succeeded, done.Error);
        var text = Assert.Single(done.Sources);
        Assert.Equal(IndexJobSources.Text, text.Kind);
        Assert.Equal(40, text.DocumentsRead);
        Assert.Equal(3, text.Chunks); // 16 + 16 + 8 lines: three checkpoints, each with its vectors
        Assert.Equal(40, done.DocumentsIndexed);

        var reference = await JobWaits.IngestAsync(fixture.Cluster, "enc-ref", new IngestRequest { CorpusPath = Paths.SamplePassages, SparseEncoder = "splade", DenseEncoder = "dense", Shards = 2 });
        var info = (await fixture.Cluster.Client.GetGrain<IIndexGrain>("enc-job").GetInfoAsync())!;
        Assert.Equal(["bm25", "sparse", "dense"], info.Channels.Select(c => c.Name));
        Assert.Equal("splade", info.Channel("sparse")!.Encoder);
        Assert.Equal("dense", info.Channel("dense")!.Encoder);
        Assert.Equal(reference.Channels, info.Channels);
        Assert.Equal(reference.DocCount, info.DocCount);

        foreach (var query in new[] { "how do vaccines train the immune system", "wind turbines and electricity", "protein folding" })
        {
            foreach (var (channels, exact) in new[] { (new[] { "sparse" }, true), (new[] { "dense" }, true), (new[] { "bm25", "sparse", "dense" }, false) })
            {
                SearchRequest Ask(string index) => new()
                {
                    Index = index, Text = query, Channels = channels, K = 10,
                    Sparse = exact && channels.Contains("sparse") ? new SparseQuerySpec { Exact = true } : null,
                    Dense = exact && channels.Contains("dense") ? new DenseQuerySpec { Exact = true } : null,
                };
                var viaJob = await Coordinator.SearchAsync(Ask("enc-job"));
                var viaIngest = await Coordinator.SearchAsync(Ask("enc-ref"));
                Assert.True(viaJob.Status == SearchStatus.Ok, viaJob.Error);
                Assert.True(viaIngest.Hits.Length > 0, $"'{query}' on {string.Join('+', channels)}: the reference has no hits");
                Assert.True(viaJob.Hits.Length > 0, $"'{query}' on {string.Join('+', channels)}: the job's index has no hits, the reference {viaIngest.Hits.Length}");
                Assert.Equal(viaIngest.Hits.Select(h => h.Id), viaJob.Hits.Select(h => h.Id));
                for (int i = 0; i < viaJob.Hits.Length; i++) Assert.Equal(viaIngest.Hits[i].Score, viaJob.Hits[i].Score, 1e-4f);
            }
        }
    }

    [Theory]
    [InlineData("nope", null, null, "nope")]
    [InlineData(null, "splade", null, "is a sparse encoder, not a dense one")]
    [InlineData("dense", null, null, "is a dense encoder, not a sparse one")]
    [InlineData(null, "dense", "vectors.jsonl", "not both")]
    [InlineData(null, "  ", null, "denseEncoder is blank")]
    public async Task A_job_naming_an_encoder_it_cannot_use_is_refused_with_the_reason(string? sparseEncoder, string? denseEncoder, string? denseVectors, string expected)
    {
        string? vectors = null;
        if (denseVectors is not null)
        {
            vectors = Path.Combine(fixture.Data, denseVectors);
            await File.WriteAllTextAsync(vectors, "{\"id\": \"s1\", \"vector\": [0.1, 0.2]}\n");
        }
        var request = new IndexJobRequest { Index = "enc-bad", Source = Paths.SamplePassages, SparseEncoder = sparseEncoder, DenseEncoder = denseEncoder, DenseVectors = vectors };
        var e = await Assert.ThrowsAsync<ArgumentException>(() => fixture.Cluster.Client.GetGrain<IIndexJobGrain>($"enc-bad-{Guid.NewGuid():N}").SubmitAsync(request));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_encoder_without_a_text_source_is_refused()
    {
        string vectors = Path.Combine(fixture.Data, "only-dense.jsonl");
        await File.WriteAllTextAsync(vectors, "{\"id\": \"s1\", \"vector\": [0.1, 0.2]}\n");
        var request = new IndexJobRequest { Index = "enc-nosource", DenseVectors = vectors, SparseEncoder = "splade" };
        var e = await Assert.ThrowsAsync<ArgumentException>(() => fixture.Cluster.Client.GetGrain<IIndexJobGrain>("enc-nosource-1").SubmitAsync(request));
        Assert.Contains("needs a text source", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_ingest_runs_as_a_job_that_its_index_follows()
    {
        var index = fixture.Cluster.Client.GetGrain<IIndexGrain>("enc-ingest");
        var started = await index.StartIngestAsync(new IngestRequest { CorpusPath = Paths.SamplePassages, DenseEncoder = "dense", Shards = 2 });
        Assert.NotNull(started.JobId);
        Assert.True(IngestJobs.IsIngestJobOf("enc-ingest", started.JobId!), started.JobId);
        var job = await JobWaits.FinishedAsync(fixture.Cluster, started.JobId!);
        Assert.True(job.State == IndexJobState.Succeeded, job.Error);
        Assert.Equal(("stop", "dense", 2, Paths.SamplePassages), (job.Request.OnMalformed, job.Request.DenseEncoder, job.Request.Shards, job.Request.Source));
        Assert.Contains(started.JobId, await fixture.Cluster.Client.GetGrain<IIndexJobCatalogGrain>(0).ListAsync(100));

        var status = await index.GetIngestStatusAsync();
        Assert.Equal((IngestState.Succeeded, "done", 40L, started.JobId), (status.State, status.Phase, status.DocumentsRead, status.JobId));
        Assert.Equal(job.Version, status.Version);
        var info = (await index.GetInfoAsync())!;
        Assert.Equal((job.Version!.Value, 40L), (info.Version, info.DocCount));
        Assert.Equal(["bm25", "dense"], info.Channels.Select(c => c.Name));
    }

    [Fact]
    public async Task Without_bm25_the_text_feeds_the_encoder_and_the_sparse_channel_stores_the_text()
    {
        var info = await JobWaits.IngestAsync(fixture.Cluster, "enc-nobm25", new IngestRequest { CorpusPath = Paths.SamplePassages, SparseEncoder = "splade", Bm25 = false, Shards = 2 });
        Assert.Equal(["sparse"], info.Channels.Select(c => c.Name));
        Assert.Equal(40, info.DocCount);
        var r = await Coordinator.SearchAsync(new SearchRequest { Index = "enc-nobm25", Text = "wind turbines and electricity", K = 5 });
        Assert.True(r.Status == SearchStatus.Ok, r.Error);
        Assert.NotEmpty(r.Hits);
        Assert.All(r.Hits, h => Assert.False(string.IsNullOrWhiteSpace(h.Snippet), $"hit {h.Id} has no stored text"));
    }

    [Fact]
    public async Task A_bm25_channel_without_text_and_a_text_source_that_builds_no_channel_are_refused()
    {
        string vectors = Path.Combine(fixture.Data, "bm25-dense.jsonl");
        await File.WriteAllTextAsync(vectors, "{\"id\": \"s1\", \"vector\": [0.1, 0.2]}\n");
        var jobs = fixture.Cluster.Client;
        var e = await Assert.ThrowsAsync<ArgumentException>(() => jobs.GetGrain<IIndexJobGrain>($"enc-bm25-{Guid.NewGuid():N}").SubmitAsync(new IndexJobRequest { Index = "enc-bm25", DenseVectors = vectors, Bm25 = true }));
        Assert.Contains("bm25 channel needs a text corpus", e.Message, StringComparison.Ordinal);
        e = await Assert.ThrowsAsync<ArgumentException>(() => jobs.GetGrain<IIndexJobGrain>($"enc-bm25-{Guid.NewGuid():N}").SubmitAsync(new IndexJobRequest { Index = "enc-bm25", Source = Paths.SamplePassages, Bm25 = false }));
        Assert.Contains("Nothing to index", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_ingest_reports_the_source_being_read_with_its_own_count()
    {
        var request = new IndexJobRequest { Index = "x", Source = "/c.jsonl", SparseVectors = "/s.jsonl" };
        IndexJobSourceStatus[] Sources(bool sparseDone) =>
            [new() { Kind = IndexJobSources.Text, DocumentsRead = 100, Done = true }, new() { Kind = IndexJobSources.Sparse, DocumentsRead = 50, Done = sparseDone }];
        var reading = IngestJobs.StatusOf(new IndexJobStatus { Id = "j", Request = request, State = IndexJobState.Running, Phase = "reading", DocumentsRead = 150, Sources = Sources(false) });
        Assert.Equal((IngestState.Running, "reading sparse vectors", 50L, "/c.jsonl + /s.jsonl", "j"), (reading.State, reading.Phase, reading.DocumentsRead, reading.CorpusPath, reading.JobId));
        var building = IngestJobs.StatusOf(new IndexJobStatus { Id = "j", Request = request, State = IndexJobState.Running, Phase = "building", DocumentsRead = 150, Sources = Sources(true) });
        Assert.Equal(("building", 100L), (building.Phase, building.DocumentsRead)); // never the 150 summed over sources
        var done = IngestJobs.StatusOf(new IndexJobStatus { Id = "j", Request = request, State = IndexJobState.Succeeded, Phase = "done", DocumentsRead = 150, DocumentsIndexed = 120, Version = 3, Sources = Sources(true) });
        Assert.Equal((IngestState.Succeeded, 120L, 3L), (done.State, done.DocumentsRead, done.Version));
        var cancelled = IngestJobs.StatusOf(new IndexJobStatus { Id = "j", Request = request, State = IndexJobState.Cancelled, Phase = "cancelled", Sources = Sources(false) });
        Assert.Equal(IngestState.Failed, cancelled.State);
        Assert.Contains("cancelled", cancelled.Error, StringComparison.Ordinal);
        var encoding = IngestJobs.StatusOf(new IndexJobStatus
        {
            Id = "j", Request = new IndexJobRequest { Index = "x", Source = "/c.jsonl", DenseEncoder = "dense" }, State = IndexJobState.Running, Phase = "reading",
            Sources = [new() { Kind = IndexJobSources.Text, DocumentsRead = 7 }]
        });
        Assert.Equal(("reading and encoding text", "/c.jsonl + dense:dense"), (encoding.Phase, encoding.CorpusPath));
    }

    [Theory]
    [InlineData("a", "ingest-a-20261206-101500-0123abcd", true)]
    [InlineData("a", "ingest-a-b-20261206-101500-0123abcd", false)] // index a-b's job
    [InlineData("a-b", "ingest-a-b-20261206-101500-0123abcd", true)]
    [InlineData("a", "ingest-a-20261206-101500-0123abcd-x", false)]
    [InlineData("a", "job-20261206-101500-0123abcd", false)]
    public void An_index_claims_only_its_own_ingest_jobs(string index, string jobId, bool mine) =>
        Assert.Equal(mine, IngestJobs.IsIngestJobOf(index, jobId));

    [Fact]
    public void A_long_index_name_still_makes_a_valid_job_id()
    {
        string name = new('n', 64);
        string id = IngestJobs.IngestJobPrefixOf(name) + "20261206-101500-0123abcd";
        Assert.Null(IndexJobIds.Validate(id));
        Assert.True(IngestJobs.IsIngestJobOf(name, id));
        Assert.False(IngestJobs.IsIngestJobOf(new string('n', 63) + "m", id));
    }
}
