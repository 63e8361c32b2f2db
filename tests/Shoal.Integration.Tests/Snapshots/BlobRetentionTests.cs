using Shoal.Engine.Snapshots;
using static Shoal.Integration.Tests.Snapshots.SnapshotTestSupport;

namespace Shoal.Integration.Tests.Snapshots;

public sealed class BlobRetentionTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>, IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("shoal-blobretain-").FullName;

    public void Dispose() => TempDirectory.Delete(_dir);

    [Fact]
    public async Task Older_versions_are_kept_until_pruned_to_the_newest_n()
    {
        var store = Store(azurite, "retention");
        var catalog = new SnapshotCatalog(store);
        string seg = Path.Combine(_dir, "seg-000001.seg");
        await File.WriteAllBytesAsync(seg, RandomBytes(200_000, 3)); // several blocks per version
        for (long v = 1; v <= 4; v++)
            await catalog.PublishAsync(Manifest("books", v, await catalog.UploadSegmentAsync("books", v, 0, seg)));
        await catalog.UploadSegmentAsync("books", 5, 0, seg); // a build in progress
        Assert.Equal([1L, 2L, 3L, 4L], await catalog.ListVersionsAsync("books"));

        var result = await catalog.PruneAsync("books", keepNewest: 2);
        Assert.Equal([1L, 2L], result.RemovedVersions);
        Assert.Equal([3L, 4L], result.KeptVersions);
        Assert.Equal([3L, 4L], await catalog.ListVersionsAsync("books"));
        var keys = await store.ListAsync("indexes/books/");
        Assert.Equal(
            [
                SnapshotCatalog.ManifestKey("books", 3), SnapshotCatalog.SegmentKey("books", 3, 0, "seg-000001.seg"),
                SnapshotCatalog.ManifestKey("books", 4), SnapshotCatalog.SegmentKey("books", 4, 0, "seg-000001.seg"),
                SnapshotCatalog.SegmentKey("books", 5, 0, "seg-000001.seg"),
            ],
            keys);
        Assert.Equal(3, (await catalog.FindPreviousManifestAsync("books", 4)).Manifest!.Version);
        Assert.Null((await catalog.FindPreviousManifestAsync("books", 3)).Manifest);
    }
}
