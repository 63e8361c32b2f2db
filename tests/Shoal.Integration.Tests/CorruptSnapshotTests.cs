using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;
using Shoal.Engine.Snapshots;
using Shoal.Grains.Contracts;
using Shoal.Grains.Hosting;

namespace Shoal.Integration.Tests;

/// <summary>A version whose segment rots in the store: detected by checksum, and the previous version keeps serving.</summary>
public sealed class CorruptSnapshotTests : IDisposable
{
    private readonly string _data = Directory.CreateTempSubdirectory("shoal-corrupt-").FullName;

    public void Dispose() => Directory.Delete(_data, recursive: true);

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
}
