using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Shoal.Engine.Snapshots;

/// <summary>
/// Index versions in a snapshot store. Layout:
/// <code>
/// indexes/{index}/v{version:D8}/shard-{shard:D4}/{segment}.seg
/// indexes/{index}/v{version:D8}/manifest.json      (written last: the version exists once this does)
/// </code>
/// Older versions stay for rollback until <see cref="PruneAsync"/> removes them.
/// </summary>
public sealed partial class SnapshotCatalog
{
    /// <summary>Suffix of the marker written beside a cached segment once its whole-file checksum matched.</summary>
    public const string VerifiedMarkerSuffix = ".verified";

    private static readonly TimeSpan StaleTemporaryAge = TimeSpan.FromMinutes(30);

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

    /// <summary>Key of the sparse-channel vocabulary stored with a version.</summary>
    public static string VocabularyKey(string index, long version) => $"indexes/{index}/v{version:D8}/sparse-vocab.txt";

    /// <summary>Key of a version's manifest.</summary>
    public static string ManifestKey(string index, long version) => $"indexes/{index}/v{version:D8}/manifest.json";

    /// <summary>Key prefix of everything in a version (segments and manifest).</summary>
    public static string VersionPrefix(string index, long version) => $"indexes/{index}/v{version:D8}/";

    /// <summary>The index and version a key of this layout belongs to (<c>indexes/{index}/v{version}/...</c>).</summary>
    public static bool TryParseKey(string key, out string index, out long version)
    {
        index = "";
        version = 0;
        var parts = key.Split('/');
        if (parts.Length < 4 || parts[0] != "indexes" || parts[1].Length == 0 || parts[2].Length < 2 || parts[2][0] != 'v' ||
            !long.TryParse(parts[2].AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out version))
            return false;
        index = parts[1];
        return true;
    }

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

    /// <summary>Published versions of an index (those with a manifest, readable or not), ascending.</summary>
    public async Task<IReadOnlyList<long>> ListVersionsAsync(string index, CancellationToken cancellationToken = default)
    {
        var (published, _) = await ScanVersionsAsync(index, cancellationToken).ConfigureAwait(false);
        return published;
    }

    /// <summary>Published versions and version directories without a manifest (abandoned or in-progress builds), ascending.</summary>
    private async Task<(List<long> Published, List<long> Unpublished)> ScanVersionsAsync(string index, CancellationToken cancellationToken)
    {
        var all = new SortedSet<long>();
        var published = new SortedSet<long>();
        foreach (var key in await _store.ListAsync($"indexes/{index}/", cancellationToken).ConfigureAwait(false))
        {
            if (!TryParseKey(key, out string keyIndex, out long v) || keyIndex != index) continue;
            all.Add(v);
            if (key.Split('/') is { Length: 4 } parts && parts[3] == "manifest.json") published.Add(v);
        }
        return ([.. published], [.. all.Except(published)]);
    }

    /// <summary>
    /// The manifest of a specific version, or null when it is not published. A manifest that
    /// cannot be read, or that describes another index or version than its key, is an
    /// <see cref="InvalidDataException"/> naming the key.
    /// </summary>
    public async Task<IndexManifest?> GetManifestAsync(string index, long version, CancellationToken cancellationToken = default)
    {
        string key = ManifestKey(index, version);
        var bytes = await _store.GetBytesAsync(key, cancellationToken).ConfigureAwait(false);
        if (bytes is null) return null;
        string source = $"{_store.Description}/{key}";
        var manifest = IndexManifest.FromJson(bytes, source);
        if (manifest.Index != index || manifest.Version != version)
            throw new InvalidDataException($"Index manifest '{source}' is invalid: it describes index '{manifest.Index}' version {manifest.Version}.");
        return manifest;
    }

