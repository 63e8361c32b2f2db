using System.Globalization;
using System.IO.Hashing;
using System.Text.RegularExpressions;

namespace Shoal.Engine.Snapshots;

/// <summary>
/// Index versions in a snapshot store. Layout:
/// <code>
/// indexes/{index}/v{version:D8}/shard-{shard:D4}/{segment}.seg
/// indexes/{index}/v{version:D8}/manifest.json      (written last: the version exists once this does)
/// </code>
/// Older versions stay for rollback until pruned.
/// </summary>
public sealed partial class SnapshotCatalog
{
    private readonly ISnapshotStore _store;

    /// <summary>A catalog over <paramref name="store"/>.</summary>
    public SnapshotCatalog(ISnapshotStore store) => _store = store;

    /// <summary>The underlying store.</summary>
    public ISnapshotStore Store => _store;

    [GeneratedRegex("^[a-z0-9][a-z0-9._-]{0,63}$")]
    private static partial Regex IndexNamePattern();

    /// <summary>Null when <paramref name="name"/> is a valid index name, else why not.</summary>
    public static string? ValidateIndexName(string? name) =>
        name is not null && IndexNamePattern().IsMatch(name)
            ? null
            : $"Index name '{name}' is invalid: use 1-64 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit.";

    /// <summary>Key of a segment file of a version.</summary>
    public static string SegmentKey(string index, long version, int shard, string fileName) =>
        $"indexes/{index}/v{version:D8}/shard-{shard:D4}/{fileName}";

    /// <summary>Key of a version's manifest.</summary>
    public static string ManifestKey(string index, long version) => $"indexes/{index}/v{version:D8}/manifest.json";

    /// <summary>Names of indexes that have at least one published version.</summary>
    public async Task<IReadOnlyList<string>> ListIndexesAsync(CancellationToken cancellationToken = default)
    {
        var names = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var key in await _store.ListAsync("indexes/", cancellationToken).ConfigureAwait(false))
        {
            var parts = key.Split('/');
            if (parts.Length == 4 && parts[3] == "manifest.json") names.Add(parts[1]);
        }
        return [.. names];
    }

    /// <summary>Published versions of an index, ascending.</summary>
    public async Task<IReadOnlyList<long>> ListVersionsAsync(string index, CancellationToken cancellationToken = default)
    {
        var versions = new List<long>();
        foreach (var key in await _store.ListAsync($"indexes/{index}/", cancellationToken).ConfigureAwait(false))
        {
            var parts = key.Split('/');
            if (parts.Length == 4 && parts[3] == "manifest.json" && parts[2].StartsWith('v') &&
                long.TryParse(parts[2].AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out long v))
                versions.Add(v);
        }
        versions.Sort();
        return versions;
    }

    /// <summary>The manifest of a specific version, or null.</summary>
    public async Task<IndexManifest?> GetManifestAsync(string index, long version, CancellationToken cancellationToken = default)
    {
        string key = ManifestKey(index, version);
        var bytes = await _store.GetBytesAsync(key, cancellationToken).ConfigureAwait(false);
        return bytes is null ? null : IndexManifest.FromJson(bytes, $"{_store.Description}/{key}");
    }

    /// <summary>The latest published manifest of an index, or null when it has none.</summary>
    public async Task<IndexManifest?> GetLatestManifestAsync(string index, CancellationToken cancellationToken = default)
    {
        var versions = await ListVersionsAsync(index, cancellationToken).ConfigureAwait(false);
        return versions.Count == 0 ? null : await GetManifestAsync(index, versions[^1], cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Uploads a segment file of a version (before the manifest is published) and describes it.</summary>
    public async Task<SegmentManifest> UploadSegmentAsync(string index, long version, int shard, string localPath, CancellationToken cancellationToken = default)
    {
        string key = SegmentKey(index, version, shard, Path.GetFileName(localPath));
        string checksum = await ChecksumAsync(localPath, cancellationToken).ConfigureAwait(false);
        await _store.PutFileAsync(key, localPath, cancellationToken).ConfigureAwait(false);
        return new SegmentManifest(key, new FileInfo(localPath).Length, checksum);
    }

    /// <summary>Publishes a version by writing its manifest; every segment it lists must already be uploaded.</summary>
    public Task PublishAsync(IndexManifest manifest, CancellationToken cancellationToken = default) =>
        _store.PutBytesAsync(ManifestKey(manifest.Index, manifest.Version), manifest.ToJson(), cancellationToken);

    /// <summary>
    /// Returns a local, verified file for a segment: the store's own file when it is local,
    /// otherwise a download into <paramref name="cacheDirectory"/> (reused when its checksum
    /// still matches). A checksum mismatch is an <see cref="InvalidDataException"/> naming the key.
    /// </summary>
    public async Task<string> MaterializeAsync(SegmentManifest segment, string cacheDirectory, CancellationToken cancellationToken = default)
    {
        string? local = _store.TryGetLocalPath(segment.Key);
        string path = local ?? Path.Combine(cacheDirectory, segment.Key.Replace('/', Path.DirectorySeparatorChar));
        if (local is null && !(File.Exists(path) && new FileInfo(path).Length == segment.Bytes &&
                               await ChecksumAsync(path, cancellationToken).ConfigureAwait(false) == segment.Xxh3))
        {
            await _store.GetFileAsync(segment.Key, path, cancellationToken).ConfigureAwait(false);
        }
        long length = new FileInfo(path).Length;
        if (length != segment.Bytes)
            throw new InvalidDataException($"Segment '{segment.Key}' in {_store.Description} has {length} bytes; the manifest says {segment.Bytes}.");
        string actual = await ChecksumAsync(path, cancellationToken).ConfigureAwait(false);
        if (!string.Equals(actual, segment.Xxh3, StringComparison.Ordinal))
            throw new InvalidDataException($"Segment '{segment.Key}' in {_store.Description} fails its checksum (xxh3 {actual}, manifest {segment.Xxh3}).");
        return path;
    }

    /// <summary>XXH3-64 of a file's content as 16 lowercase hex digits.</summary>
    public static async Task<string> ChecksumAsync(string path, CancellationToken cancellationToken = default)
    {
        var hash = new XxHash3();
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, useAsync: true);
        await hash.AppendAsync(stream, cancellationToken).ConfigureAwait(false);
        return hash.GetCurrentHashAsUInt64().ToString("x16", CultureInfo.InvariantCulture);
    }
}
