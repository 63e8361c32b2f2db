using Azure;
using Azure.Storage;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Polly;
using Polly.Retry;

namespace Shoal.Engine.Snapshots;

/// <summary>
/// A snapshot store in an Azure Blob Storage container (Azurite locally). Files move as
/// parallel chunked block uploads and ranged downloads; a block blob becomes visible only when
/// its block list commits, so every object is written atomically. Transient failures
/// (timeouts, 408/429/5xx, dropped connections) are retried with exponential back-off; the
/// catalog verifies each segment's XXH3 checksum after download.
/// </summary>
public sealed class AzureBlobSnapshotStore : ISnapshotStore
{
    private readonly BlobContainerClient _container;
    private readonly StorageTransferOptions _transfer;
    private readonly ResiliencePipeline _retry;
    private int _created;

    /// <summary>Uses <paramref name="container"/> (created on first write when missing).</summary>
    /// <param name="container">The container.</param>
    /// <param name="chunkBytes">Block size of uploads and range size of downloads.</param>
    /// <param name="parallelism">Blocks or ranges in flight per file.</param>
    /// <param name="maxRetries">Retries of a transient failure.</param>
    public AzureBlobSnapshotStore(BlobContainerClient container, int chunkBytes = 8 << 20, int parallelism = 8, int maxRetries = 4)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkBytes, 64 << 10);
        ArgumentOutOfRangeException.ThrowIfLessThan(parallelism, 1);
        _container = container;
        _transfer = new StorageTransferOptions
        {
            InitialTransferSize = chunkBytes,
            MaximumTransferSize = chunkBytes,
            MaximumConcurrency = parallelism,
        };
        _retry = new ResiliencePipelineBuilder()
            .AddRetry(new RetryStrategyOptions
            {
                MaxRetryAttempts = maxRetries,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = TimeSpan.FromMilliseconds(200),
                ShouldHandle = new PredicateBuilder()
                    .Handle<RequestFailedException>(e => e.Status is 0 or 408 or 429 or >= 500)
                    .Handle<IOException>()
                    .Handle<TimeoutException>(),
            })
            .Build();
    }

    /// <summary>A store for a connection string and container name (e.g. Azurite's development account).</summary>
    public static AzureBlobSnapshotStore Create(string connectionString, string containerName, int chunkBytes = 8 << 20, int parallelism = 8) =>
        new(new BlobContainerClient(connectionString, containerName), chunkBytes, parallelism);

    /// <inheritdoc />
    public string Description => $"blob container {_container.Uri}";

    private async Task EnsureContainerAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _created) == 1) return;
        await _retry.ExecuteAsync(async ct => await _container.CreateIfNotExistsAsync(cancellationToken: ct).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);
        Volatile.Write(ref _created, 1);
    }

    /// <inheritdoc />
    public async Task PutFileAsync(string key, string sourcePath, CancellationToken cancellationToken = default)
    {
        await EnsureContainerAsync(cancellationToken).ConfigureAwait(false);
        var blob = _container.GetBlobClient(key);
        await _retry.ExecuteAsync(async ct =>
        {
            await blob.UploadAsync(sourcePath, new BlobUploadOptions { TransferOptions = _transfer }, ct).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task GetFileAsync(string key, string destinationPath, CancellationToken cancellationToken = default)
    {
        var blob = _container.GetBlobClient(key);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(destinationPath))!);
        string temp = destinationPath + ".part-" + Guid.NewGuid().ToString("N");
        try
        {
            await _retry.ExecuteAsync(async ct =>
            {
                try
                {
                    await blob.DownloadToAsync(temp, new BlobDownloadToOptions { TransferOptions = _transfer }, ct).ConfigureAwait(false);
                }
                catch (RequestFailedException e) when (e.Status == 404)
                {
                    throw new FileNotFoundException($"Snapshot object '{key}' not found in {Description}.", key, e);
                }
            }, cancellationToken).ConfigureAwait(false);
            File.Move(temp, destinationPath, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
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
        foreach (var key in await ListAsync(prefix, cancellationToken).ConfigureAwait(false))
            await _retry.ExecuteAsync(async ct => await _container.GetBlobClient(key).DeleteIfExistsAsync(cancellationToken: ct).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public string? TryGetLocalPath(string key) => null;
}
