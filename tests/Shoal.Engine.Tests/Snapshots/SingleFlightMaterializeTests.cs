using Shoal.Engine.Snapshots;

namespace Shoal.Engine.Tests.Snapshots;

/// <summary>
/// Concurrent materializations of one segment into one cache directory (shard replicas of a silo,
/// a shard and a merge) share a single download; a failed download fails every waiter and is not
/// remembered; a caller's cancellation ends its own wait only.
/// </summary>
public sealed class SingleFlightMaterializeTests : IDisposable
{
    private readonly TempFiles _tmp = new();
    private readonly GatedStore _store;

    public SingleFlightMaterializeTests() => _store = new GatedStore(new LocalDirectorySnapshotStore(_tmp.PathOf("store")));

    public void Dispose()
    {
        _store.Open();
        _tmp.Dispose();
    }

    private string Cache => _tmp.PathOf("cache");

    private async Task<(SegmentManifest Segment, byte[] Bytes)> UploadAsync(int length = 300_000)
    {
        var bytes = new byte[length];
        new Random(11).NextBytes(bytes);
        string path = _tmp.PathOf("seg-000001.seg");
        await File.WriteAllBytesAsync(path, bytes);
        return (await new SnapshotCatalog(_store).UploadSegmentAsync("books", 1, 0, path), bytes);
    }

    /// <summary>Starts <paramref name="n"/> materializations, each through its own catalog (as replicas have), and waits until the first download is held at the gate.</summary>
    private async Task<Task<MaterializedSegment>[]> StartAsync(SegmentManifest segment, int n, Func<int, CancellationToken>? token = null)
    {
        var calls = Enumerable.Range(0, n)
            .Select(i => Task.Run(() => new SnapshotCatalog(_store).MaterializeVerifiedAsync(segment, Cache, token?.Invoke(i) ?? default)))
            .ToArray();
        await _store.WaitForDownloadsAsync(1);
        // Give the other callers time to arrive while the download is held (they would start their own without single-flight).
        await Task.Delay(200);
        return calls;
    }

    [Fact]
    public async Task Eight_concurrent_materializations_of_one_segment_download_it_once_and_all_get_the_verified_file()
    {
        var (segment, bytes) = await UploadAsync();
        _store.Close();
        var calls = await StartAsync(segment, 8);
        string path = SnapshotCatalog.CachePath(segment.Key, Cache);
        Assert.True(SnapshotCatalog.IsInFlight(path));
        Assert.All(calls, c => Assert.False(c.IsCompleted));

        _store.Open();
        var results = await Task.WhenAll(calls).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(1, _store.Downloads);
        Assert.All(results, r =>
        {
            Assert.Equal(path, r.Path);
            Assert.True(r.Verified);
            Assert.Equal(SegmentSource.Downloaded, r.Source);
        });
        Assert.Equal(bytes, await File.ReadAllBytesAsync(path));
        Assert.True(File.Exists(path + SnapshotCatalog.VerifiedMarkerSuffix));
        Assert.False(SnapshotCatalog.IsInFlight(path));

        // Afterwards the cache answers without a download.
        var later = await new SnapshotCatalog(_store).MaterializeVerifiedAsync(segment, Cache);
        Assert.Equal(SegmentSource.Cached, later.Source);
        Assert.Equal(1, _store.Downloads);
    }

    [Fact]
    public async Task A_failed_shared_download_fails_every_waiter_and_the_next_call_downloads_again()
    {
        var (segment, bytes) = await UploadAsync();
        _store.Close();
        _store.FailNext = true;
        var calls = await StartAsync(segment, 8);
        _store.Open();
        foreach (var call in calls)
        {
            var e = await Assert.ThrowsAsync<IOException>(() => call.WaitAsync(TimeSpan.FromSeconds(30)));
            Assert.Equal(GatedStore.InjectedFailure, e.Message);
        }
        Assert.Equal(1, _store.Downloads);
        string path = SnapshotCatalog.CachePath(segment.Key, Cache);
        Assert.False(SnapshotCatalog.IsInFlight(path));
        Assert.False(File.Exists(path));

        // The failure is not cached: the next call retries and succeeds.
        var retried = await new SnapshotCatalog(_store).MaterializeVerifiedAsync(segment, Cache).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(2, _store.Downloads);
        Assert.Equal(SegmentSource.Downloaded, retried.Source);
        Assert.True(retried.Verified);
        Assert.Equal(bytes, await File.ReadAllBytesAsync(retried.Path));
    }

