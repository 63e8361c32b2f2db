using Microsoft.Extensions.Configuration;
using Orleans.TestingHost;
using Shoal.Grains.Contracts;
using Shoal.Grains.Encoders;
using Shoal.Hosting;
using Shoal.Grains.Hosting;
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
/// chunk's vectors checkpointed with its text, giving the index the in-memory ingest gives with the
/// same encoders; and the requests such a job refuses.
/// </summary>
public sealed class EncodedJobTests(EncoderJobCluster fixture) : IClassFixture<EncoderJobCluster>
{
    private IQueryCoordinatorGrain Coordinator => fixture.Cluster.Client.GetGrain<IQueryCoordinatorGrain>(0);

    [Fact]
    public async Task A_job_with_encoders_encodes_chunk_by_chunk_and_answers_as_the_in_memory_ingest_with_the_same_encoders()
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
}
