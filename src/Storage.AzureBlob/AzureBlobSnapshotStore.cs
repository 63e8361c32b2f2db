using System.Buffers;
using System.Runtime.ExceptionServices;
using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Polly;
using Shoal.Engine.Snapshots;

namespace Shoal.Storage.AzureBlob;

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
public sealed partial class AzureBlobSnapshotStore : ISnapshotStore
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
        _retry = BlobRetry.Create(settings, () => Interlocked.Increment(ref _retries));
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
    public string Description => $"blob container {_container.Uri.GetLeftPart(UriPartial.Path)}"; // never the SAS query of a SAS connection string

    /// <summary>How files are moved.</summary>
    public BlobTransferSettings Settings => _settings;

    /// <summary>Requests retried after a transient failure since this store was created.</summary>
    public long RetryCount => Interlocked.Read(ref _retries);

    private async Task EnsureContainerAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _created) == 1) return;
        await _retry.ExecuteAsync(async ct => await _container.CreateIfNotExistsAsync(cancellationToken: ct).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);
        Volatile.Write(ref _created, 1);
    }

    private static Dictionary<string, string> MetadataFor(ObjectChecksum sum) => new(StringComparer.Ordinal) { [ChecksumMetadata] = sum.Xxh3Hex };

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