    [Fact]
    public async Task A_caller_that_cancels_stops_waiting_without_cancelling_the_shared_download_for_the_others()
    {
        var (segment, bytes) = await UploadAsync();
        _store.Close();
        using var cancel = new CancellationTokenSource();
        // Caller 0 starts first, so it is the one whose call runs the download.
        var first = Task.Run(() => new SnapshotCatalog(_store).MaterializeVerifiedAsync(segment, Cache, cancel.Token));
        await _store.WaitForDownloadsAsync(1);
        var others = await StartAsync(segment, 4);

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => first.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.All(others, c => Assert.False(c.IsCompleted));
        Assert.False(_store.DownloadCancelled);

        _store.Open();
        var results = await Task.WhenAll(others).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(1, _store.Downloads);
        Assert.All(results, r => Assert.Equal(SegmentSource.Downloaded, r.Source));
        Assert.Equal(bytes, await File.ReadAllBytesAsync(results[0].Path));

        // An already cancelled token ends the call at once, downloading nothing.
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => new SnapshotCatalog(_store).MaterializeVerifiedAsync(segment, Cache, cancel.Token));
        Assert.Equal(1, _store.Downloads);
    }

    /// <summary>A remote-looking store whose downloads are counted and held at a gate; the next download can be made to fail.</summary>
    private sealed class GatedStore(LocalDirectorySnapshotStore inner) : ISnapshotStore
    {
        public const string InjectedFailure = "injected download failure";
        private volatile TaskCompletionSource _gate = Opened();
        private int _downloads;

        public int Downloads => Volatile.Read(ref _downloads);
        public volatile bool FailNext;
        public volatile bool DownloadCancelled;

        private static TaskCompletionSource Opened()
        {
            var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            gate.SetResult();
            return gate;
        }

        public void Close() => _gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Open() => _gate.TrySetResult();

        public async Task WaitForDownloadsAsync(int count)
        {
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (Downloads < count)
            {
                if (DateTime.UtcNow > deadline) throw new TimeoutException($"expected {count} downloads to start, saw {Downloads}");
                await Task.Delay(10);
            }
        }

        public async Task<ObjectChecksum> DownloadFileAsync(string key, string destinationPath, ObjectChecksum? expected = null, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref _downloads);
            await _gate.Task;
            if (cancellationToken.IsCancellationRequested) DownloadCancelled = true;
            cancellationToken.ThrowIfCancellationRequested();
            if (FailNext)
            {
                FailNext = false;
                throw new IOException(InjectedFailure);
            }
            return await inner.DownloadFileAsync(key, destinationPath, expected, cancellationToken);
        }

        public string Description => "gated " + inner.Description;
        public Task PutFileAsync(string key, string sourcePath, CancellationToken cancellationToken = default) => inner.PutFileAsync(key, sourcePath, cancellationToken);
        public Task<ObjectChecksum> UploadFileAsync(string key, string sourcePath, CancellationToken cancellationToken = default) => inner.UploadFileAsync(key, sourcePath, cancellationToken);
        public Task GetFileAsync(string key, string destinationPath, CancellationToken cancellationToken = default) => DownloadFileAsync(key, destinationPath, null, cancellationToken);
        public Task PutBytesAsync(string key, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default) => inner.PutBytesAsync(key, data, cancellationToken);
        public Task<byte[]?> GetBytesAsync(string key, CancellationToken cancellationToken = default) => inner.GetBytesAsync(key, cancellationToken);
        public Task<IReadOnlyList<string>> ListAsync(string prefix, CancellationToken cancellationToken = default) => inner.ListAsync(prefix, cancellationToken);
        public Task DeletePrefixAsync(string prefix, CancellationToken cancellationToken = default) => inner.DeletePrefixAsync(prefix, cancellationToken);
        public Task DeleteAsync(string key, CancellationToken cancellationToken = default) => inner.DeleteAsync(key, cancellationToken);
        public Task<bool> CompareAndSwapAsync(string key, Func<byte[]?, bool> expected, ReadOnlyMemory<byte>? replacement, CancellationToken cancellationToken = default) => inner.CompareAndSwapAsync(key, expected, replacement, cancellationToken);
        public string? TryGetLocalPath(string key) => null;
    }
}
