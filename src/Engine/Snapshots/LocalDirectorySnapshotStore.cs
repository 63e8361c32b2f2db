using System.Collections.Concurrent;

namespace Shoal.Engine.Snapshots;

/// <summary>
/// A snapshot store in a local directory: the embedded single-machine default. Writes go to a
/// temporary file first and are renamed into place, so a crash never leaves half an object.
/// Copies hash the bytes as they pass, so uploads and verified downloads read a file once.
/// Compare-and-swap holds an exclusive lock file beside the object, so it is atomic between
/// processes that share the directory.
/// </summary>
public sealed class LocalDirectorySnapshotStore : ISnapshotStore
{
    /// <summary>Suffix of the lock file a compare-and-swap holds beside its object.</summary>
    public const string LockSuffix = ".lock";

    // One gate per object path for every store instance of this process: the lock file excludes
    // other processes, the gate makes this process's writers wait their turn without polling it.
    private static readonly ConcurrentDictionary<string, SemaphoreSlim> SwapGates = new(StringComparer.Ordinal);

    private readonly string _root;

    /// <summary>Uses (and creates) <paramref name="root"/>.</summary>
    public LocalDirectorySnapshotStore(string root)
    {
        _root = Path.GetFullPath(root);
        Directory.CreateDirectory(_root);
    }

    /// <inheritdoc />
    public string Description => $"local directory {_root}";

    /// <summary>The store's root directory.</summary>
    public string Root => _root;

    private string PathOf(string key)
    {
        if (string.IsNullOrEmpty(key) || key.Contains("..", StringComparison.Ordinal) || key.StartsWith('/') || key.Contains('\\', StringComparison.Ordinal))
            throw new ArgumentException($"Invalid snapshot key '{key}'.", nameof(key));
        return Path.Combine(_root, key.Replace('/', Path.DirectorySeparatorChar));
    }

    /// <inheritdoc />
    public Task PutFileAsync(string key, string sourcePath, CancellationToken cancellationToken = default) =>
        UploadFileAsync(key, sourcePath, cancellationToken);

    /// <inheritdoc />
    public async Task<ObjectChecksum> UploadFileAsync(string key, string sourcePath, CancellationToken cancellationToken = default)
    {
        string dest = PathOf(key);
        if (string.Equals(Path.GetFullPath(sourcePath), dest, StringComparison.Ordinal))
            return await SnapshotFiles.ChecksumAsync(dest, cancellationToken).ConfigureAwait(false);
        Directory.CreateDirectory(Path.GetDirectoryName(dest)!);
        string temp = SnapshotFiles.TempPathFor(dest);
        try
        {
            var sum = await SnapshotFiles.CopyAsync(sourcePath, temp, flushToDisk: true, cancellationToken).ConfigureAwait(false);
            File.Move(temp, dest, overwrite: true);
            return sum;
        }
        finally
        {
            SnapshotFiles.TryDelete(temp);
        }
    }

    /// <inheritdoc />
    public Task GetFileAsync(string key, string destinationPath, CancellationToken cancellationToken = default) =>
        DownloadFileAsync(key, destinationPath, null, cancellationToken);

    /// <inheritdoc />
    public async Task<ObjectChecksum> DownloadFileAsync(string key, string destinationPath, ObjectChecksum? expected = null, CancellationToken cancellationToken = default)
    {
        string src = PathOf(key);
        if (!File.Exists(src)) throw new FileNotFoundException($"Snapshot object '{key}' not found in {Description}.", src);
        string dest = Path.GetFullPath(destinationPath);
        Directory.CreateDirectory(Path.GetDirectoryName(dest)!);
        string temp = SnapshotFiles.TempPathFor(dest);
        try
        {
            long length = new FileInfo(src).Length;
            if (expected is { } size && size.Bytes != length)
                throw new SnapshotChecksumException(Description, key, size, length, null, "nothing was copied");
            var sum = await SnapshotFiles.CopyAsync(src, temp, flushToDisk: false, cancellationToken).ConfigureAwait(false);
            if (expected is { } e && e != sum)
                throw new SnapshotChecksumException(Description, key, e, sum.Bytes, sum.Xxh3, $"the copy was discarded and '{dest}' was not written");
            File.Move(temp, dest, overwrite: true);
            return sum;
        }
        finally
        {
            SnapshotFiles.TryDelete(temp);
        }
    }

