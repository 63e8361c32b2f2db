using System.Runtime.InteropServices;
using Orleans.TestingHost;
using Shoal.Grains.Contracts;
using Shoal.Hosting;

namespace Shoal.Integration.Tests.Snapshots;

/// <summary>
/// Disaster recovery through blob storage: a cluster snapshots a multi-channel index to Azurite,
/// every local byte is wiped, and a brand-new cluster restores the shards from the blobs and
/// answers exactly as before.
/// </summary>
public sealed class RestoreOnNewClusterTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>, IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("shoal-restore-").FullName;

    public void Dispose() => TempDirectory.Delete(_root);

    private async Task<InProcessTestCluster> StartAsync(string local)
    {
        var builder = new InProcessTestClusterBuilder(2);
        string connection = azurite.ConnectionString;
        builder.ConfigureSilo((_, silo) => silo.AddShoal(o =>
        {
            o.BlobConnectionString = connection;
            o.BlobContainer = "restore-test";
            o.CacheDirectory = Path.Combine(local, "cache");
            o.BuildDirectory = Path.Combine(local, "build");
            o.SnapshotDirectory = Path.Combine(local, "unused-local-store");
            o.AdditionalDataRoots = [Path.GetTempPath()]; // tests write sources to temporary directories
        }));
        var cluster = builder.Build();
        await cluster.DeployAsync();
        return cluster;
    }

    private static List<SearchRequest> Queries()
    {
        var dense = MemoryMarshal.AsBytes(new float[] { 1f, 0.2f, -0.3f }.AsSpan()).ToArray();
        return
        [
            new() { Index = "dr", Text = "passage about rivers", K = 20 },
            new() { Index = "dr", Sparse = new SparseQuerySpec { Tokens = ["river", "mountain"], TokenWeights = [1.5f, 0.5f], Exact = true }, K = 20 },
            new() { Index = "dr", Sparse = new SparseQuerySpec { Tokens = ["river"], TokenWeights = [1f] }, K = 20 },
            new() { Index = "dr", Dense = new DenseQuerySpec { Vector = dense }, K = 20 },
            new() { Index = "dr", Dense = new DenseQuerySpec { Vector = dense, Exact = true }, K = 20 },
            new() { Index = "dr", Text = "mountain passage", Dense = new DenseQuerySpec { Vector = dense }, K = 20 },
        ];
    }

    [Fact]
    public async Task A_new_cluster_with_no_local_state_restores_from_blobs_and_answers_identically()
    {
        string corpus = Path.Combine(_root, "c.tsv"), sparse = Path.Combine(_root, "s.jsonl"), dense = Path.Combine(_root, "d.jsonl");
        var rng = new Random(11);
        string[] words = ["river", "mountain", "forest", "lake", "valley", "desert"];
        await File.WriteAllLinesAsync(corpus, Enumerable.Range(0, 300).Select(i => $"p{i:D3}\tpassage {i} about {words[i % 6]} and {words[(i * 7 + 1) % 6]}"));
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        await File.WriteAllLinesAsync(sparse, Enumerable.Range(0, 300).Select(i => string.Format(inv,
            "{{\"id\": \"p{0:D3}\", \"vector\": {{\"{1}\": {2:F2}, \"{3}\": {4:F2}}}}}",
            i, words[i % 6], 1 + rng.Next(100) / 50.0, words[(i * 7 + 1) % 6], 0.1 + rng.Next(100) / 100.0)));
        await File.WriteAllLinesAsync(dense, Enumerable.Range(0, 300).Select(i => string.Format(inv,
            "{{\"id\": \"p{0:D3}\", \"vector\": [{1:F4}, {2:F4}, {3:F4}]}}",
            i, rng.NextDouble() - 0.5, rng.NextDouble() - 0.5, rng.NextDouble() - 0.5)));

        string firstLocal = Path.Combine(_root, "first");
        var before = new List<SearchResponse>();
        var first = await StartAsync(firstLocal);
        try
        {
            var index = first.Client.GetGrain<IIndexGrain>("dr");
            await index.StartIngestAsync(new IngestRequest { CorpusPath = corpus, SparseVectorsPath = sparse, DenseVectorsPath = dense, Shards = 3 });
            IngestStatus status;
            do
            {
                await Task.Delay(50);
                status = await index.GetIngestStatusAsync();
            }
            while (status.State == IngestState.Running);
            Assert.True(status.State == IngestState.Succeeded, status.Error);
            foreach (var q in Queries()) before.Add(await first.Client.GetGrain<IQueryCoordinatorGrain>(0).SearchAsync(q));
        }
        finally
        {
            await first.StopAllSilosAsync();
            await first.DisposeAsync();
        }
        TempDirectory.Delete(firstLocal); // every local byte is gone: only the blobs remain

        string secondLocal = Path.Combine(_root, "second");
        var second = await StartAsync(secondLocal);
        try
        {
            var queries = Queries();
            for (int i = 0; i < queries.Count; i++)
            {
                var after = await second.Client.GetGrain<IQueryCoordinatorGrain>(0).SearchAsync(queries[i]);
                Assert.True(after.Status == SearchStatus.Ok, after.Error);
                Assert.False(after.Coverage.Partial);
                Assert.NotEmpty(after.Hits);
                Assert.Equal(before[i].Version, after.Version);
                Assert.Equal(before[i].Channels, after.Channels);
                Assert.Equal(before[i].Hits.Select(h => (h.Id, h.Score, h.Title, h.Snippet)), after.Hits.Select(h => (h.Id, h.Score, h.Title, h.Snippet)));
            }
            // The shards really came from the blob store into the new cluster's cache.
            Assert.True(Directory.EnumerateFiles(Path.Combine(secondLocal, "cache"), "*.seg", SearchOption.AllDirectories).Count() >= 9);
            Assert.False(Directory.Exists(Path.Combine(secondLocal, "unused-local-store")));
        }
        finally
        {
            await second.StopAllSilosAsync();
            await second.DisposeAsync();
        }
    }
}
