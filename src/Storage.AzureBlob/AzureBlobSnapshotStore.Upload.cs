using System.IO.Hashing;
using System.Text;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs.Specialized;
using Microsoft.Win32.SafeHandles;
using Shoal.Engine.Snapshots;

namespace Shoal.Storage.AzureBlob;

/// <summary>Uploads: one read of the file, hashed as it is read; one request or staged blocks and a block list.</summary>
public sealed partial class AzureBlobSnapshotStore
{
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
}