    /// <inheritdoc />
    public async Task PutBytesAsync(string key, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
    {
        string dest = PathOf(key);
        Directory.CreateDirectory(Path.GetDirectoryName(dest)!);
        string temp = SnapshotFiles.TempPathFor(dest);
        try
        {
            var f = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 4096, useAsync: true);
            await using (f.ConfigureAwait(false))
            {
                await f.WriteAsync(data, cancellationToken).ConfigureAwait(false);
                // fsync has no asynchronous form (FlushAsync does not reach the disk), and a write smaller
                // than the buffer completes synchronously, so the ConfigureAwait above does not leave the
                // caller's thread: run it on the pool, or it blocks the grain turn that called (update-log
                // batches, manifests, job checkpoints all come here).
                await Task.Run(() => f.Flush(flushToDisk: true), CancellationToken.None).ConfigureAwait(false);
            }
            File.Move(temp, dest, overwrite: true);
        }
        finally
        {
            SnapshotFiles.TryDelete(temp);
        }
    }

    /// <inheritdoc />
    public async Task<byte[]?> GetBytesAsync(string key, CancellationToken cancellationToken = default)
    {
        string path = PathOf(key);
        try
        {
            return await File.ReadAllBytesAsync(path, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<string>> ListAsync(string prefix, CancellationToken cancellationToken = default)
    {
        var keys = new List<string>();
        // Walk only the directory the prefix names (up to its last '/'), not the whole store.
        int slash = prefix.LastIndexOf('/');
        string start = slash < 0 ? _root : PathOf(prefix[..slash]);
        if (Directory.Exists(start))
        {
            foreach (var file in Directory.EnumerateFiles(start, "*", SearchOption.AllDirectories))
            {
                if (SnapshotFiles.IsTempPath(file)) continue;
                string key = Path.GetRelativePath(_root, file).Replace(Path.DirectorySeparatorChar, '/');
                if (key.StartsWith(prefix, StringComparison.Ordinal)) keys.Add(key);
            }
        }
        keys.Sort(StringComparer.Ordinal);
        return Task.FromResult<IReadOnlyList<string>>(keys);
    }

    /// <inheritdoc />
    public async Task DeletePrefixAsync(string prefix, CancellationToken cancellationToken = default)
    {
        foreach (var key in await ListAsync(prefix, cancellationToken).ConfigureAwait(false))
            File.Delete(PathOf(key));
        // A prefix that names a directory (e.g. a pruned version) leaves no empty directories behind.
        if (!prefix.EndsWith('/') || prefix.Length < 2) return;
        var dir = new DirectoryInfo(PathOf(prefix[..^1]));
        if (!dir.Exists) return;
        foreach (var sub in dir.EnumerateDirectories("*", SearchOption.AllDirectories).OrderByDescending(d => d.FullName.Length).ToList())
            if (!sub.EnumerateFileSystemInfos().Any()) sub.Delete();
        if (!dir.EnumerateFileSystemInfos().Any()) dir.Delete();
    }

    /// <inheritdoc />
    public Task DeleteAsync(string key, CancellationToken cancellationToken = default)
    {
        File.Delete(PathOf(key));
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    /// <remarks>
    /// Swaps of one key take an in-process gate, then an exclusive lock file beside the object
    /// (<c>{key}.lock</c>, left in place: deleting it would let two writers each lock a different
    /// file), so they are atomic between threads and between processes sharing the directory.
    /// Under the lock the object is read and checked, read again just before the write (a plain
    /// write that landed while the check ran makes the swap fail) and replaced by a rename.
    /// </remarks>
    public async Task<bool> CompareAndSwapAsync(string key, Func<byte[]?, bool> expected, ReadOnlyMemory<byte>? replacement, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(expected);
        string path = PathOf(key);
        var gate = SwapGates.GetOrAdd(path, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            using var fileLock = await AcquireLockFileAsync(path + LockSuffix, cancellationToken).ConfigureAwait(false);
            var current = await GetBytesAsync(key, cancellationToken).ConfigureAwait(false);
            if (!expected(current)) return false;
            var now = await GetBytesAsync(key, cancellationToken).ConfigureAwait(false);
            if (current is null ? now is not null : now is null || !current.AsSpan().SequenceEqual(now)) return false;
            if (replacement is { } data) await PutBytesAsync(key, data, cancellationToken).ConfigureAwait(false);
            else File.Delete(path);
            return true;
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>Opens <paramref name="path"/> exclusively, waiting (up to about 5 s) while another process holds it.</summary>
    private static async Task<FileStream> AcquireLockFileAsync(string path, CancellationToken cancellationToken)
    {
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (attempt < 200)
            {
                await Task.Delay(25, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <inheritdoc />
    public string? TryGetLocalPath(string key)
    {
        string path = PathOf(key);
        return File.Exists(path) ? path : null;
    }
}
