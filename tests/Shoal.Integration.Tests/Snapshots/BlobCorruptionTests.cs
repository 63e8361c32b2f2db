using Azure.Storage.Blobs;
using Shoal.Engine.Snapshots;
using static Shoal.Integration.Tests.Snapshots.SnapshotTestSupport;

namespace Shoal.Integration.Tests.Snapshots;

/// <summary>Corrupted blobs are caught by checksum, reported clearly, kept out of the cache; the previous version still serves.</summary>
public sealed class BlobCorruptionTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>, IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("shoal-blobcorrupt-").FullName;

    public void Dispose() => TempDirectory.Delete(_dir);

    private string Cache => Path.Combine(_dir, "cache");

    private async Task<SegmentManifest> PublishAsync(SnapshotCatalog catalog, string index, long version, int length)
    {
        string seg = Path.Combine(_dir, $"build-{version}", "seg-000001.seg");
        Directory.CreateDirectory(Path.GetDirectoryName(seg)!);
        await File.WriteAllBytesAsync(seg, RandomBytes(length, (int)version));
        var uploaded = await catalog.UploadSegmentAsync(index, version, 0, seg);
        await catalog.PublishAsync(Manifest(index, version, uploaded));
        return uploaded;
    }

    /// <summary>Flips one byte of a stored blob with the plain SDK (same size, new content).</summary>
    private async Task FlipByteAsync(string container, string key, int position)
    {
        var blob = new BlobClient(azurite.ConnectionString, container, key);
        var bytes = (await blob.DownloadContentAsync()).Value.Content.ToArray();
        bytes[position] ^= 0x5A;
        await blob.UploadAsync(new BinaryData(bytes), overwrite: true);
    }

    [Theory]
    [InlineData(100)] // in the streamed first range
    [InlineData(500_000)] // in a parallel range
    [InlineData(999_999)] // the very last byte
    public async Task A_flipped_byte_is_detected_reported_and_never_cached_and_the_previous_version_serves(int position)
    {
        string container = $"corrupt-{position}";
        var catalog = new SnapshotCatalog(Store(azurite, container));
        var v1 = await PublishAsync(catalog, "books", 1, 1_000_000);
        var v2 = await PublishAsync(catalog, "books", 2, 1_000_000);
        await FlipByteAsync(container, v2.Key, position);

        var latest = await catalog.GetLatestManifestAsync("books");
        Assert.Equal(2, latest!.Version);
        var e = await Assert.ThrowsAsync<SnapshotChecksumException>(() => catalog.MaterializeVerifiedAsync(latest.Shards[0].Segments[0], Cache));
        Assert.Equal("books", e.Index);
        Assert.Equal(2, e.Version);
        Assert.Equal(v2.Key, e.Key);
        Assert.Equal(v2.Xxh3, e.Expected.Xxh3Hex);
        Assert.NotNull(e.ActualXxh3);
        Assert.NotEqual(e.Expected.Xxh3, e.ActualXxh3);
        Assert.Contains("index 'books', version 2", e.Message);
        Assert.Contains(v2.Key, e.Message);
        Assert.Contains(v2.Xxh3, e.Message);
        Assert.Contains($"{e.ActualXxh3:x16}", e.Message);
        Assert.Contains("blob container", e.Message);
        Assert.Empty(FilesUnder(Cache)); // no segment, no temporary, no marker

        // The caller falls back: the newest version older than the bad one restores cleanly.
        var previous = await catalog.FindPreviousManifestAsync("books", e.Version!.Value);
        Assert.Equal(1, previous.Manifest!.Version);
        Assert.Empty(previous.Skipped);
        var restored = await catalog.MaterializeVerifiedAsync(previous.Manifest.Shards[0].Segments[0], Cache);
        Assert.True(restored.Verified);
        Assert.Equal(v1.Xxh3, await SnapshotCatalog.ChecksumAsync(restored.Path));

        // The legacy entry point reports the same failure as an InvalidDataException.
        var legacy = await Assert.ThrowsAsync<InvalidDataException>(() => catalog.MaterializeAsync(v2, Cache));
        Assert.Contains(v2.Key, legacy.Message);
        Assert.Equal([restored.Path, restored.Path + SnapshotCatalog.VerifiedMarkerSuffix], FilesUnder(Cache).Order());
    }

    [Fact]
    public async Task A_truncated_blob_is_refused_before_it_is_downloaded()
    {
        var catalog = new SnapshotCatalog(Store(azurite, "truncated"));
        var v1 = await PublishAsync(catalog, "books", 1, 300_000);
        var blob = new BlobClient(azurite.ConnectionString, "truncated", v1.Key);
        var bytes = (await blob.DownloadContentAsync()).Value.Content.ToArray();
        await blob.UploadAsync(new BinaryData(bytes.AsMemory(0, 299_999)), overwrite: true);

        var e = await Assert.ThrowsAsync<SnapshotChecksumException>(() => catalog.MaterializeVerifiedAsync(v1, Cache));
        Assert.Equal(299_999, e.ActualBytes);
        Assert.Null(e.ActualXxh3);
        Assert.Contains("300000 bytes", e.Message);
        Assert.Empty(FilesUnder(Cache));
    }

    [Fact]
    public async Task A_corrupt_latest_manifest_is_reported_and_skipped_by_the_fallback_lookup()
    {
        var store = Store(azurite, "badmanifest");
        var catalog = new SnapshotCatalog(store);
        await PublishAsync(catalog, "books", 1, 1000);
        await PublishAsync(catalog, "books", 2, 1000);
        await store.PutBytesAsync(SnapshotCatalog.ManifestKey("books", 2), "{\"index\":"u8.ToArray());

        var e = await Assert.ThrowsAsync<InvalidDataException>(() => catalog.GetLatestManifestAsync("books"));
        Assert.Contains("version 2", e.Message);
        var lookup = await catalog.FindLatestReadableManifestAsync("books");
        Assert.Equal(1, lookup.Manifest!.Version);
        Assert.Equal(2, Assert.Single(lookup.Skipped).Version);
    }
}
