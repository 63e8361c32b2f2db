using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;
using Shoal.Engine.Snapshots;
using Shoal.Grains.Contracts;
using Shoal.Hosting;

namespace Shoal.Integration.Tests;

/// <summary>A version whose segment rots in the store: detected by checksum, and the previous version keeps serving.</summary>
public sealed class CorruptSnapshotTests : IDisposable
{
    private readonly string _data = Directory.CreateTempSubdirectory("shoal-corrupt-").FullName;

    public void Dispose() => TempDirectory.Delete(_data);

    private async Task<InProcessTestCluster> StartAsync()
    {
        var builder = new InProcessTestClusterBuilder(1);
        string data = _data;
        builder.ConfigureSilo((_, silo) => silo.AddShoal(o =>
        {
            o.SnapshotDirectory = Path.Combine(data, "snapshots");
            o.CacheDirectory = Path.Combine(data, "cache");
            o.BuildDirectory = Path.Combine(data, "build");
        }));
        var cluster = builder.Build();
        await cluster.DeployAsync();
        return cluster;
    }

    private static async Task BuildAsync(InProcessTestCluster cluster, string corpus)
    {
        var grain = cluster.Client.GetGrain<IIndexGrain>("rot");
        await grain.StartIngestAsync(new IngestRequest { CorpusPath = corpus, Shards = 2 });
        IngestStatus status;
        do
        {
            await Task.Delay(50);
            status = await grain.GetIngestStatusAsync();
        }
        while (status.State == IngestState.Running);
        Assert.True(status.State == IngestState.Succeeded, status.Error);
    }

    [Fact]
    public async Task A_segment_that_fails_its_checksum_is_reported_and_the_previous_version_serves()
    {
        string v1 = Path.Combine(_data, "v1.tsv"), v2 = Path.Combine(_data, "v2.tsv");
        await File.WriteAllLinesAsync(v1, Enumerable.Range(0, 200).Select(i => $"d{i:D3}\tversion one passage number {i} about rivers"));
        await File.WriteAllLinesAsync(v2, Enumerable.Range(0, 200).Select(i => $"d{i:D3}\tversion two passage number {i} about mountains"));

        var first = await StartAsync();
        try
        {
            await BuildAsync(first, v1);
            await BuildAsync(first, v2);
        }
        finally
        {
            await first.StopAllSilosAsync();
            await first.DisposeAsync();
        }

        // Flip one byte in the middle of version 2's shard-0 segment, as bit rot in the store would.
        string segment = Path.Combine(_data, "snapshots", SnapshotCatalog.SegmentKey("rot", 2, 0, "bm25.seg").Replace('/', Path.DirectorySeparatorChar));
        var bytes = await File.ReadAllBytesAsync(segment);
        bytes[bytes.Length / 2] ^= 0x5A;
        await File.WriteAllBytesAsync(segment, bytes);

        var second = await StartAsync();
        try
        {
            var response = await second.Client.GetGrain<IQueryCoordinatorGrain>(0).SearchAsync(new SearchRequest { Index = "rot", Text = "passage", K = 400 });
            Assert.True(response.Status == SearchStatus.Ok, response.Error);
            Assert.False(response.Coverage.Partial);
            Assert.Equal(200, response.Hits.Length);
            // Shard 0 could not restore version 2 and serves version 1; the response says so.
            Assert.Equal(1, response.Version);
            var shard0 = await second.Client.GetGrain<IShardGrain>("rot/0/0").GetInfoAsync();
            var shard1 = await second.Client.GetGrain<IShardGrain>("rot/1/0").GetInfoAsync();
            Assert.Equal(1, shard0.Version);
            Assert.Equal(2, shard1.Version);
            var rivers = await second.Client.GetGrain<IQueryCoordinatorGrain>(0).SearchAsync(new SearchRequest { Index = "rot", Text = "rivers", K = 400 });
            Assert.Equal(shard0.DocCount, rivers.Hits.Length);
        }
        finally
        {
            await second.StopAllSilosAsync();
            await second.DisposeAsync();
        }
    }

