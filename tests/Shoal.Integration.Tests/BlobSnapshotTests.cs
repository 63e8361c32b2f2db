using System.Security.Cryptography;
using Shoal.Engine.Snapshots;

namespace Shoal.Integration.Tests;

public sealed class BlobSnapshotTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>, IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("shoal-blob-").FullName;

    public void Dispose() => TempDirectory.Delete(_dir);

    [Fact]
    public async Task Files_round_trip_through_parallel_chunked_transfers()
    {
        var store = azurite.Store("roundtrip", chunkBytes: 1 << 20, parallelism: 4);
        string source = Path.Combine(_dir, "big.bin");
        var bytes = new byte[(9 << 20) + 12345]; // 9 MiB and a tail: several blocks and a partial one
        new Random(3).NextBytes(bytes);
        await File.WriteAllBytesAsync(source, bytes);

        await store.PutFileAsync("indexes/x/v00000001/shard-0000/seg-000001.seg", source);
        string back = Path.Combine(_dir, "back.bin");
        await store.GetFileAsync("indexes/x/v00000001/shard-0000/seg-000001.seg", back);
        Assert.Equal(SHA256.HashData(bytes), SHA256.HashData(await File.ReadAllBytesAsync(back)));

        await store.PutBytesAsync("indexes/x/v00000001/manifest.json", "{}"u8.ToArray());
        Assert.Equal("{}"u8.ToArray(), await store.GetBytesAsync("indexes/x/v00000001/manifest.json"));
        Assert.Null(await store.GetBytesAsync("indexes/x/missing"));
        Assert.Equal(
            ["indexes/x/v00000001/manifest.json", "indexes/x/v00000001/shard-0000/seg-000001.seg"],
            await store.ListAsync("indexes/x/"));
        await Assert.ThrowsAsync<FileNotFoundException>(() => store.GetFileAsync("indexes/x/nope", Path.Combine(_dir, "nope")));

        await store.DeletePrefixAsync("indexes/x/");
        Assert.Empty(await store.ListAsync("indexes/"));
    }

    [Fact]
    public async Task Catalog_restores_from_blobs_and_detects_a_corrupted_blob()
    {
        var store = azurite.Store("catalog");
        var catalog = new SnapshotCatalog(store);
        string seg = Path.Combine(_dir, "seg-000001.seg");
        await File.WriteAllBytesAsync(seg, RandomNumberGenerator.GetBytes(300_000));
        var uploaded = await catalog.UploadSegmentAsync("books", 1, 0, seg);
        await catalog.PublishAsync(new IndexManifest
        {
            Index = "books", Version = 1, CreatedUtc = DateTimeOffset.UtcNow, ShardCount = 1,
            Schema = IndexSchema.DefaultText, DocCount = 1, Shards = [new ShardManifest(0, 1, [uploaded])],
        });

        var latest = await catalog.GetLatestManifestAsync("books");
        string restored = await catalog.MaterializeAsync(latest!.Shards[0].Segments[0], Path.Combine(_dir, "cache"));
        Assert.Equal(await File.ReadAllBytesAsync(seg), await File.ReadAllBytesAsync(restored));

        // Someone overwrites the blob with different bytes of the same length.
        string evil = Path.Combine(_dir, "evil.seg");
        var corrupt = await File.ReadAllBytesAsync(seg);
        corrupt[1000] ^= 0x5A;
        await File.WriteAllBytesAsync(evil, corrupt);
        await store.PutFileAsync(uploaded.Key, evil);
        var e = await Assert.ThrowsAsync<InvalidDataException>(() => catalog.MaterializeAsync(uploaded, Path.Combine(_dir, "cache2")));
        Assert.Contains("checksum", e.Message);
        Assert.Contains(uploaded.Key, e.Message);
    }
}
