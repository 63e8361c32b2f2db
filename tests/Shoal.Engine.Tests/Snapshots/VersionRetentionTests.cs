using Shoal.Engine.Snapshots;

namespace Shoal.Engine.Tests.Snapshots;

public sealed class VersionRetentionTests : IDisposable
{
    private readonly TempFiles _tmp = new();
    private readonly LocalDirectorySnapshotStore _store;
    private readonly SnapshotCatalog _catalog;

    public VersionRetentionTests()
    {
        _store = new LocalDirectorySnapshotStore(_tmp.PathOf("store"));
        _catalog = new SnapshotCatalog(_store);
    }

    public void Dispose() => _tmp.Dispose();

    private async Task<SegmentManifest> UploadAsync(long version)
    {
        string path = _tmp.Write($"seg-{version}.seg", $"segment of version {version}");
        return await _catalog.UploadSegmentAsync("books", version, 0, path);
    }

    private async Task PublishAsync(long version)
    {
        var segment = await UploadAsync(version);
        await _catalog.PublishAsync(new IndexManifest
        {
            Index = "books", Version = version, CreatedUtc = DateTimeOffset.UnixEpoch, ShardCount = 1,
            Schema = IndexSchema.DefaultText, DocCount = 1, Shards = [new ShardManifest(0, 1, [segment])],
        });
    }

    private Task CorruptManifestAsync(long version) =>
        _store.PutBytesAsync(SnapshotCatalog.ManifestKey("books", version), "{\"index\": \"books\", trunc"u8.ToArray());

    [Fact]
    public async Task Prune_keeps_the_newest_versions_and_builds_in_progress()
    {
        await PublishAsync(1);
        await PublishAsync(2);
        await UploadAsync(3); // abandoned build: segments, no manifest
        await PublishAsync(4);
        await PublishAsync(5);
        await UploadAsync(6); // build in progress

        var result = await _catalog.PruneAsync("books", keepNewest: 2);
        Assert.Equal([1L, 2L], result.RemovedVersions);
        Assert.Equal([3L], result.RemovedUnpublished);
        Assert.Equal([4L, 5L], result.KeptVersions);
        Assert.Equal([4L, 5L], await _catalog.ListVersionsAsync("books"));
        var keys = await _store.ListAsync("indexes/books/");
        Assert.DoesNotContain(keys, k => k.Contains("/v00000001/") || k.Contains("/v00000002/") || k.Contains("/v00000003/"));
        Assert.Contains(SnapshotCatalog.SegmentKey("books", 6, 0, "seg-6.seg"), keys);
        Assert.Equal(5, (await _catalog.GetLatestManifestAsync("books"))!.Version);

        // Nothing more to do; the latest version is never removed.
        Assert.Empty((await _catalog.PruneAsync("books", keepNewest: 2)).RemovedVersions);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => _catalog.PruneAsync("books", keepNewest: 0));
    }

    [Fact]
    public async Task Prune_keeps_pinned_versions_and_the_newest_readable_one()
    {
        for (int v = 1; v <= 4; v++) await PublishAsync(v);
        await CorruptManifestAsync(4);

        var result = await _catalog.PruneAsync("books", keepNewest: 1, pinned: [1]);
        Assert.Equal([2L], result.RemovedVersions);
        Assert.Equal([1L, 3L, 4L], result.KeptVersions); // 4 is the latest, 3 the newest readable, 1 pinned
    }

    [Fact]
    public async Task An_unreadable_latest_manifest_is_reported_and_the_previous_version_can_be_found()
    {
        await PublishAsync(1);
        await PublishAsync(2);
        await PublishAsync(3);
        await CorruptManifestAsync(3);

        var e = await Assert.ThrowsAsync<InvalidDataException>(() => _catalog.GetLatestManifestAsync("books"));
        Assert.Contains("version 3", e.Message);
        Assert.Contains(SnapshotCatalog.ManifestKey("books", 3), e.Message);

        var lookup = await _catalog.FindLatestReadableManifestAsync("books");
        Assert.Equal(2, lookup.Manifest!.Version);
        var skipped = Assert.Single(lookup.Skipped);
        Assert.Equal(3, skipped.Version);
        Assert.Equal(SnapshotCatalog.ManifestKey("books", 3), skipped.Key);

        Assert.Equal(1, (await _catalog.FindPreviousManifestAsync("books", 2)).Manifest!.Version);
        Assert.Equal(2, (await _catalog.FindPreviousManifestAsync("books", 3)).Manifest!.Version);
        var none = await _catalog.FindPreviousManifestAsync("books", 1);
        Assert.Null(none.Manifest);
        Assert.Empty(none.Skipped);
        Assert.Null((await _catalog.FindLatestReadableManifestAsync("nothing")).Manifest);
    }

    [Fact]
    public async Task A_manifest_that_describes_another_version_is_unreadable()
    {
        await PublishAsync(1);
        var bytes = await _store.GetBytesAsync(SnapshotCatalog.ManifestKey("books", 1));
        await _store.PutBytesAsync(SnapshotCatalog.ManifestKey("books", 2), bytes!);
        var e = await Assert.ThrowsAsync<InvalidDataException>(() => _catalog.GetManifestAsync("books", 2));
        Assert.Contains("version 1", e.Message);
        Assert.Equal(1, (await _catalog.FindLatestReadableManifestAsync("books")).Manifest!.Version);
    }

    [Theory]
    [InlineData("indexes/books/v00000012/shard-0003/seg-000001.seg", true, "books", 12)]
    [InlineData("indexes/books/v00000012/manifest.json", true, "books", 12)]
    [InlineData("indexes/books/v12", false, "", 0)]
    [InlineData("other/books/v00000012/x", false, "", 0)]
    [InlineData("indexes/books/x00000012/x", false, "", 0)]
    public void Keys_name_their_index_and_version(string key, bool ok, string index, long version)
    {
        Assert.Equal(ok, SnapshotCatalog.TryParseKey(key, out string i, out long v));
        Assert.Equal(index, i);
        Assert.Equal(version, v);
    }
}
