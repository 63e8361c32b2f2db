namespace Shoal.Engine.Snapshots;

/// <summary>
/// A snapshot store in a local directory: the embedded single-machine default. Writes go to a
/// temporary file first and are renamed into place, so a crash never leaves half an object.
/// </summary>
public sealed class LocalDirectorySnapshotStore : ISnapshotStore
{
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
        if (string.IsNullOrEmpty(key) || key.Contains("..", StringComparison.Ordinal) || key.StartsWith('/') || key.Contains('\\'))
            throw new ArgumentException($"Invalid snapshot key '{key}'.", nameof(key));
        return Path.Combine(_root, key.Replace('/', Path.DirectorySeparatorChar));
    }

    /// <inheritdoc />
    public async Task PutFileAsync(string key, string sourcePath, CancellationToken cancellationToken = default)
    {
        string dest = PathOf(key);
        if (string.Equals(Path.GetFullPath(sourcePath), dest, StringComparison.Ordinal)) return;
        Directory.CreateDirectory(Path.GetDirectoryName(dest)!);
        string temp = dest + ".part-" + Guid.NewGuid().ToString("N");
        try
        {
            await using (var src = new FileStream(sourcePath, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, useAsync: true))
            await using (var dst = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20, useAsync: true))
            {
                await src.CopyToAsync(dst, 1 << 20, cancellationToken).ConfigureAwait(false);
                dst.Flush(flushToDisk: true);
            }
            File.Move(temp, dest, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    /// <inheritdoc />
    public async Task GetFileAsync(string key, string destinationPath, CancellationToken cancellationToken = default)
    {
        string src = PathOf(key);
        if (!File.Exists(src)) throw new FileNotFoundException($"Snapshot object '{key}' not found in {Description}.", src);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(destinationPath))!);
        string temp = destinationPath + ".part-" + Guid.NewGuid().ToString("N");
        try
        {
            await using (var s = new FileStream(src, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, useAsync: true))
            await using (var d = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20, useAsync: true))
                await s.CopyToAsync(d, 1 << 20, cancellationToken).ConfigureAwait(false);
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
        string dest = PathOf(key);
        Directory.CreateDirectory(Path.GetDirectoryName(dest)!);
        string temp = dest + ".part-" + Guid.NewGuid().ToString("N");
        try
        {
            await using (var f = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 4096, useAsync: true))
            {
                await f.WriteAsync(data, cancellationToken).ConfigureAwait(false);
                f.Flush(flushToDisk: true);
            }
            File.Move(temp, dest, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    /// <inheritdoc />
    public async Task<byte[]?> GetBytesAsync(string key, CancellationToken cancellationToken = default)
    {
        string path = PathOf(key);
        if (!File.Exists(path)) return null;
        return await File.ReadAllBytesAsync(path, cancellationToken).ConfigureAwait(false);
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
                if (file.Contains(".part-", StringComparison.Ordinal)) continue;
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
    }

    /// <inheritdoc />
    public string? TryGetLocalPath(string key)
    {
        string path = PathOf(key);
        return File.Exists(path) ? path : null;
    }
}
