using Shoal.Engine.Snapshots;

namespace Shoal.Engine.Tests.Snapshots;

/// <summary>The catalog's download cache, through a store that looks remote.</summary>
public sealed class MaterializeTests : IDisposable
{
    private readonly TempFiles _tmp = new();
    private readonly RemoteLikeStore _store;
    private readonly SnapshotCatalog _catalog;

    public MaterializeTests()
    {
        _store = new RemoteLikeStore(new LocalDirectorySnapshotStore(_tmp.PathOf("store")));
        _catalog = new SnapshotCatalog(_store);
    }

    public void Dispose() => _tmp.Dispose();

    private string Cache => _tmp.PathOf("cache");

    private async Task<SegmentManifest> UploadAsync(long version, int length = 200_000)
    {
        var bytes = new byte[length];
        new Random((int)version).NextBytes(bytes);
        string dir = _tmp.PathOf($"build-{version}");
        Directory.CreateDirectory(dir);
        string path = Path.Combine(dir, "seg-000001.seg");
        await File.WriteAllBytesAsync(path, bytes);
        return await _catalog.UploadSegmentAsync("books", version, 0, path);
    }

    private string[] CacheFiles() =>
        Directory.Exists(Cache) ? Directory.GetFiles(Cache, "*", SearchOption.AllDirectories) : [];

    [Fact]
    public async Task Downloads_once_then_trusts_the_marked_cache_and_rehashes_when_the_marker_is_gone()
    {
        var segment = await UploadAsync(1);

        var first = await _catalog.MaterializeVerifiedAsync(segment, Cache);
        Assert.Equal(SegmentSource.Downloaded, first.Source);
        Assert.True(first.Verified);
        Assert.Equal(SnapshotCatalog.CachePath(segment.Key, Cache), first.Path);
        Assert.True(File.Exists(first.Path + SnapshotCatalog.VerifiedMarkerSuffix));

        var second = await _catalog.MaterializeVerifiedAsync(segment, Cache);
        Assert.Equal(SegmentSource.Cached, second.Source);
        Assert.False(second.Verified); // trusted by its marker: the caller verifies sections on open
        Assert.Equal(1, _store.Downloads);

        File.Delete(first.Path + SnapshotCatalog.VerifiedMarkerSuffix);
        var third = await _catalog.MaterializeVerifiedAsync(segment, Cache);
        Assert.Equal(SegmentSource.Cached, third.Source);
        Assert.True(third.Verified); // hashed again, marker rewritten
        Assert.True(File.Exists(first.Path + SnapshotCatalog.VerifiedMarkerSuffix));
        Assert.Equal(1, _store.Downloads);

        // The legacy entry point returns the same path.
        Assert.Equal(first.Path, await _catalog.MaterializeAsync(segment, Cache));
    }

    [Fact]
    public async Task A_damaged_cached_file_is_replaced_by_a_fresh_download()
    {
        var segment = await UploadAsync(1);
        string path = (await _catalog.MaterializeVerifiedAsync(segment, Cache)).Path;
        var bytes = await File.ReadAllBytesAsync(path);
        bytes[12345] ^= 0x01;
        await File.WriteAllBytesAsync(path, bytes); // same size, new modification time: the marker no longer vouches

        var again = await _catalog.MaterializeVerifiedAsync(segment, Cache);
        Assert.Equal(SegmentSource.Downloaded, again.Source);
        Assert.True(again.Verified);
        Assert.Equal(2, _store.Downloads);
        Assert.Equal(segment.Xxh3, await SnapshotCatalog.ChecksumAsync(path));

        // A cached file of the wrong size is not even hashed.
        await File.WriteAllTextAsync(path, "short");
        Assert.Equal(SegmentSource.Downloaded, (await _catalog.MaterializeVerifiedAsync(segment, Cache)).Source);
    }

