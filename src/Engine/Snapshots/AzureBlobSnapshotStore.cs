using System.Buffers;
using System.Globalization;
using System.IO.Hashing;
using System.Runtime.ExceptionServices;
using System.Text;
using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs.Specialized;
using Microsoft.Win32.SafeHandles;
using Polly;
using Polly.Retry;

namespace Shoal.Engine.Snapshots;

/// <summary>
/// A snapshot store in an Azure Blob Storage container (Azurite locally).
/// <para>
/// Uploads read a file once: each <see cref="BlobTransferSettings.ChunkBytes"/> block is hashed
/// (XXH3-64, in order) as it is read and staged, up to <see cref="BlobTransferSettings.Parallelism"/>
/// blocks in flight; the block list commits last, so the object appears whole or not at all.
/// Files up to <see cref="BlobTransferSettings.SingleRequestBytes"/> go in one request.
/// Downloads stream a first range (<see cref="BlobTransferSettings.InitialDownloadBytes"/>) into a
/// temporary file, hashing it as it arrives; as soon as its headers give the object's length and
/// ETag, the rest is fetched as parallel ranges pinned to that ETag (a concurrent overwrite cannot
/// mix versions), each written at its offset and hashed in order when its turn comes. The
/// temporary file is renamed into place only when size and checksum match the expected ones.
/// </para>
/// <para>
/// Every request (a block, a range, a commit) is retried on its own with exponential back-off on
/// transient failures: 408, 429, 5xx, dropped connections, I/O errors and timeouts; the streamed
/// first range resumes from its last byte. (The SDK's download stream also resumes a broken body
/// by itself, up to 5 times, before these retries see it.) When this store creates the client
/// (<see cref="Create(string, string, BlobTransferSettings, BlobClientOptions?)"/> without client
/// options) the SDK's own request retries are off, so these are the only ones.
/// </para>
/// </summary>
public sealed class AzureBlobSnapshotStore : ISnapshotStore
{
    private const string ChecksumMetadata = "xxh3";

    private readonly BlobContainerClient _container;
    private readonly BlobTransferSettings _settings;
    private readonly ResiliencePipeline _retry;
    private readonly ArrayPool<byte> _pool;
    private int _created;
    private long _retries;

    /// <summary>Uses <paramref name="container"/> (created on first write when missing).</summary>
    /// <param name="container">The container.</param>
    /// <param name="chunkBytes">Block size of uploads and range size of downloads.</param>
    /// <param name="parallelism">Blocks or ranges in flight per file.</param>
    /// <param name="maxRetries">Retries of a transient failure, per request.</param>
    public AzureBlobSnapshotStore(BlobContainerClient container, int chunkBytes = BlobTransferSettings.DefaultChunkBytes, int parallelism = BlobTransferSettings.DefaultParallelism, int maxRetries = 4)
        : this(container, new BlobTransferSettings { ChunkBytes = chunkBytes, Parallelism = parallelism, MaxRetries = maxRetries })
    {
    }

    /// <summary>Uses <paramref name="container"/> (created on first write when missing) with <paramref name="settings"/>.</summary>
    public AzureBlobSnapshotStore(BlobContainerClient container, BlobTransferSettings settings)
    {
        ArgumentNullException.ThrowIfNull(container);
        ArgumentNullException.ThrowIfNull(settings);
        settings.Validate();
        _container = container;
        _settings = settings;
        int largest = Math.Max(settings.ChunkBytes, settings.SingleRequestLimit);
        _pool = ArrayPool<byte>.Create(largest, settings.Parallelism + settings.ReorderWindow + 2);
        _retry = settings.MaxRetries == 0
            ? ResiliencePipeline.Empty
            : new ResiliencePipelineBuilder()
                .AddRetry(new RetryStrategyOptions
                {
                    MaxRetryAttempts = settings.MaxRetries,
                    BackoffType = DelayBackoffType.Exponential,
                    UseJitter = true,
                    Delay = settings.RetryDelay,
                    ShouldHandle = args => ValueTask.FromResult(args.Outcome.Exception is { } e && IsTransient(e, args.Context.CancellationToken)),
                    OnRetry = _ =>
                    {
                        Interlocked.Increment(ref _retries);
                        return default;
                    },
                })
                .Build();
    }

