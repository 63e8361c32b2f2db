using System.IO.Hashing;
using Azure.Core;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs.Specialized;
using Shoal.Engine.Snapshots;
using static Shoal.Integration.Tests.Snapshots.SnapshotTestSupport;

namespace Shoal.Integration.Tests.Snapshots;

/// <summary>Parallel chunked transfers through Azurite, verified end to end.</summary>
public sealed class BlobTransferTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>, IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("shoal-blobxfer-").FullName;

    public void Dispose() => TempDirectory.Delete(_dir);

    [Theory]
    [InlineData(0, 0)]
    [InlineData(1, 0)]
    [InlineData((64 << 10) - 1, 0)]
    [InlineData(64 << 10, 0)]
    [InlineData((64 << 10) + 1, 0)] // two blocks; the download's tail is one byte
    [InlineData((1 << 20) + 12345, 0)] // 17 blocks and a partial one, many ranges in flight
    [InlineData((1 << 20) + 12345, 200_000)] // a first range that is not a whole number of chunks
    public async Task Files_round_trip_through_staged_blocks_and_ranges_with_checksums(int length, long initialDownload)
    {
        var store = Store(azurite, "xfer", SmallChunks with { InitialDownloadBytes = initialDownload });
        var bytes = RandomBytes(length, length);
        string source = Path.Combine(_dir, "src.seg");
        await File.WriteAllBytesAsync(source, bytes);
        var expected = new ObjectChecksum(length, XxHash3.HashToUInt64(bytes));
        string key = $"indexes/x/v00000001/shard-0000/seg-{length}-{initialDownload}.seg";

        Assert.Equal(expected, await store.UploadFileAsync(key, source));
        string back = Path.Combine(_dir, "back.seg");
        Assert.Equal(expected, await store.DownloadFileAsync(key, back, expected));
        Assert.Equal(bytes, await File.ReadAllBytesAsync(back));
        Assert.Equal([back, source], FilesUnder(_dir).Order());

        // Larger than a chunk: committed as one block per chunk, with the checksum as metadata.
        var blob = new BlockBlobClient(azurite.ConnectionString, "xfer", key);
        var blocks = await blob.GetBlockListAsync(BlockListTypes.Committed);
        int expectedBlocks = length <= SmallChunks.ChunkBytes ? 0 : (length + SmallChunks.ChunkBytes - 1) / SmallChunks.ChunkBytes;
        Assert.Equal(expectedBlocks, blocks.Value.CommittedBlocks.Count());
        Assert.Equal(expected.Xxh3Hex, (await blob.GetPropertiesAsync()).Value.Metadata["xxh3"]);
        Assert.Equal(0, store.RetryCount);
    }

    [Fact]
    public async Task Catalog_restores_into_the_cache_in_one_verified_pass()
    {
        var store = Store(azurite, "catalog");
        var catalog = new SnapshotCatalog(store);
        string seg = Path.Combine(_dir, "seg-000001.seg");
        await File.WriteAllBytesAsync(seg, RandomBytes(700_000, 1));
        var uploaded = await catalog.UploadSegmentAsync("books", 1, 0, seg);
        Assert.Equal(await SnapshotCatalog.ChecksumAsync(seg), uploaded.Xxh3);
        await catalog.PublishAsync(Manifest("books", 1, uploaded));

        var latest = await catalog.GetLatestManifestAsync("books");
        string cache = Path.Combine(_dir, "cache");
        var restored = await catalog.MaterializeVerifiedAsync(latest!.Shards[0].Segments[0], cache);
        Assert.Equal(SegmentSource.Downloaded, restored.Source);
        Assert.True(restored.Verified);
        Assert.Equal(await File.ReadAllBytesAsync(seg), await File.ReadAllBytesAsync(restored.Path));
        Assert.Equal([restored.Path, restored.Path + SnapshotCatalog.VerifiedMarkerSuffix], FilesUnder(cache).Order());

        var again = await catalog.MaterializeVerifiedAsync(uploaded, cache);
        Assert.Equal(SegmentSource.Cached, again.Source);
        Assert.Equal(restored.Path, again.Path);
    }

    [Fact]
    public async Task A_missing_object_is_not_found_without_retrying()
    {
        var store = Store(azurite, "missing");
        await store.PutBytesAsync("indexes/x/v00000001/manifest.json", "{}"u8.ToArray());
        await Assert.ThrowsAsync<FileNotFoundException>(() => store.DownloadFileAsync("indexes/x/nope", Path.Combine(_dir, "nope")));
        await Assert.ThrowsAsync<FileNotFoundException>(() => Store(azurite, "no-such-container").DownloadFileAsync("a", Path.Combine(_dir, "nope")));
        Assert.Equal(0, store.RetryCount);
        Assert.Empty(FilesUnder(_dir));
    }

    [Theory]
    [InlineData(3, 0, 1)] // 503s before sending: each one costs exactly one retry of its block, range or commit
    [InlineData(0, 2, 1)] // bodies that break off mid-range: the SDK's stream resumes them itself
    [InlineData(0, 5, 7)] // bursts of breaks that outlast the SDK's resumes: our range retry / first-range resume takes over
    [InlineData(4, 3, 2)]
    public async Task Transient_faults_are_retried_per_block_and_per_range(int failEvery, int breakEvery, int burst)
    {
        var faults = new FaultInjectionPolicy { FailEvery = failEvery, BreakEvery = breakEvery, BreakBurst = burst };
        var options = new BlobClientOptions();
        options.Retry.MaxRetries = 0; // Polly's retries only
        options.AddPolicy(faults, HttpPipelinePosition.PerRetry);
        var store = Store(azurite, "faults", SmallChunks with { MaxRetries = 6, InitialDownloadBytes = 256 << 10 }, options);
        var bytes = RandomBytes((1 << 20) + 777, 5);
        string source = Path.Combine(_dir, "src.seg");
        await File.WriteAllBytesAsync(source, bytes);
        var expected = new ObjectChecksum(bytes.Length, XxHash3.HashToUInt64(bytes));
        string key = $"indexes/x/v00000001/shard-0000/a-{failEvery}-{breakEvery}-{burst}.seg";

        Assert.Equal(expected, await store.UploadFileAsync(key, source));
        string back = Path.Combine(_dir, "back.seg");
        Assert.Equal(expected, await store.DownloadFileAsync(key, back, expected));
        Assert.Equal(bytes, await File.ReadAllBytesAsync(back));
        Assert.True(faults.Injected >= 3, $"only {faults.Injected} faults were injected");
        if (breakEvery == 0) Assert.Equal(faults.Injected, store.RetryCount);
        if (failEvery > 0 || burst > 5) Assert.True(store.RetryCount > 0, "no retries");
        Assert.Equal([back, source], FilesUnder(_dir).Order());
    }

    [Theory]
    [InlineData(64 << 10)] // the first range is done before the others fail
    [InlineData(900 << 10)] // the first range is still streaming when the others fail, and is cancelled
    public async Task A_blob_replaced_during_download_is_reported_and_nothing_is_written(long initialDownload)
    {
        var writer = Store(azurite, "replaced");
        string source = Path.Combine(_dir, "src.seg");
        await File.WriteAllBytesAsync(source, RandomBytes((1 << 20) + 5, 9));
        await writer.UploadFileAsync("indexes/x/v00000001/shard-0000/r.seg", source);

        var options = new BlobClientOptions();
        options.Retry.MaxRetries = 0;
        options.AddPolicy(new ReplacedBlobPolicy(), HttpPipelinePosition.PerRetry);
        var reader = Store(azurite, "replaced", SmallChunks with { InitialDownloadBytes = initialDownload }, options);
        string dest = Path.Combine(_dir, "out", "r.seg");
        var e = await Assert.ThrowsAsync<IOException>(() => reader.DownloadFileAsync("indexes/x/v00000001/shard-0000/r.seg", dest));
        Assert.Contains("replaced while it was being downloaded", e.Message);
        Assert.Empty(FilesUnder(Path.Combine(_dir, "out")));
        Assert.Equal(0, reader.RetryCount);
    }
}