    [Fact]
    public async Task A_corrupt_object_is_reported_and_leaves_nothing_in_the_cache()
    {
        var segment = await UploadAsync(7);
        string stored = _store.Inner.TryGetLocalPath(segment.Key)!;
        var bytes = await File.ReadAllBytesAsync(stored);
        bytes[^1] ^= 0x80;
        await File.WriteAllBytesAsync(stored, bytes);

        var e = await Assert.ThrowsAsync<SnapshotChecksumException>(() => _catalog.MaterializeVerifiedAsync(segment, Cache));
        Assert.Equal("books", e.Index);
        Assert.Equal(7, e.Version);
        Assert.Equal(segment.Key, e.Key);
        Assert.Contains(segment.Key, e.Message);
        Assert.Contains("version 7", e.Message);
        Assert.Contains(segment.Xxh3, e.Message);
        Assert.Contains($"{e.ActualXxh3:x16}", e.Message);
        Assert.Empty(CacheFiles());

        // The legacy entry point reports it as the InvalidDataException it always threw.
        var legacy = await Assert.ThrowsAsync<InvalidDataException>(() => _catalog.MaterializeAsync(segment, Cache));
        Assert.IsType<SnapshotChecksumException>(legacy.InnerException);
        Assert.Empty(CacheFiles());
    }

    [Fact]
    public async Task A_malformed_manifest_checksum_is_reported()
    {
        var segment = await UploadAsync(1) with { Xxh3 = "not-hex" };
        var e = await Assert.ThrowsAsync<InvalidDataException>(() => _catalog.MaterializeVerifiedAsync(segment, Cache));
        Assert.Contains(segment.Key, e.Message);
    }

    [Fact]
    public async Task A_local_store_file_is_verified_in_place()
    {
        var local = new SnapshotCatalog(_store.Inner);
        var segment = await UploadAsync(1);
        var m = await local.MaterializeVerifiedAsync(segment, Cache);
        Assert.Equal(SegmentSource.StoreFile, m.Source);
        Assert.True(m.Verified);
        Assert.Equal(_store.Inner.TryGetLocalPath(segment.Key), m.Path);
        Assert.Empty(CacheFiles());
    }
}

public sealed class LegacyStoreTests : IDisposable
{
    private readonly TempFiles _tmp = new();

    public void Dispose() => _tmp.Dispose();

    [Fact]
    public async Task A_store_written_against_the_original_interface_gets_verified_restores_and_pruning()
    {
        var inner = new LocalDirectorySnapshotStore(_tmp.PathOf("store"));
        var catalog = new SnapshotCatalog(new LegacyStore(inner));
        var segments = new List<SegmentManifest>();
        for (long v = 1; v <= 3; v++)
        {
            string path = _tmp.Write($"seg-{v}.seg", $"segment {v}");
            var segment = await catalog.UploadSegmentAsync("books", v, 0, path);
            Assert.Equal(await SnapshotCatalog.ChecksumAsync(path), segment.Xxh3);
            segments.Add(segment);
            await catalog.PublishAsync(new IndexManifest
            {
                Index = "books", Version = v, CreatedUtc = DateTimeOffset.UnixEpoch, ShardCount = 1,
                Schema = IndexSchema.DefaultText, DocCount = 1, Shards = [new ShardManifest(0, 1, [segment])],
            });
        }
        string cache = _tmp.PathOf("cache");
        var m = await catalog.MaterializeVerifiedAsync(segments[2], cache);
        Assert.Equal((SegmentSource.Downloaded, true), (m.Source, m.Verified));
        Assert.Equal("segment 3", await File.ReadAllTextAsync(m.Path));

        await File.WriteAllTextAsync(inner.TryGetLocalPath(segments[1].Key)!, "segment X");
        await Assert.ThrowsAsync<SnapshotChecksumException>(() => catalog.MaterializeVerifiedAsync(segments[1], cache));
        Assert.False(File.Exists(SnapshotCatalog.CachePath(segments[1].Key, cache)));
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(SnapshotCatalog.CachePath(segments[1].Key, cache))!));

        Assert.Equal([1L], (await catalog.PruneAsync("books", keepNewest: 2)).RemovedVersions);
        Assert.Equal([2L, 3L], await catalog.ListVersionsAsync("books"));
    }
}
