namespace Shoal.Engine.Snapshots;

/// <summary>
/// Where index versions live durably: segment files and manifests under '/'-separated keys.
/// Implementations: a local directory (the embedded default) and blob storage.
/// Every write of a single key is atomic: readers see the old object or the whole new one.
/// </summary>
public interface ISnapshotStore
{
    /// <summary>A human-readable location, for logs and errors.</summary>
    string Description { get; }

    /// <summary>Uploads a local file to <paramref name="key"/>.</summary>
    Task PutFileAsync(string key, string sourcePath, CancellationToken cancellationToken = default);

    /// <summary>Downloads <paramref name="key"/> to a local file (replacing it).</summary>
    Task GetFileAsync(string key, string destinationPath, CancellationToken cancellationToken = default);

    /// <summary>Writes a small object.</summary>
    Task PutBytesAsync(string key, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default);

    /// <summary>Reads a small object, or null when it does not exist.</summary>
    Task<byte[]?> GetBytesAsync(string key, CancellationToken cancellationToken = default);

    /// <summary>Keys that start with <paramref name="prefix"/>, in ordinal order.</summary>
    Task<IReadOnlyList<string>> ListAsync(string prefix, CancellationToken cancellationToken = default);

    /// <summary>Deletes every key under <paramref name="prefix"/>.</summary>
    Task DeletePrefixAsync(string prefix, CancellationToken cancellationToken = default);

    /// <summary>
    /// A local file that holds <paramref name="key"/>, when the store is a local directory, so a
    /// shard can map it in place instead of copying; null for remote stores.
    /// </summary>
    string? TryGetLocalPath(string key);
}