    /// <summary>
    /// The latest published manifest of an index, or null when it has none. When the latest
    /// version's manifest is unreadable this throws an <see cref="InvalidDataException"/> naming
    /// it (it never silently returns an older version); use
    /// <see cref="FindLatestReadableManifestAsync"/> to fall back past unreadable versions.
    /// </summary>
    public async Task<IndexManifest?> GetLatestManifestAsync(string index, CancellationToken cancellationToken = default)
    {
        for (int attempt = 0; ; attempt++)
        {
            var versions = await ListVersionsAsync(index, cancellationToken).ConfigureAwait(false);
            if (versions.Count == 0) return null;
            IndexManifest? manifest;
            try
            {
                manifest = await GetManifestAsync(index, versions[^1], cancellationToken).ConfigureAwait(false);
            }
            catch (InvalidDataException e)
            {
                throw new InvalidDataException(
                    $"The latest published version {versions[^1]} of index '{index}' cannot be used: {e.Message}" +
                    (versions.Count > 1 ? $" Older versions: {string.Join(", ", versions.SkipLast(1).TakeLast(5))}." : ""), e);
            }
            if (manifest is not null) return manifest;
            // The manifest went away between listing and reading (pruned concurrently): list again.
            if (attempt == 2)
                throw new IOException($"Version {versions[^1]} of index '{index}' in {_store.Description} disappeared while being read, three times.");
        }
    }

    /// <summary>
    /// The newest published manifest that can be read, optionally only among versions older than
    /// <paramref name="olderThan"/>; versions skipped on the way because their manifest is
    /// unreadable are reported in <see cref="ManifestLookup.Skipped"/>.
    /// </summary>
    public async Task<ManifestLookup> FindLatestReadableManifestAsync(string index, long? olderThan = null, CancellationToken cancellationToken = default)
    {
        var versions = await ListVersionsAsync(index, cancellationToken).ConfigureAwait(false);
        var skipped = new List<UnreadableVersion>();
        for (int i = versions.Count - 1; i >= 0; i--)
        {
            long v = versions[i];
            if (olderThan is { } limit && v >= limit) continue;
            try
            {
                var manifest = await GetManifestAsync(index, v, cancellationToken).ConfigureAwait(false);
                if (manifest is not null) return new ManifestLookup(manifest, skipped);
            }
            catch (InvalidDataException e)
            {
                skipped.Add(new UnreadableVersion(v, ManifestKey(index, v), e.Message));
            }
        }
        return new ManifestLookup(null, skipped);
    }

    /// <summary>
    /// The newest readable published version older than <paramref name="version"/> (the one to
    /// keep or fall back to when <paramref name="version"/> fails its checksums), or a lookup with
    /// a null manifest when there is none.
    /// </summary>
    public Task<ManifestLookup> FindPreviousManifestAsync(string index, long version, CancellationToken cancellationToken = default) =>
        FindLatestReadableManifestAsync(index, version, cancellationToken);

    /// <summary>
    /// Removes old versions of an index, keeping the newest <paramref name="keepNewest"/> published
    /// versions, the newest one whose manifest is readable (even when older), and any
    /// <paramref name="pinned"/> versions (e.g. those shards still serve). A removed version's
    /// manifest is deleted first, so it stops being published before its segments go. Version
    /// directories without a manifest that are older than every kept version (abandoned builds)
    /// are removed too; newer ones may be builds in progress and stay.
    /// </summary>
    public async Task<PruneResult> PruneAsync(string index, int keepNewest, IEnumerable<long>? pinned = null, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(keepNewest, 1);
        if (ValidateIndexName(index) is { } error) throw new ArgumentException(error, nameof(index));
        var (published, unpublished) = await ScanVersionsAsync(index, cancellationToken).ConfigureAwait(false);
        if (published.Count == 0) return new PruneResult([], [], []);

        var keep = new SortedSet<long>(published.TakeLast(keepNewest));
        if (pinned is not null) keep.UnionWith(pinned.Where(published.Contains));
        var readable = await FindLatestReadableManifestAsync(index, null, cancellationToken).ConfigureAwait(false);
        if (readable.Manifest is { } newestReadable) keep.Add(newestReadable.Version);

        var removed = published.Where(v => !keep.Contains(v)).ToList();
        var abandoned = unpublished.Where(v => v < keep.Min).ToList();
        foreach (long v in removed)
        {
            await _store.DeleteAsync(ManifestKey(index, v), cancellationToken).ConfigureAwait(false);
            await _store.DeletePrefixAsync(VersionPrefix(index, v), cancellationToken).ConfigureAwait(false);
        }
        foreach (long v in abandoned)
            await _store.DeletePrefixAsync(VersionPrefix(index, v), cancellationToken).ConfigureAwait(false);
        return new PruneResult(removed, abandoned, [.. keep]);
    }

