using System.Collections.Concurrent;
using System.Globalization;
using System.IO.Hashing;
using System.Text;
using Shoal.Engine.Snapshots;
using Shoal.Engine.Sparse;

namespace Shoal.Grains.Query;

/// <summary>
/// An index's description as a silo saw it last; <see cref="SuspectUntil"/> (UTC) is when its
/// grain may be asked again after failing to answer, <see cref="FreshUntil"/> (UTC) until when
/// searches use it without asking the grain at all; <see cref="Outdated"/> when a shard answered
/// with a newer version, so the next search must wait for the grain's description.
/// </summary>
public readonly record struct KnownIndexInfo(Contracts.IndexInfo Info, DateTime SuspectUntil, DateTime FreshUntil = default, bool Outdated = false);

/// <summary>What a coordinator needs to know about one published version: its manifest and, with a sparse channel, its vocabulary.</summary>
public sealed record IndexVersionEntry(IndexManifest Manifest, SparseVocabulary? Vocabulary);

/// <summary>
/// Per-silo cache of published versions (manifest and sparse vocabulary), read once from the
/// snapshot store. Versions are immutable once published, so entries never go stale; only the
/// newest few per index are kept.
/// </summary>
public sealed class IndexVersionCache
{
    private const int VersionsKeptPerIndex = 2;
    private readonly SnapshotCatalog _catalog;
    private readonly ConcurrentDictionary<(string Index, long Version), Lazy<Task<IndexVersionEntry>>> _entries = new();

    /// <summary>Created by dependency injection.</summary>
    public IndexVersionCache(SnapshotCatalog catalog) => _catalog = catalog;

    private readonly ConcurrentDictionary<string, KnownIndexInfo> _infos = new(StringComparer.Ordinal);

    /// <summary>The description of <paramref name="index"/> seen last on this silo, and until when its grain is suspected unreachable.</summary>
    public KnownIndexInfo? LastKnownInfo(string index) => _infos.TryGetValue(index, out var known) ? known : null;

    /// <summary>Remembers a description the index grain gave (it answers, so it is no longer suspected), fresh for <paramref name="freshFor"/>.</summary>
    public void RememberInfo(string index, Contracts.IndexInfo info, TimeSpan freshFor = default) =>
        _infos[index] = new KnownIndexInfo(info, DateTime.MinValue, freshFor > TimeSpan.Zero ? DateTime.UtcNow + freshFor : DateTime.MinValue);

    /// <summary>The remembered description is stale (a shard answered with a newer version): the next search asks the grain.</summary>
    public void Invalidate(string index)
    {
        if (_infos.TryGetValue(index, out var known)) _infos[index] = known with { FreshUntil = DateTime.MinValue, Outdated = true };
    }

    private readonly ConcurrentDictionary<string, byte> _refreshing = new(StringComparer.Ordinal);

    /// <summary>
    /// True when the caller is to refresh <paramref name="index"/>'s description in the background
    /// (no other refresh of it is running on this silo); it calls <see cref="EndRefresh"/> when done.
    /// </summary>
    public bool TryBeginRefresh(string index) => _refreshing.TryAdd(index, 0);

    /// <summary>Ends the refresh begun by <see cref="TryBeginRefresh"/>.</summary>
    public void EndRefresh(string index) => _refreshing.TryRemove(index, out _);

    /// <summary>
    /// The newest readable published version of <paramref name="index"/> as the snapshot store
    /// holds it (null when it has none): what a silo that never saw the index serves while the
    /// index grain cannot be reached (its silo died and the cluster has not declared it dead yet).
    /// Published versions are immutable, so this is the same answer the grain would give, minus its
    /// bookkeeping (build status, pending updates, placement).
    /// </summary>
    public async Task<Contracts.IndexInfo?> FindPublishedInfoAsync(string index, CancellationToken cancellationToken = default)
    {
        var lookup = await _catalog.FindLatestReadableManifestAsync(index, cancellationToken: cancellationToken).ConfigureAwait(false);
        return lookup.Manifest is { } manifest ? Indexes.IndexGrain.Describe(manifest) : null;
    }

    /// <summary>Forgets everything this silo remembers of <paramref name="index"/> (it was deleted).</summary>
    public void Forget(string index)
    {
        _infos.TryRemove(index, out _);
        foreach (var key in _entries.Keys.Where(k => k.Index == index).ToList()) _entries.TryRemove(key, out _);
    }

    /// <summary>Marks the index grain as unreachable until <paramref name="until"/> (UTC).</summary>
    public void SuspectInfo(string index, DateTime until)
    {
        if (_infos.TryGetValue(index, out var known)) _infos[index] = known with { SuspectUntil = until };
    }

    /// <summary>The entry of <paramref name="index"/> at <paramref name="version"/>; failures are not cached.</summary>
    public async Task<IndexVersionEntry> GetAsync(string index, long version, CancellationToken cancellationToken = default)
    {
        var key = (index, version);
        if (_entries.TryGetValue(key, out var cached) && cached.Value.IsCompletedSuccessfully) return await cached.Value; // the per-query path (completed: no wait)
        var lazy = _entries.GetOrAdd(key, k => new Lazy<Task<IndexVersionEntry>>(() => LoadAsync(k.Index, k.Version)));
        try
        {
            var entry = await lazy.Value.WaitAsync(cancellationToken);
            Trim(index); // only on a first load: older versions of the index leave the cache
            return entry;
        }
        catch when (lazy.Value.IsFaulted)
        {
            _entries.TryRemove(new KeyValuePair<(string, long), Lazy<Task<IndexVersionEntry>>>(key, lazy));
            throw;
        }
    }

    private void Trim(string index)
    {
        var versions = _entries.Keys.Where(k => k.Index == index).Select(k => k.Version).OrderDescending().Skip(VersionsKeptPerIndex).ToList();
        foreach (var v in versions) _entries.TryRemove((index, v), out _);
    }

    private async Task<IndexVersionEntry> LoadAsync(string index, long version)
    {
        var manifest = await _catalog.GetManifestAsync(index, version)
            ?? throw new InvalidOperationException($"Index '{index}' has no published version {version}.");
        SparseVocabulary? vocabulary = null;
        if (manifest.Schema.Sparse is { } sparse)
        {
            var bytes = await _catalog.Store.GetBytesAsync(sparse.VocabularyKey)
                ?? throw new InvalidDataException($"The vocabulary '{sparse.VocabularyKey}' of index '{index}' version {version} is missing from {_catalog.Store.Description}.");
            string actual = XxHash3.HashToUInt64(bytes).ToString("x16", CultureInfo.InvariantCulture);
            if (actual != sparse.VocabularyXxh3)
                throw new InvalidDataException($"The vocabulary '{sparse.VocabularyKey}' fails its checksum (xxh3 {actual}, manifest {sparse.VocabularyXxh3}).");
            vocabulary = SparseVocabulary.Parse(new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes), sparse.VocabularyKey);
        }
        return new IndexVersionEntry(manifest, vocabulary);
    }
}
