using Shoal.Engine.Snapshots;

namespace Shoal.Engine.Tests.Snapshots;

/// <summary>
/// A local directory store that hides its files (<see cref="ISnapshotStore.TryGetLocalPath"/> is
/// null), so the catalog treats it like a remote store and goes through its download cache.
/// </summary>
internal sealed class RemoteLikeStore(LocalDirectorySnapshotStore inner) : ISnapshotStore
{
    public int Downloads;

    public LocalDirectorySnapshotStore Inner => inner;
    public string Description => "remote-like " + inner.Description;
    public Task PutFileAsync(string key, string sourcePath, CancellationToken cancellationToken = default) => inner.PutFileAsync(key, sourcePath, cancellationToken);
    public Task<ObjectChecksum> UploadFileAsync(string key, string sourcePath, CancellationToken cancellationToken = default) => inner.UploadFileAsync(key, sourcePath, cancellationToken);
    public Task GetFileAsync(string key, string destinationPath, CancellationToken cancellationToken = default) => DownloadFileAsync(key, destinationPath, null, cancellationToken);

    public Task<ObjectChecksum> DownloadFileAsync(string key, string destinationPath, ObjectChecksum? expected = null, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref Downloads);
        return inner.DownloadFileAsync(key, destinationPath, expected, cancellationToken);
    }

    public Task PutBytesAsync(string key, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default) => inner.PutBytesAsync(key, data, cancellationToken);
    public Task<byte[]?> GetBytesAsync(string key, CancellationToken cancellationToken = default) => inner.GetBytesAsync(key, cancellationToken);
    public Task<IReadOnlyList<string>> ListAsync(string prefix, CancellationToken cancellationToken = default) => inner.ListAsync(prefix, cancellationToken);
    public Task DeletePrefixAsync(string prefix, CancellationToken cancellationToken = default) => inner.DeletePrefixAsync(prefix, cancellationToken);
    public Task DeleteAsync(string key, CancellationToken cancellationToken = default) => inner.DeleteAsync(key, cancellationToken);
    public Task<bool> CompareAndSwapAsync(string key, Func<byte[]?, bool> expected, ReadOnlyMemory<byte>? replacement, CancellationToken cancellationToken = default) => inner.CompareAndSwapAsync(key, expected, replacement, cancellationToken);
    public string? TryGetLocalPath(string key) => null;
}

/// <summary>
/// A store written against the original interface only (plus compare-and-swap, which every store
/// must implement): the newer members with defaults use them.
/// </summary>
internal sealed class LegacyStore(LocalDirectorySnapshotStore inner) : ISnapshotStore
{
    public string Description => "legacy " + inner.Description;
    public Task PutFileAsync(string key, string sourcePath, CancellationToken cancellationToken = default) => inner.PutFileAsync(key, sourcePath, cancellationToken);
    public Task GetFileAsync(string key, string destinationPath, CancellationToken cancellationToken = default) => inner.GetFileAsync(key, destinationPath, cancellationToken);
    public Task PutBytesAsync(string key, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default) => inner.PutBytesAsync(key, data, cancellationToken);
    public Task<byte[]?> GetBytesAsync(string key, CancellationToken cancellationToken = default) => inner.GetBytesAsync(key, cancellationToken);
    public Task<IReadOnlyList<string>> ListAsync(string prefix, CancellationToken cancellationToken = default) => inner.ListAsync(prefix, cancellationToken);
    public Task DeletePrefixAsync(string prefix, CancellationToken cancellationToken = default) => inner.DeletePrefixAsync(prefix, cancellationToken);
    public Task<bool> CompareAndSwapAsync(string key, Func<byte[]?, bool> expected, ReadOnlyMemory<byte>? replacement, CancellationToken cancellationToken = default) => inner.CompareAndSwapAsync(key, expected, replacement, cancellationToken);
    public string? TryGetLocalPath(string key) => null;
}