    /// <summary>
    /// A shard whose only version fails to restore serves nothing: it must say so (the shard is
    /// missing from coverage, the answer is flagged partial) rather than answer "no hits" or
    /// hang, and the process keeps serving the other shard and other indexes.
    /// </summary>
    [Fact]
    public async Task A_shard_with_no_restorable_version_is_reported_missing_and_the_silo_stays_healthy()
    {
        string v1 = Path.Combine(_data, "v1.tsv");
        await File.WriteAllLinesAsync(v1, Enumerable.Range(0, 200).Select(i => $"d{i:D3}\tonly version passage number {i} about rivers"));
        var first = await StartAsync();
        try
        {
            await BuildAsync(first, v1);
        }
        finally
        {
            await first.StopAllSilosAsync();
            await first.DisposeAsync();
        }

        // Rot shard 0's only segment: no version of shard 0 can be restored.
        string segment = Path.Combine(_data, "snapshots", SnapshotCatalog.SegmentKey("rot", 1, 0, "bm25.seg").Replace('/', Path.DirectorySeparatorChar));
        var bytes = await File.ReadAllBytesAsync(segment);
        bytes[bytes.Length / 2] ^= 0x5A;
        await File.WriteAllBytesAsync(segment, bytes);

        var second = await StartAsync();
        try
        {
            var coordinator = second.Client.GetGrain<IQueryCoordinatorGrain>(0);
            // Twice: the first search activates both shards (shard 1 swaps to version 1 while shard 0
            // stays on nothing), the second runs after that swap.
            for (int round = 0; round < 2; round++)
            {
                var response = await coordinator.SearchAsync(new SearchRequest { Index = "rot", Text = "passage", K = 400, DeadlineMs = 10_000 })
                    .WaitAsync(TimeSpan.FromSeconds(30));
                Assert.True(response.Status == SearchStatus.Ok, response.Error);
                Assert.True(response.Coverage.Partial, $"round {round}: a shard that serves nothing must not count as answered");
                Assert.Equal(1, response.Coverage.Answered);
                Assert.Equal([0], response.Coverage.Missing);
                var shard1 = await second.Client.GetGrain<IShardGrain>("rot/1/0").GetInfoAsync();
                Assert.Equal(shard1.DocCount, response.Hits.Length);
                Assert.True(response.Hits.Length is > 0 and < 200);
            }

            // Asked directly, shard 0 answers at once with an error that says why (no spinning turn).
            var direct = second.Client.GetGrain<IShardGrain>("rot/0/0").SearchAsync(new ShardQuery
            {
                Version = 1,
                Bm25 = new ShardTextQuery { Terms = ["passag"], Weights = [1f], K = 10 },
            });
            var error = await Assert.ThrowsAsync<Shoal.Grains.Shards.ShardUnavailableException>(() => direct.WaitAsync(TimeSpan.FromSeconds(20)));
            Assert.Contains("serves no version", error.Message, StringComparison.Ordinal);
            var info0 = await second.Client.GetGrain<IShardGrain>("rot/0/0").GetInfoAsync().WaitAsync(TimeSpan.FromSeconds(20));
            Assert.Equal(0, info0.Version);

            // The silo stays healthy: another index builds, swaps in and answers in full.
            string other = Path.Combine(_data, "other.tsv");
            await File.WriteAllLinesAsync(other, Enumerable.Range(0, 50).Select(i => $"o{i:D3}\tanother passage {i} about lakes"));
            var index = second.Client.GetGrain<IIndexGrain>("other");
            await index.StartIngestAsync(new IngestRequest { CorpusPath = other, Shards = 2 });
            IngestStatus status;
            do
            {
                await Task.Delay(50);
                status = await index.GetIngestStatusAsync();
            }
            while (status.State == IngestState.Running);
            Assert.True(status.State == IngestState.Succeeded, status.Error);
            var lakes = await coordinator.SearchAsync(new SearchRequest { Index = "other", Text = "lakes", K = 100 }).WaitAsync(TimeSpan.FromSeconds(30));
            Assert.False(lakes.Coverage.Partial);
            Assert.Equal(50, lakes.Hits.Length);
            var again = await coordinator.SearchAsync(new SearchRequest { Index = "rot", Text = "rivers", K = 400, DeadlineMs = 10_000 }).WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal([0], again.Coverage.Missing);
        }
        finally
        {
            await second.StopAllSilosAsync();
            await second.DisposeAsync();
        }
    }
}
