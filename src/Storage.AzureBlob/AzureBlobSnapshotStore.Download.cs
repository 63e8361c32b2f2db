using System.Buffers;
using System.Globalization;
using System.Runtime.ExceptionServices;
using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Microsoft.Win32.SafeHandles;
using Shoal.Engine.Snapshots;

namespace Shoal.Storage.AzureBlob;

/// <summary>Downloads: a streamed first range and parallel ranges pinned to its ETag, hashed in order.</summary>
public sealed partial class AzureBlobSnapshotStore
{
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
                catch (Exception e) when (BlobRetry.IsTransient(e, cancellationToken) && failures < _settings.MaxRetries)
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
}
