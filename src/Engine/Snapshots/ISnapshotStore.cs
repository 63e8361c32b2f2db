namespace Shoal.Engine.Snapshots;

/// <summary>
/// Where index versions live durably: segment files and manifests under '/'-separated keys.
/// Every write of a single key is atomic: readers see the old object or the whole new one, and
/// <see cref="CompareAndSwapAsync"/> is an atomic conditional write in every store.
/// Implementations: a local directory (<see cref="LocalDirectorySnapshotStore"/>, the embedded
/// default) and Azure Blob Storage (<c>Shoal.Storage.AzureBlob</c>).
/// </summary>
public interface ISnapshotStore
{
    /// <summary>A human-readable location, for logs and errors.</summary>
    string Description { get; }

    /// <summary>Uploads a local file to <paramref name="key"/>.</summary>
    Task PutFileAsync(string key, string sourcePath, CancellationToken cancellationToken = default);

    /// <summary>
    /// Uploads a local file to <paramref name="key"/> and returns the size and XXH3-64 of the
    /// bytes that were sent, hashed as they were read for sending (one pass over the file).
    /// The default implementation (for stores that predate it) uploads, then hashes the file.
    /// </summary>
    async Task<ObjectChecksum> UploadFileAsync(string key, string sourcePath, CancellationToken cancellationToken = default)
    {
        await PutFileAsync(key, sourcePath, cancellationToken).ConfigureAwait(false);
        return await SnapshotFiles.ChecksumAsync(sourcePath, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Downloads <paramref name="key"/> to a local file (replacing it).</summary>
    Task GetFileAsync(string key, string destinationPath, CancellationToken cancellationToken = default);

    /// <summary>
    /// Downloads <paramref name="key"/> to <paramref name="destinationPath"/> in one pass: the
    /// bytes go to a temporary file beside it and are hashed as they arrive. When
    /// <paramref name="expected"/> is given and the object's size or XXH3-64 differ, the
    /// temporary file is deleted, <paramref name="destinationPath"/> is left as it was and a
    /// <see cref="SnapshotChecksumException"/> is thrown; otherwise the temporary file is
    /// renamed over <paramref name="destinationPath"/>. A missing key is a
    /// <see cref="FileNotFoundException"/>.
    /// </summary>
    /// <remarks>The default implementation (for stores that predate it) downloads with
    /// <see cref="GetFileAsync"/> to the temporary file, then hashes it: two passes, same guarantees.</remarks>
    /// <returns>The size and checksum of the bytes received.</returns>
    async Task<ObjectChecksum> DownloadFileAsync(string key, string destinationPath, ObjectChecksum? expected = null, CancellationToken cancellationToken = default)
    {
        string dest = Path.GetFullPath(destinationPath);
        string temp = SnapshotFiles.TempPathFor(dest);
        try
        {
            await GetFileAsync(key, temp, cancellationToken).ConfigureAwait(false);
            var sum = await SnapshotFiles.ChecksumAsync(temp, cancellationToken).ConfigureAwait(false);
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

    /// <summary>Writes a small object.</summary>
    Task PutBytesAsync(string key, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default);

    /// <summary>Reads a small object, or null when it does not exist.</summary>
    Task<byte[]?> GetBytesAsync(string key, CancellationToken cancellationToken = default);

    /// <summary>Keys that start with <paramref name="prefix"/>, in ordinal order.</summary>
    Task<IReadOnlyList<string>> ListAsync(string prefix, CancellationToken cancellationToken = default);

    /// <summary>Deletes every key under <paramref name="prefix"/>.</summary>
    Task DeletePrefixAsync(string prefix, CancellationToken cancellationToken = default);

    /// <summary>
    /// Deletes one key; a key that does not exist is not an error. The default implementation
    /// (for stores that predate it) goes through <see cref="DeletePrefixAsync"/> and refuses
    /// when other keys start with <paramref name="key"/>.
    /// </summary>
    async Task DeleteAsync(string key, CancellationToken cancellationToken = default)
    {
        var keys = await ListAsync(key, cancellationToken).ConfigureAwait(false);
        if (keys.Any(k => !string.Equals(k, key, StringComparison.Ordinal)))
            throw new NotSupportedException($"{Description} cannot delete '{key}' alone (other keys start with it): implement {nameof(DeleteAsync)}.");
        await DeletePrefixAsync(key, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Atomic compare-and-swap of a small object: replaces <paramref name="key"/> with
    /// <paramref name="replacement"/> (or deletes it, when null) only if its current content (null
    /// when absent) satisfies <paramref name="expected"/>, and says whether it did.
    /// </summary>
    /// <remarks>
    /// Every store implements this atomically; it is how writers in different processes that share
    /// a store (grain state of a stale activation and of the live one) exclude each other:
    /// <list type="bullet">
    /// <item>of swaps of the same key that checked the same content, concurrently in one process or
    /// in several, at most one succeeds; the others return false and change nothing;</item>
    /// <item>a write of the key by any other means (<see cref="PutBytesAsync"/>, another swap) that
    /// lands while <paramref name="expected"/> runs makes the swap return false, changing nothing;</item>
    /// <item>a failed check returns false and changes nothing; a swap that deletes an absent key succeeds.</item>
    /// </list>
    /// <paramref name="expected"/> runs once per call, on the content read, and must not call the store
    /// (a store may hold a lock on the key while it runs).
    /// </remarks>
    Task<bool> CompareAndSwapAsync(string key, Func<byte[]?, bool> expected, ReadOnlyMemory<byte>? replacement, CancellationToken cancellationToken = default);

    /// <summary>
    /// A local file that holds <paramref name="key"/>, when the store is a local directory, so a
    /// shard can map it in place instead of copying; null for remote stores.
    /// </summary>
    string? TryGetLocalPath(string key);
}
