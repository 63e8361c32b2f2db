using Shoal.Engine.Snapshots;

namespace Shoal.Engine.Tests.Snapshots;

public sealed class SnapshotCatalogTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("shoal-snap-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static IndexManifest Manifest(string index, long version, SegmentManifest segment) => new()
    {
        Index = index,
        Version = version,
        CreatedUtc = DateTimeOffset.UnixEpoch,
        ShardCount = 1,
        Schema = IndexSchema.DefaultText,
        DocCount = 3,
        Shards = [new ShardManifest(0, 3, [segment])],
    };

    [Fact]
    public async Task A_version_exists_only_once_its_manifest_is_published()
    {
        var catalog = new SnapshotCatalog(new LocalDirectorySnapshotStore(Path.Combine(_dir, "store")));
        string seg = Path.Combine(_dir, "seg-000001.seg");
        await File.WriteAllTextAsync(seg, "segment bytes");

        var uploaded = await catalog.UploadSegmentAsync("books", 1, 0, seg);
        Assert.Empty(await catalog.ListIndexesAsync());
        Assert.Null(await catalog.GetLatestManifestAsync("books"));

        await catalog.PublishAsync(Manifest("books", 1, uploaded));
        await catalog.PublishAsync(Manifest("books", 2, uploaded));
        Assert.Equal(["books"], await catalog.ListIndexesAsync());
        Assert.Equal([1L, 2L], await catalog.ListVersionsAsync("books"));
        var latest = await catalog.GetLatestManifestAsync("books");
        Assert.Equal(2, latest!.Version);
        Assert.Equal(uploaded, latest.Shards[0].Segments[0]);
    }

    [Fact]
    public async Task Materialize_verifies_the_checksum()
    {
        var store = new LocalDirectorySnapshotStore(Path.Combine(_dir, "store"));
        var catalog = new SnapshotCatalog(store);
        string seg = Path.Combine(_dir, "seg-000001.seg");
        await File.WriteAllTextAsync(seg, "segment bytes");
        var uploaded = await catalog.UploadSegmentAsync("books", 1, 0, seg);

        string ok = await catalog.MaterializeAsync(uploaded, Path.Combine(_dir, "cache"));
        Assert.Equal("segment bytes", await File.ReadAllTextAsync(ok));

        await File.WriteAllTextAsync(store.TryGetLocalPath(uploaded.Key)!, "segment bytez");
        var e = await Assert.ThrowsAsync<InvalidDataException>(() => catalog.MaterializeAsync(uploaded, Path.Combine(_dir, "cache")));
        Assert.Contains(uploaded.Key, e.Message);
        Assert.Contains("checksum", e.Message);

        // The newer API reports the same failure as a typed exception with both checksums.
        var typed = await Assert.ThrowsAsync<SnapshotChecksumException>(() => catalog.MaterializeVerifiedAsync(uploaded, Path.Combine(_dir, "cache")));
        Assert.Equal("books", typed.Index);
        Assert.Equal(1, typed.Version);
        Assert.Equal(uploaded.Key, typed.Key);
        Assert.Equal(uploaded.Xxh3, typed.Expected.Xxh3Hex);
        Assert.NotNull(typed.ActualXxh3);
        Assert.Contains(uploaded.Xxh3, typed.Message);
        Assert.Contains($"{typed.ActualXxh3:x16}", typed.Message);
        Assert.Contains("index 'books', version 1", typed.Message);
    }

    [Theory]
    [InlineData("scifact", true)]
    [InlineData("msmarco-v2.1_passages", true)]
    [InlineData("", false)]
    [InlineData("Upper", false)]
    [InlineData("a/b", false)]
    [InlineData("-lead", false)]
    public void Index_names(string name, bool valid) => Assert.Equal(valid, SnapshotCatalog.ValidateIndexName(name) is null);

    [Fact]
    public void Manifest_json_round_trips_and_rejects_garbage()
    {
        var m = Manifest("x", 3, new SegmentManifest("k", 10, "00ff"));
        var back = IndexManifest.FromJson(m.ToJson(), "test");
        Assert.Equal(m.Version, back.Version);
        Assert.Equal(m.Shards[0].Segments, back.Shards[0].Segments);
        Assert.Throws<InvalidDataException>(() => IndexManifest.FromJson("{not json"u8, "bad.json"));
    }
}
