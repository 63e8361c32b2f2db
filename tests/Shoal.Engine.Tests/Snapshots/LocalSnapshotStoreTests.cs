using System.IO.Hashing;
using Shoal.Engine.Snapshots;

namespace Shoal.Engine.Tests.Snapshots;

public sealed class LocalSnapshotStoreTests : IDisposable
{
    private readonly TempFiles _tmp = new();

    public void Dispose() => _tmp.Dispose();

    private static byte[] Bytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData((1 << 20) - 1)]
    [InlineData((3 << 20) + 17)] // several copy buffers and a partial one
    public async Task Upload_and_download_return_the_checksum_of_the_bytes_moved(int length)
    {
        var bytes = Bytes(length, length);
        string source = _tmp.WriteBytes("src.seg", bytes);
        var store = new LocalDirectorySnapshotStore(_tmp.PathOf("store"));
        var expected = new ObjectChecksum(length, XxHash3.HashToUInt64(bytes));

        Assert.Equal(expected, await store.UploadFileAsync("a/b.seg", source));
        Assert.Equal(expected, await SnapshotCatalog.ChecksumFileAsync(store.TryGetLocalPath("a/b.seg")!));
        Assert.Equal(expected, await store.DownloadFileAsync("a/b.seg", _tmp.PathOf("out/b.seg"), expected));
        Assert.Equal(bytes, await File.ReadAllBytesAsync(_tmp.PathOf("out/b.seg")));
        Assert.Equal(expected.Xxh3Hex, await SnapshotCatalog.ChecksumAsync(source));
    }

    [Fact]
    public async Task A_download_that_fails_its_checksum_leaves_the_destination_alone()
    {
        string source = _tmp.WriteBytes("src.seg", Bytes(100_000, 1));
        var store = new LocalDirectorySnapshotStore(_tmp.PathOf("store"));
        var sum = await store.UploadFileAsync("indexes/x/v00000003/shard-0000/seg-000001.seg", source);
        string dest = _tmp.PathOf("out/seg.seg");
        Directory.CreateDirectory(_tmp.PathOf("out"));
        await File.WriteAllTextAsync(dest, "previous content");

        var wrong = sum with { Xxh3 = sum.Xxh3 ^ 1 };
        var e = await Assert.ThrowsAsync<SnapshotChecksumException>(() => store.DownloadFileAsync("indexes/x/v00000003/shard-0000/seg-000001.seg", dest, wrong));
        Assert.Equal("x", e.Index);
        Assert.Equal(3, e.Version);
        Assert.Equal(sum.Xxh3, e.ActualXxh3);
        Assert.Equal("previous content", await File.ReadAllTextAsync(dest));
        Assert.Equal([dest], Directory.GetFiles(_tmp.PathOf("out")));

        // A size mismatch is caught before copying anything.
        var shorter = sum with { Bytes = sum.Bytes - 1 };
        e = await Assert.ThrowsAsync<SnapshotChecksumException>(() => store.DownloadFileAsync("indexes/x/v00000003/shard-0000/seg-000001.seg", dest, shorter));
        Assert.Null(e.ActualXxh3);
        Assert.Equal(sum.Bytes, e.ActualBytes);
        Assert.Equal([dest], Directory.GetFiles(_tmp.PathOf("out")));

        await Assert.ThrowsAsync<FileNotFoundException>(() => store.DownloadFileAsync("indexes/x/missing", dest));
    }

    [Fact]
    public async Task Deleting_a_version_prefix_removes_its_directories()
    {
        var store = new LocalDirectorySnapshotStore(_tmp.PathOf("store"));
        string source = _tmp.WriteBytes("src.seg", Bytes(10, 2));
        await store.PutFileAsync("indexes/x/v00000001/shard-0000/seg-000001.seg", source);
        await store.PutFileAsync("indexes/x/v00000002/shard-0000/seg-000001.seg", source);
        await store.DeletePrefixAsync("indexes/x/v00000001/");
        Assert.False(Directory.Exists(Path.Combine(store.Root, "indexes", "x", "v00000001")));
        Assert.True(Directory.Exists(Path.Combine(store.Root, "indexes", "x", "v00000002")));
        await store.DeleteAsync("indexes/x/v00000002/shard-0000/seg-000001.seg");
        await store.DeleteAsync("indexes/x/v00000002/shard-0000/seg-000001.seg"); // gone already: fine
        Assert.Empty(await store.ListAsync("indexes/"));
    }
}