    /// <summary>
    /// Key of the marker a deleted index leaves: the last version number it had, so a new build of
    /// the same name continues after it and never reuses a version number that a silo may still
    /// hold in a cache (manifests, vocabularies, downloaded segments are keyed by version).
    /// </summary>
    public static string DeletedThroughKey(string index) => $"indexes/{index}/deleted-through";

    /// <summary>The version number a new version of <paramref name="index"/> takes: one past every published version and past a deleted index of the same name.</summary>
    public async Task<long> NextVersionAsync(string index, CancellationToken cancellationToken = default)
    {
        var versions = await ListVersionsAsync(index, cancellationToken).ConfigureAwait(false);
        long last = versions.Count == 0 ? 0 : versions[^1];
        return Math.Max(last, await DeletedThroughAsync(index, cancellationToken).ConfigureAwait(false)) + 1;
    }

    private async Task<long> DeletedThroughAsync(string index, CancellationToken cancellationToken)
    {
        var bytes = await _store.GetBytesAsync(DeletedThroughKey(index), cancellationToken).ConfigureAwait(false);
        if (bytes is null) return 0;
        string text = Encoding.UTF8.GetString(bytes).Trim();
        return long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long v) && v >= 0
            ? v
            : throw new InvalidDataException($"'{_store.Description}/{DeletedThroughKey(index)}' is not a version number.");
    }

    /// <summary>
    /// First step of deleting an index: records the last version number in
    /// <see cref="DeletedThroughKey"/> and deletes every version's manifest, so the index stops
    /// being published (a shard activated from now on finds nothing to serve). Stop the shards,
    /// then call <see cref="DeleteUnpublishedIndexAsync"/> to remove the rest.
    /// </summary>
    /// <returns>The published versions it had, ascending.</returns>
    public async Task<IReadOnlyList<long>> UnpublishIndexAsync(string index, CancellationToken cancellationToken = default)
    {
        if (ValidateIndexName(index) is { } error) throw new ArgumentException(error, nameof(index));
        var (published, unpublished) = await ScanVersionsAsync(index, cancellationToken).ConfigureAwait(false);
        long last = Math.Max(await DeletedThroughAsync(index, cancellationToken).ConfigureAwait(false),
            Math.Max(published.Count == 0 ? 0 : published[^1], unpublished.Count == 0 ? 0 : unpublished[^1]));
        // The marker first: a build that starts while the rest goes cannot take a deleted number.
        await _store.PutBytesAsync(DeletedThroughKey(index), Encoding.UTF8.GetBytes(last.ToString(CultureInfo.InvariantCulture)), cancellationToken).ConfigureAwait(false);
        foreach (long v in published)
            await _store.DeleteAsync(ManifestKey(index, v), cancellationToken).ConfigureAwait(false);
        return published;
    }

    /// <summary>
    /// Second step of deleting an index (after <see cref="UnpublishIndexAsync"/>): removes
    /// everything under <c>indexes/{index}/</c> (segments, vocabularies, abandoned builds) but the
    /// <see cref="DeletedThroughKey"/> marker, and the index's update log (<c>updates/{index}/</c>).
    /// </summary>
    /// <returns>The number of objects deleted.</returns>
    public async Task<int> DeleteUnpublishedIndexAsync(string index, CancellationToken cancellationToken = default)
    {
        if (ValidateIndexName(index) is { } error) throw new ArgumentException(error, nameof(index));
        string marker = DeletedThroughKey(index);
        var versions = new SortedSet<long>();
        int objects = 0;
        foreach (string prefix in (string[])[$"indexes/{index}/", UpdateLog.IndexPrefix(index)])
        {
            var keys = (await _store.ListAsync(prefix, cancellationToken).ConfigureAwait(false)).Where(k => k != marker).ToArray();
            foreach (var key in keys)
                if (TryParseKey(key, out string keyIndex, out long v) && keyIndex == index) versions.Add(v);
            await Parallel.ForEachAsync(keys, new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = cancellationToken },
                async (key, ct) => await _store.DeleteAsync(key, ct).ConfigureAwait(false)).ConfigureAwait(false);
            objects += keys.Length;
        }
        // Directories a local store leaves empty (the marker stays).
        foreach (long v in versions)
            await _store.DeletePrefixAsync(VersionPrefix(index, v), cancellationToken).ConfigureAwait(false);
        await _store.DeletePrefixAsync(UpdateLog.IndexPrefix(index), cancellationToken).ConfigureAwait(false);
        return objects;
    }

    /// <summary>
    /// Uploads a segment file of a version (before the manifest is published) and describes it;
    /// the checksum is of the bytes sent, computed while they were read for sending.
    /// </summary>
    public async Task<SegmentManifest> UploadSegmentAsync(string index, long version, int shard, string localPath, CancellationToken cancellationToken = default)
    {
        string key = SegmentKey(index, version, shard, Path.GetFileName(localPath));
        var sum = await _store.UploadFileAsync(key, localPath, cancellationToken).ConfigureAwait(false);
        return new SegmentManifest(key, sum.Bytes, sum.Xxh3Hex);
    }

    /// <summary>Publishes a version by writing its manifest; every segment it lists must already be uploaded.</summary>
    public Task PublishAsync(IndexManifest manifest, CancellationToken cancellationToken = default) =>
        _store.PutBytesAsync(ManifestKey(manifest.Index, manifest.Version), manifest.ToJson(), cancellationToken);

    /// <summary>
    /// Returns a local, verified file for a segment: the store's own file when it is local,
    /// otherwise a download into <paramref name="cacheDirectory"/> (reused when it is still
    /// valid). A checksum mismatch is an <see cref="InvalidDataException"/> naming the key.
    /// Prefer <see cref="MaterializeVerifiedAsync"/>, which also says whether the file's bytes
    /// were just verified (so opening it need not verify section checksums again).
    /// </summary>
    public async Task<string> MaterializeAsync(SegmentManifest segment, string cacheDirectory, CancellationToken cancellationToken = default)
    {
        try
        {
            return (await MaterializeVerifiedAsync(segment, cacheDirectory, cancellationToken).ConfigureAwait(false)).Path;
        }
        catch (SnapshotChecksumException e)
        {
            throw new InvalidDataException(e.Message, e);
        }
    }

    /// <summary>
    /// Returns a local file for a segment, checked against its manifest entry in one pass:
    /// <list type="bullet">
    /// <item>a local store's own file is hashed in place (<see cref="SegmentSource.StoreFile"/>, verified);</item>
    /// <item>a cached file with a valid verification marker (same checksum, size and modification
    /// time as when it was verified) is trusted without reading it (<see cref="SegmentSource.Cached"/>,
    /// not verified: open it with section checksums);</item>
    /// <item>a cached file of the right size without a marker is hashed (<see cref="SegmentSource.Cached"/>, verified);</item>
    /// <item>otherwise the object is downloaded and hashed as it arrives into a temporary file
    /// that is renamed into the cache only when it matches (<see cref="SegmentSource.Downloaded"/>, verified).</item>
    /// </list>
    /// A mismatch is a <see cref="SnapshotChecksumException"/> naming the index, version, key and
    /// both checksums; nothing is left in the cache for that key.
    /// <para>Concurrent calls for the same cache file (shard replicas of one silo, a shard and a
    /// merge) share one check and download (single-flight, process-wide): they all get its result
    /// or its exception. A failure is not remembered: the next call tries again. Cancelling
    /// <paramref name="cancellationToken"/> stops this caller's wait, not the shared download,
    /// which completes (into the cache) for the other callers.</para>
    /// </summary>
    public async Task<MaterializedSegment> MaterializeVerifiedAsync(SegmentManifest segment, string cacheDirectory, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(segment);
        var expected = ObjectChecksum.FromManifest(segment);
        string? local = _store.TryGetLocalPath(segment.Key);
        if (local is not null)
        {
            var actual = await SnapshotFiles.ChecksumAsync(local, cancellationToken).ConfigureAwait(false);
            if (actual != expected)
                throw new SnapshotChecksumException(_store.Description, segment.Key, expected, actual.Bytes, actual.Xxh3, "the store's file was not used");
            return new MaterializedSegment(local, true, SegmentSource.StoreFile);
        }

        string path = CachePath(segment.Key, cacheDirectory);
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var mine = new InFlightMaterialization(expected, new TaskCompletionSource<MaterializedSegment>(TaskCreationOptions.RunContinuationsAsynchronously));
            var current = InFlight.GetOrAdd(path, mine);
            if (ReferenceEquals(current, mine))
            {
                // This call runs it, for itself and every caller that joins before it ends. The work
                // ignores the callers' tokens: one caller giving up must not fail the others.
                _ = RunSharedAsync(segment, path, expected, mine);
                return await mine.Completion.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            if (current.Expected == expected)
                return await current.Completion.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            // The same file expected with other contents (a manifest that disagrees): let that one
            // finish, whatever its outcome, then look at the cache again.
            try
            {
                await current.Completion.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
#pragma warning disable CA1031 // another caller's materialization failed and that caller reports it; this one loops and tries itself
            catch (Exception) when (!cancellationToken.IsCancellationRequested)
#pragma warning restore CA1031
            {
            }
        }
    }

    /// <summary>
    /// Materializations into a cache file now in progress, by full cache path (process-wide: shard
    /// replicas and merges of one silo use their own catalogs over the same cache directory).
    /// An entry is removed before its outcome is published, so a failure is never handed to a
    /// later caller: the next call after a failure tries again.
    /// </summary>
    private static readonly ConcurrentDictionary<string, InFlightMaterialization> InFlight = new(StringComparer.Ordinal);

    private sealed record InFlightMaterialization(ObjectChecksum Expected, TaskCompletionSource<MaterializedSegment> Completion);

    /// <summary>True while a materialization into <paramref name="cachePath"/> is in progress in this process (for tests and diagnostics).</summary>
    internal static bool IsInFlight(string cachePath) => InFlight.ContainsKey(Path.GetFullPath(cachePath));

    private async Task RunSharedAsync(SegmentManifest segment, string path, ObjectChecksum expected, InFlightMaterialization entry)
    {
        MaterializedSegment result;
        try
        {
            result = await MaterializeIntoCacheAsync(segment, path, expected, CancellationToken.None).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // handed to every waiter through the shared completion source (SetException below)
        catch (Exception e)
#pragma warning restore CA1031
        {
            InFlight.TryRemove(new KeyValuePair<string, InFlightMaterialization>(path, entry));
            entry.Completion.SetException(e);
            return;
        }
        InFlight.TryRemove(new KeyValuePair<string, InFlightMaterialization>(path, entry));
        entry.Completion.SetResult(result);
    }

    /// <summary>The cache part of <see cref="MaterializeVerifiedAsync"/>: reuse, verify or download <paramref name="path"/>; one call per path at a time.</summary>
    private async Task<MaterializedSegment> MaterializeIntoCacheAsync(SegmentManifest segment, string path, ObjectChecksum expected, CancellationToken cancellationToken)
    {
        string marker = path + VerifiedMarkerSuffix;
        var file = new FileInfo(path);
        if (file.Exists)
        {
            if (file.Length == expected.Bytes)
            {
                if (ReadMarker(marker) == MarkerText(expected, file)) return new MaterializedSegment(path, false, SegmentSource.Cached);
                var actual = await SnapshotFiles.ChecksumAsync(path, cancellationToken).ConfigureAwait(false);
                if (actual == expected)
                {
                    WriteMarker(marker, expected, path);
                    return new MaterializedSegment(path, true, SegmentSource.Cached);
                }
            }
            // Stale or damaged: it goes, whatever happens next.
            SnapshotFiles.TryDelete(marker);
            File.Delete(path);
        }
        else
        {
            SnapshotFiles.TryDelete(marker);
        }

        RemoveStaleTemporaries(path);
        await _store.DownloadFileAsync(segment.Key, path, expected, cancellationToken).ConfigureAwait(false);
        WriteMarker(marker, expected, path);
        return new MaterializedSegment(path, true, SegmentSource.Downloaded);
    }

    /// <summary>Where <see cref="MaterializeVerifiedAsync"/> caches <paramref name="key"/> under <paramref name="cacheDirectory"/>.</summary>
    public static string CachePath(string key, string cacheDirectory) =>
        Path.GetFullPath(Path.Combine(cacheDirectory, key.Replace('/', Path.DirectorySeparatorChar)));

    private static string MarkerText(ObjectChecksum sum, FileInfo file) =>
        $"xxh3 {sum.Xxh3Hex} bytes {sum.Bytes} mtime {file.LastWriteTimeUtc.Ticks.ToString(CultureInfo.InvariantCulture)}";

    private static string? ReadMarker(string marker)
    {
        try
        {
            return File.ReadAllText(marker, Encoding.ASCII).Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static void WriteMarker(string marker, ObjectChecksum sum, string path)
    {
        string temp = SnapshotFiles.TempPathFor(marker);
        try
        {
            File.WriteAllText(temp, MarkerText(sum, new FileInfo(path)) + "\n", Encoding.ASCII);
            File.Move(temp, marker, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Without a marker the file is simply hashed again next time.
            SnapshotFiles.TryDelete(temp);
        }
    }

    private static void RemoveStaleTemporaries(string path)
    {
        string? dir = Path.GetDirectoryName(path);
        if (dir is null || !Directory.Exists(dir)) return;
        var cutoff = DateTime.UtcNow - StaleTemporaryAge;
        foreach (var temp in Directory.EnumerateFiles(dir, Path.GetFileName(path) + ".part-*"))
            if (File.GetLastWriteTimeUtc(temp) < cutoff) SnapshotFiles.TryDelete(temp);
    }

    /// <summary>XXH3-64 of a file's content as 16 lowercase hex digits.</summary>
    public static async Task<string> ChecksumAsync(string path, CancellationToken cancellationToken = default) =>
        (await SnapshotFiles.ChecksumAsync(path, cancellationToken).ConfigureAwait(false)).Xxh3Hex;

    /// <summary>Size and XXH3-64 of a file's content, in one sequential read.</summary>
    public static Task<ObjectChecksum> ChecksumFileAsync(string path, CancellationToken cancellationToken = default) =>
        SnapshotFiles.ChecksumAsync(path, cancellationToken);
}

/// <summary>Where a materialized segment file came from.</summary>
public enum SegmentSource
{
    /// <summary>The local store's own file, used in place.</summary>
    StoreFile,

    /// <summary>Downloaded into the cache by this call.</summary>
    Downloaded,

    /// <summary>Already in the cache.</summary>
    Cached,
}

/// <summary>A local segment file ready to open.</summary>
/// <param name="Path">The file.</param>
/// <param name="Verified">
/// True when this call hashed every byte of the file and it matched the manifest's XXH3-64, so
/// opening it may skip per-section checksums (e.g. <c>TextSegment.Open(path, verifyChecksums: false)</c>).
/// False for a cached file trusted by its verification marker: open it with section checksums.
/// </param>
/// <param name="Source">Where it came from.</param>
public sealed record MaterializedSegment(string Path, bool Verified, SegmentSource Source);

/// <summary>A version skipped because its manifest could not be read.</summary>
/// <param name="Version">The version.</param>
/// <param name="Key">Its manifest's key.</param>
/// <param name="Reason">Why it could not be read.</param>
public sealed record UnreadableVersion(long Version, string Key, string Reason);

/// <summary>The result of looking for a readable manifest.</summary>
/// <param name="Manifest">The manifest found, or null.</param>
/// <param name="Skipped">Newer versions passed over because their manifest is unreadable, newest first.</param>
public sealed record ManifestLookup(IndexManifest? Manifest, IReadOnlyList<UnreadableVersion> Skipped);

/// <summary>What <see cref="SnapshotCatalog.PruneAsync"/> did.</summary>
/// <param name="RemovedVersions">Published versions removed, ascending.</param>
/// <param name="RemovedUnpublished">Version directories without a manifest removed, ascending.</param>
/// <param name="KeptVersions">Published versions kept, ascending.</param>
public sealed record PruneResult(IReadOnlyList<long> RemovedVersions, IReadOnlyList<long> RemovedUnpublished, IReadOnlyList<long> KeptVersions);