    /// <summary>A store for a connection string and container name (e.g. Azurite's development account).</summary>
    public static AzureBlobSnapshotStore Create(string connectionString, string containerName, int chunkBytes = BlobTransferSettings.DefaultChunkBytes, int parallelism = BlobTransferSettings.DefaultParallelism) =>
        Create(connectionString, containerName, new BlobTransferSettings { ChunkBytes = chunkBytes, Parallelism = parallelism });

    /// <summary>
    /// A store for a connection string and container name. Without <paramref name="clientOptions"/>
    /// the SDK's own retries are turned off (this store retries each request itself); given
    /// options are used as they are.
    /// </summary>
    public static AzureBlobSnapshotStore Create(string connectionString, string containerName, BlobTransferSettings settings, BlobClientOptions? clientOptions = null)
    {
        if (clientOptions is null)
        {
            clientOptions = new BlobClientOptions();
            clientOptions.Retry.MaxRetries = 0;
        }
        return new AzureBlobSnapshotStore(new BlobContainerClient(connectionString, containerName, clientOptions), settings);
    }

    /// <inheritdoc />
    public string Description => $"blob container {_container.Uri}";

    /// <summary>How files are moved.</summary>
    public BlobTransferSettings Settings => _settings;

    /// <summary>Requests retried after a transient failure since this store was created.</summary>
    public long RetryCount => Interlocked.Read(ref _retries);

    /// <summary>Whether <paramref name="e"/> is worth retrying: 408, 429, 5xx, transport and I/O failures, timeouts.</summary>
    internal static bool IsTransient(Exception e, CancellationToken cancellationToken) => e switch
    {
        SnapshotChecksumException => false,
        RequestFailedException r => r.Status is 0 or 408 or 429 or >= 500,
        FileNotFoundException or DirectoryNotFoundException or PathTooLongException => false,
        IOException or HttpRequestException or TimeoutException => true,
        OperationCanceledException => !cancellationToken.IsCancellationRequested,
        AggregateException a => a.InnerExceptions.Count > 0 && a.InnerExceptions.All(i => IsTransient(i, cancellationToken)),
        _ => false,
    };

    private async Task EnsureContainerAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _created) == 1) return;
        await _retry.ExecuteAsync(async ct => await _container.CreateIfNotExistsAsync(cancellationToken: ct).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);
        Volatile.Write(ref _created, 1);
    }

    private static Dictionary<string, string> MetadataFor(ObjectChecksum sum) => new(StringComparer.Ordinal) { [ChecksumMetadata] = sum.Xxh3Hex };

    /// <inheritdoc />
    public Task PutFileAsync(string key, string sourcePath, CancellationToken cancellationToken = default) =>
        UploadFileAsync(key, sourcePath, cancellationToken);

    /// <inheritdoc />
    public async Task<ObjectChecksum> UploadFileAsync(string key, string sourcePath, CancellationToken cancellationToken = default)
    {
        await EnsureContainerAsync(cancellationToken).ConfigureAwait(false);
        var blob = _container.GetBlockBlobClient(key);
        using var file = File.OpenHandle(sourcePath, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.Asynchronous | FileOptions.SequentialScan);
        long length = RandomAccess.GetLength(file);
        return length <= _settings.SingleRequestLimit
            ? await UploadSingleAsync(blob, file, (int)length, cancellationToken).ConfigureAwait(false)
            : await UploadBlocksAsync(blob, file, length, cancellationToken).ConfigureAwait(false);
    }

    private async Task<ObjectChecksum> UploadSingleAsync(BlockBlobClient blob, SafeFileHandle file, int length, CancellationToken cancellationToken)
    {
        byte[] buffer = _pool.Rent(Math.Max(length, 1));
        try
        {
            await ReadFileExactlyAsync(file, buffer.AsMemory(0, length), 0, cancellationToken).ConfigureAwait(false);
            var sum = new ObjectChecksum(length, XxHash3.HashToUInt64(buffer.AsSpan(0, length)));
            await _retry.ExecuteAsync(async ct =>
            {
                using var content = new MemoryStream(buffer, 0, length, writable: false);
                await blob.UploadAsync(content, new BlobUploadOptions { Metadata = MetadataFor(sum) }, ct).ConfigureAwait(false);
            }, cancellationToken).ConfigureAwait(false);
            return sum;
        }
        finally
        {
            _pool.Return(buffer);
        }
    }

    private async Task<ObjectChecksum> UploadBlocksAsync(BlockBlobClient blob, SafeFileHandle file, long length, CancellationToken cancellationToken)
    {
        int chunk = _settings.ChunkBytes;
        long blocks = (length + chunk - 1) / chunk;
        if (blocks > 50_000)
            throw new ArgumentException($"A {length}-byte file needs {blocks} blocks of {chunk} bytes; a block blob holds at most 50,000: raise {nameof(BlobTransferSettings.ChunkBytes)}.");
        int count = (int)blocks;
        string upload = Guid.NewGuid().ToString("N");
        var ids = new string[count];
        var hash = new XxHash3();
        using var failed = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var slots = new SemaphoreSlim(_settings.Parallelism);
        var tasks = new List<Task>(count);
        Exception? producerFailure = null;
        try
        {
            // One reader: blocks are read and hashed in order while earlier ones are being staged.
            for (int i = 0; i < count; i++)
            {
                await slots.WaitAsync(failed.Token).ConfigureAwait(false);
                long offset = (long)i * chunk;
                int len = (int)Math.Min(chunk, length - offset);
                byte[] buffer = _pool.Rent(len);
                try
                {
                    await ReadFileExactlyAsync(file, buffer.AsMemory(0, len), offset, failed.Token).ConfigureAwait(false);
                }
                catch
                {
                    _pool.Return(buffer);
                    slots.Release();
                    throw;
                }
                hash.Append(buffer.AsSpan(0, len));
                ids[i] = Convert.ToBase64String(Encoding.ASCII.GetBytes($"{upload}-{i:D6}"));
                tasks.Add(StageAsync(blob, ids[i], buffer, len, slots, failed));
            }
        }
#pragma warning disable CA1031 // kept and rethrown by AwaitAllAsync once the staged blocks have drained
        catch (Exception e)
#pragma warning restore CA1031
        {
            producerFailure = e;
            await failed.CancelAsync().ConfigureAwait(false);
        }
        await AwaitAllAsync(tasks, producerFailure, cancellationToken).ConfigureAwait(false);

        var sum = new ObjectChecksum(length, hash.GetCurrentHashAsUInt64());
        await _retry.ExecuteAsync(async ct =>
        {
            await blob.CommitBlockListAsync(ids, new CommitBlockListOptions { Metadata = MetadataFor(sum) }, ct).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
        return sum;
    }

    private async Task StageAsync(BlockBlobClient blob, string id, byte[] buffer, int length, SemaphoreSlim slots, CancellationTokenSource failed)
    {
        try
        {
            await _retry.ExecuteAsync(async ct =>
            {
                using var content = new MemoryStream(buffer, 0, length, writable: false);
                await blob.StageBlockAsync(id, content, cancellationToken: ct).ConfigureAwait(false);
            }, failed.Token).ConfigureAwait(false);
        }
        catch
        {
            await failed.CancelAsync().ConfigureAwait(false);
            throw;
        }
        finally
        {
            _pool.Return(buffer);
            slots.Release();
        }
    }

    /// <inheritdoc />
    public Task GetFileAsync(string key, string destinationPath, CancellationToken cancellationToken = default) =>
        DownloadFileAsync(key, destinationPath, null, cancellationToken);

    /// <inheritdoc />
    public async Task<ObjectChecksum> DownloadFileAsync(string key, string destinationPath, ObjectChecksum? expected = null, CancellationToken cancellationToken = default)
    {
        var blob = _container.GetBlobClient(key);
        string dest = Path.GetFullPath(destinationPath);
        Directory.CreateDirectory(Path.GetDirectoryName(dest)!);
        string temp = SnapshotFiles.TempPathFor(dest);
        try
        {
            var sum = await DownloadToTempAsync(blob, key, temp, expected, cancellationToken).ConfigureAwait(false);
            if (expected is { } e && e != sum)
                throw new SnapshotChecksumException(Description, key, e, sum.Bytes, sum.Xxh3, $"the download was discarded and '{dest}' was not written");
            File.Move(temp, dest, overwrite: true);
            return sum;
        }
        finally
        {
            SnapshotFiles.TryDelete(temp);
        }
    }

    private async Task<ObjectChecksum> DownloadToTempAsync(BlobClient blob, string key, string temp, ObjectChecksum? expected, CancellationToken cancellationToken)
    {
        // The first range streams (hashed and written as it arrives); its response also tells the
        // object's length and ETag, so the remaining ranges start right away, alongside it.
        long headRequest = _settings.InitialDownloadLimit;
        var head = await OpenRangeAsync(blob, key, 0, headRequest, null, cancellationToken).ConfigureAwait(false);
        try
        {
            long total = head.Total;
            if (expected is { } e && e.Bytes != total)
                throw new SnapshotChecksumException(Description, key, e, total, null, "nothing was written");
            using var handle = SnapshotFiles.CreateForWrite(temp, total);
            long headLength = Math.Min(headRequest, total);
            int chunk = _settings.ChunkBytes;
            int tailCount = checked((int)((total - headLength + chunk - 1) / chunk));
            using var failed = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            using var buffers = new SemaphoreSlim(Math.Max(1, _settings.Parallelism - 1) + _settings.ReorderWindow);
            var hash = new OrderedHash(tailCount, buffer =>
            {
                _pool.Return(buffer);
                buffers.Release();
            });
            Task tail = tailCount == 0
                ? Task.CompletedTask
                : DownloadTailAsync(blob, key, handle, headLength, total, head.ETag, tailCount, hash, buffers, failed, cancellationToken);
            Exception? headFailure = null;
            try
            {
                await StreamHeadAsync(blob, key, head, handle, headLength, hash, failed.Token).ConfigureAwait(false);
                hash.HeadDone();
            }
#pragma warning disable CA1031 // kept and rethrown after the tail ranges have drained (the first range's failure is the one reported)
            catch (Exception ex)
#pragma warning restore CA1031
            {
                headFailure = ex;
                await failed.CancelAsync().ConfigureAwait(false);
            }
            try
            {
                await tail.ConfigureAwait(false);
            }
#pragma warning disable CA1031 // the tail's failure is secondary: the first range's failure, thrown below, is the one to report
            catch (Exception) when (headFailure is not null && !(headFailure is OperationCanceledException && !cancellationToken.IsCancellationRequested))
#pragma warning restore CA1031
            {
                // The first range failed on its own: its failure is the one to report.
            }
            // (A first range cancelled because a later range failed reports that range's failure, thrown above.)
            if (headFailure is not null) ExceptionDispatchInfo.Throw(headFailure);
            if (!hash.Complete) throw new InvalidOperationException($"Download of '{key}' did not hash every range.");
            return new ObjectChecksum(total, hash.Value);
        }
        finally
        {
            head.Dispose();
        }
    }

    /// <summary>
    /// Streams [0, <paramref name="length"/>) from the open first response into the file, hashing as
    /// it goes; a transient failure mid-stream resumes from the last byte received (same ETag).
    /// </summary>
    private async Task StreamHeadAsync(BlobClient blob, string key, OpenRange head, SafeFileHandle handle, long length, OrderedHash hash, CancellationToken cancellationToken)
    {
        const int StreamBuffer = 1 << 20;
        byte[] a = ArrayPool<byte>.Shared.Rent(StreamBuffer), b = ArrayPool<byte>.Shared.Rent(StreamBuffer);
        ValueTask write = default;
        var range = head;
        int failures = 0;
        long offset = 0;
        try
        {
            while (offset < length)
            {
                int want = (int)Math.Min(StreamBuffer, length - offset);
                int n;
                try
                {
                    n = range.Content is null ? 0 : await range.Content.ReadAtLeastAsync(a.AsMemory(0, want), want, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
                    if (n < want) throw new IOException($"The first range of '{key}' ended after {offset + n} of {length} bytes.");
                }
                catch (Exception e) when (IsTransient(e, cancellationToken) && failures < _settings.MaxRetries)
                {
                    failures++;
                    Interlocked.Increment(ref _retries);
                    await Task.Delay(_settings.RetryDelay * Math.Pow(2, failures - 1), cancellationToken).ConfigureAwait(false);
                    if (!ReferenceEquals(range, head)) range.Dispose();
                    range = await OpenRangeAsync(blob, key, offset, length - offset, head.ETag, cancellationToken).ConfigureAwait(false);
                    continue;
                }
                hash.AppendHead(a.AsSpan(0, n));
                await write.ConfigureAwait(false);
                write = RandomAccess.WriteAsync(handle, new ReadOnlyMemory<byte>(a, 0, n), offset, cancellationToken);
                offset += n;
                (a, b) = (b, a);
            }
            await write.ConfigureAwait(false);
        }
        finally
        {
            if (!ReferenceEquals(range, head)) range.Dispose();
            ArrayPool<byte>.Shared.Return(a);
            ArrayPool<byte>.Shared.Return(b);
        }
    }

    /// <summary>Fetches [start, total) as buffered ranges, in parallel, each retried on its own, handing them to the hash in order.</summary>
    private async Task DownloadTailAsync(BlobClient blob, string key, SafeFileHandle handle, long start, long total, ETag etag, int count,
        OrderedHash hash, SemaphoreSlim buffers, CancellationTokenSource failed, CancellationToken cancellationToken)
    {
        int chunk = _settings.ChunkBytes;
        // The first response is streaming alongside: it holds one of the connections.
        using var network = new SemaphoreSlim(Math.Max(1, _settings.Parallelism - 1));
        var tasks = new List<Task>(count);
        Exception? producerFailure = null;
        try
        {
            for (int i = 0; i < count; i++)
            {
                await buffers.WaitAsync(failed.Token).ConfigureAwait(false);
                tasks.Add(RangeAsync(i));
            }
        }
#pragma warning disable CA1031 // kept and rethrown by AwaitAllAsync once the ranges in flight have drained
        catch (Exception e)
#pragma warning restore CA1031
        {
            producerFailure = e;
            await failed.CancelAsync().ConfigureAwait(false);
        }
        await AwaitAllAsync(tasks, producerFailure, cancellationToken).ConfigureAwait(false);

        async Task RangeAsync(int i)
        {
            long offset = start + (long)i * chunk;
            int length = (int)Math.Min(chunk, total - offset);
            byte[] buffer = _pool.Rent(length);
            bool handedOver = false;
            try
            {
                await network.WaitAsync(failed.Token).ConfigureAwait(false);
                try
                {
                    await ReadRangeAsync(blob, key, offset, length, buffer, etag, failed.Token).ConfigureAwait(false);
                }
                finally
                {
                    network.Release();
                }
                await RandomAccess.WriteAsync(handle, new ReadOnlyMemory<byte>(buffer, 0, length), offset, failed.Token).ConfigureAwait(false);
                handedOver = true;
                hash.TailDone(i, buffer, length);
            }
            catch
            {
                await failed.CancelAsync().ConfigureAwait(false);
                throw;
            }
            finally
            {
                if (!handedOver) _pool.Return(buffer);
            }
        }
    }

    /// <summary>
    /// XXH3 over a download whose first range streams in order and whose other ranges finish in
    /// any order: a finished range waits (holding its buffer) until every earlier byte is hashed.
    /// One thread at a time drains ready ranges and hashes them outside the lock, so finishing
    /// ranges never wait for a hash to run.
    /// </summary>
    private sealed class OrderedHash(int tailCount, Action<byte[]> release)
    {
        private readonly XxHash3 _hash = new();
        private readonly byte[]?[] _done = new byte[]?[tailCount];
        private readonly int[] _lengths = new int[tailCount];
        private readonly object _gate = new();
        private int _next = -1; // -1 while the first range is still streaming
        private bool _draining;

        public bool Complete
        {
            get
            {
                lock (_gate) return _next == tailCount && !_draining;
            }
        }

        public ulong Value
        {
            get
            {
                lock (_gate) return _hash.GetCurrentHashAsUInt64();
            }
        }

        /// <summary>Hashes bytes of the first range (only its own thread calls this, before <see cref="HeadDone"/>).</summary>
        public void AppendHead(ReadOnlySpan<byte> bytes) => _hash.Append(bytes);

        public void HeadDone()
        {
            lock (_gate)
            {
                _next = 0;
                if (_draining) return;
                _draining = true;
            }
            Drain();
        }

        public void TailDone(int index, byte[] buffer, int length)
        {
            lock (_gate)
            {
                _done[index] = buffer;
                _lengths[index] = length;
                if (_draining) return;
                _draining = true;
            }
            Drain();
        }

        private void Drain()
        {
            while (true)
            {
                byte[] ready;
                int length;
                lock (_gate)
                {
                    if (_next < 0 || _next >= tailCount || _done[_next] is not { } b)
                    {
                        _draining = false;
                        return;
                    }
                    ready = b;
                    length = _lengths[_next];
                    _done[_next] = null;
                    _next++;
                }
                _hash.Append(ready.AsSpan(0, length));
                release(ready);
            }
        }
    }

    /// <summary>An open ranged response: its body stream, the object's total length and its ETag.</summary>
    private sealed class OpenRange(BlobDownloadStreamingResult? result, long total, ETag etag) : IDisposable
    {
        public Stream? Content => result?.Content;
        public long Total => total;
        public ETag ETag => etag;
        public void Dispose() => result?.Dispose();
    }

    /// <summary>Opens [offset, offset+count) (retried until its headers arrive); an empty object opens with no content.</summary>
    private async Task<OpenRange> OpenRangeAsync(BlobClient blob, string key, long offset, long count, ETag? ifMatch, CancellationToken cancellationToken)
    {
        try
        {
            return await _retry.ExecuteAsync(async ct =>
            {
                var options = new BlobDownloadOptions { Range = new HttpRange(offset, count) };
                if (ifMatch is { } tag) options.Conditions = new BlobRequestConditions { IfMatch = tag };
                try
                {
                    var response = await blob.DownloadStreamingAsync(options, ct).ConfigureAwait(false);
                    var result = response.Value;
                    return new OpenRange(result, TotalLength(result.Details, offset), result.Details.ETag);
                }
                catch (RequestFailedException e) when (e.Status == 416 && offset == 0)
                {
                    // A range of an empty blob is unsatisfiable: confirm it is empty.
                    var properties = await blob.GetPropertiesAsync(cancellationToken: ct).ConfigureAwait(false);
                    if (properties.Value.ContentLength != 0) throw;
                    return new OpenRange(null, 0, properties.Value.ETag);
                }
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (RequestFailedException e) when (MapFailure(e, key) is { } mapped)
        {
            throw mapped;
        }
    }

    /// <summary>Reads exactly [offset, offset+count) into <paramref name="buffer"/>, retrying the whole range on a transient failure.</summary>
    private async Task ReadRangeAsync(BlobClient blob, string key, long offset, int count, byte[] buffer, ETag ifMatch, CancellationToken cancellationToken)
    {
        try
        {
            await _retry.ExecuteAsync(async ct =>
            {
                var options = new BlobDownloadOptions
                {
                    Range = new HttpRange(offset, count),
                    Conditions = new BlobRequestConditions { IfMatch = ifMatch },
                };
                var response = await blob.DownloadStreamingAsync(options, ct).ConfigureAwait(false);
                using var result = response.Value;
                int read = await result.Content.ReadAtLeastAsync(buffer.AsMemory(0, count), count, throwOnEndOfStream: false, ct).ConfigureAwait(false);
                if (read != count) throw new IOException($"Range {offset}+{count} of '{key}' ended after {read} bytes.");
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (RequestFailedException e) when (MapFailure(e, key) is { } mapped)
        {
            throw mapped;
        }
    }

    private Exception? MapFailure(RequestFailedException e, string key) => e.Status switch
    {
        404 => new FileNotFoundException($"Snapshot object '{key}' not found in {Description}.", key, e),
        412 => new IOException($"Snapshot object '{key}' in {Description} was replaced while it was being downloaded; download it again.", e),
        _ => null,
    };

    private static long TotalLength(BlobDownloadDetails details, long offset)
    {
        // "bytes 0-8388607/33554432"
        string? range = details.ContentRange;
        int slash = range is null ? -1 : range.LastIndexOf('/');
        if (range is not null && slash >= 0 && long.TryParse(range.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out long total)) return total;
        // No Content-Range: the service sent the whole object.
        return offset + details.ContentLength;
    }

    private static async Task ReadFileExactlyAsync(SafeFileHandle file, Memory<byte> buffer, long offset, CancellationToken cancellationToken)
    {
        int read = 0;
        while (read < buffer.Length)
        {
            int n = await RandomAccess.ReadAsync(file, buffer[read..], offset + read, cancellationToken).ConfigureAwait(false);
            if (n == 0) throw new IOException($"File ended at {offset + read} bytes while {offset + buffer.Length} were expected (did it change during upload?).");
            read += n;
        }
    }

    /// <summary>Waits for every task, then rethrows the first real failure (not the cancellations it caused).</summary>
    private static async Task AwaitAllAsync(List<Task> tasks, Exception? producerFailure, CancellationToken cancellationToken)
    {
        try
        {
            await Task.WhenAll(tasks).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // every task's outcome is inspected below and the first real failure rethrown
        catch
#pragma warning restore CA1031
        {
            // Inspected below.
        }
        cancellationToken.ThrowIfCancellationRequested();
        Exception? failure = producerFailure is OperationCanceledException ? null : producerFailure;
        failure ??= tasks.Where(t => t.IsFaulted).Select(t => t.Exception!.InnerException!).FirstOrDefault(e => e is not OperationCanceledException);
        failure ??= producerFailure ?? tasks.FirstOrDefault(t => t.IsFaulted || t.IsCanceled)?.Exception?.InnerException;
        if (failure is not null) ExceptionDispatchInfo.Throw(failure);
        if (tasks.Any(t => t.IsCanceled)) throw new OperationCanceledException("A transfer was cancelled.");
    }

    /// <inheritdoc />
    public async Task PutBytesAsync(string key, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
    {
        await EnsureContainerAsync(cancellationToken).ConfigureAwait(false);
        var blob = _container.GetBlobClient(key);
        await _retry.ExecuteAsync(async ct =>
        {
            await blob.UploadAsync(new BinaryData(data), overwrite: true, ct).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<byte[]?> GetBytesAsync(string key, CancellationToken cancellationToken = default)
    {
        var blob = _container.GetBlobClient(key);
        return await _retry.ExecuteAsync(async ct =>
        {
            try
            {
                var content = await blob.DownloadContentAsync(ct).ConfigureAwait(false);
                return content.Value.Content.ToArray();
            }
            catch (RequestFailedException e) when (e.Status == 404)
            {
                return null;
            }
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<string>> ListAsync(string prefix, CancellationToken cancellationToken = default)
    {
        return await _retry.ExecuteAsync(async ct =>
        {
            var keys = new List<string>();
            try
            {
                await foreach (var item in _container.GetBlobsAsync(BlobTraits.None, BlobStates.None, prefix, ct).ConfigureAwait(false))
                    keys.Add(item.Name);
            }
            catch (RequestFailedException e) when (e.Status == 404)
            {
                // No container yet: nothing stored.
            }
            keys.Sort(StringComparer.Ordinal);
            return (IReadOnlyList<string>)keys;
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task DeletePrefixAsync(string prefix, CancellationToken cancellationToken = default)
    {
        var keys = await ListAsync(prefix, cancellationToken).ConfigureAwait(false);
        await Parallel.ForEachAsync(keys, new ParallelOptions { MaxDegreeOfParallelism = _settings.Parallelism, CancellationToken = cancellationToken },
            async (key, ct) => await DeleteAsync(key, ct).ConfigureAwait(false)).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task DeleteAsync(string key, CancellationToken cancellationToken = default)
    {
        var blob = _container.GetBlobClient(key);
        await _retry.ExecuteAsync(async ct => await blob.DeleteIfExistsAsync(cancellationToken: ct).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    /// <remarks>
    /// The write carries the ETag of the content that was checked (If-Match), or If-None-Match: *
    /// when the blob was absent, so a writer in another process that changed the blob in between
    /// makes it fail with 412/409 and this returns false. A 412 on a retried attempt may mean our
    /// own earlier attempt landed; then the blob holds exactly the replacement, which counts as done.
    /// </remarks>
    public async Task<bool> CompareAndSwapAsync(string key, Func<byte[]?, bool> expected, ReadOnlyMemory<byte>? replacement, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(expected);
        await EnsureContainerAsync(cancellationToken).ConfigureAwait(false);
        var blob = _container.GetBlobClient(key);
        var (current, etag) = await _retry.ExecuteAsync(async ct =>
        {
            try
            {
                var content = await blob.DownloadContentAsync(ct).ConfigureAwait(false);
                return (content.Value.Content.ToArray(), (ETag?)content.Value.Details.ETag);
            }
            catch (RequestFailedException e) when (e.Status == 404)
            {
                return ((byte[]?)null, (ETag?)null);
            }
        }, cancellationToken).ConfigureAwait(false);
        if (!expected(current)) return false;
        var conditions = etag is { } tag ? new BlobRequestConditions { IfMatch = tag } : new BlobRequestConditions { IfNoneMatch = ETag.All };
        int attempts = 0;
        try
        {
            await _retry.ExecuteAsync(async ct =>
            {
                attempts++;
                if (replacement is { } data)
                    await blob.UploadAsync(new BinaryData(data), new BlobUploadOptions { Conditions = conditions }, ct).ConfigureAwait(false);
                else if (etag is not null)
                    await blob.DeleteAsync(DeleteSnapshotsOption.None, conditions, ct).ConfigureAwait(false);
            }, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (RequestFailedException e) when (e.Status is 409 or 412)
        {
            if (attempts < 2) return false;
            var now = await GetBytesAsync(key, cancellationToken).ConfigureAwait(false);
            return replacement is { } data ? now is not null && data.Span.SequenceEqual(now) : now is null;
        }
    }

    /// <inheritdoc />
    public string? TryGetLocalPath(string key) => null;
}
