using System.Text;
using Shoal.Engine.Indexing;
using Shoal.Engine.Security;
using Shoal.Engine.Snapshots;
using Shoal.Engine.Sparse;
using Shoal.Grains.Contracts;
using Shoal.Grains.Hosting;

namespace Shoal.Grains.Jobs;

/// <summary>
/// The files of one job in one activation: its sources as local files (a path confined to the
/// data roots, or a <c>store:</c> object, in place when the store is local, else downloaded once),
/// its copy of the sparse vocabulary in the store, and its scratch directory.
/// </summary>
internal sealed class JobFiles(SnapshotCatalog catalog, DataRoots roots, ShoalOptions options, string jobId, string scratchDirectory, string silo)
{
    private readonly Dictionary<string, string> _localSources = new(StringComparer.Ordinal);
    private SparseVocabulary? _vocabulary;

    /// <summary>Prefix of sources that name an object of the snapshot store.</summary>
    public const string StorePrefix = "store:";

    /// <summary>The snapshot catalog the job reads from and publishes to.</summary>
    public SnapshotCatalog Catalog => catalog;

    /// <summary>Store prefix of the job's spills and vocabulary copy.</summary>
    public string SpillPrefix => $"jobs/spill/{jobId}";

    /// <summary>Local directory of this activation's downloads, spills in flight and built shards.</summary>
    public string ScratchDirectory => scratchDirectory;

    /// <summary>A source as a local file: the path itself, or a <c>store:</c> object (in place when the store is local, else downloaded once per activation).</summary>
    public async Task<string> LocalFileAsync(string source, string kind, CancellationToken cancellationToken)
    {
        if (_localSources.TryGetValue(source, out string? cached)) return cached;
        if (!source.StartsWith(StorePrefix, StringComparison.Ordinal)) return _localSources[source] = Confine(source, kind);
        string key = source[StorePrefix.Length..];
        if (StoreKeys.Validate(key) is { } keyError) throw new ArgumentException(keyError);
        string? local = catalog.Store.TryGetLocalPath(key);
        if (local is null)
        {
            local = Path.Combine(ScratchDirectory, "source", kind, Path.GetFileName(key));
            await catalog.Store.GetFileAsync(key, local, cancellationToken);
        }
        return _localSources[source] = local;
    }

    /// <summary>The job's sparse vocabulary (its copy in the store), loaded once per activation.</summary>
    public async Task<SparseVocabulary> VocabularyAsync(IndexJobRecord record, CancellationToken cancellationToken)
    {
        if (_vocabulary is not null) return _vocabulary;
        string local = await LocalFileAsync(StorePrefix + record.VocabularyKey, "vocabulary", cancellationToken);
        return _vocabulary = await Task.Run(() => SparseVocabulary.Load(local), cancellationToken);
    }

    /// <summary>
    /// Resolves the sparse vocabulary (the request's, the cluster's configured one, or
    /// bert-base-uncased from the shared data), checks it and copies it into the job's store prefix,
    /// so every silo that later runs the job reads the same one; records it in <paramref name="record"/>.
    /// </summary>
    public async Task StoreVocabularyAsync(IndexJobRecord record, IndexJobRequest r)
    {
        string? given = r.SparseVocabulary ?? options.SparseVocabularyPath ?? SharedData.Find(SharedData.BertVocabulary)
            ?? throw new ArgumentException("The sparse vectors need a vocabulary: give sparseVocabulary (a vocab.txt path or store:key) or configure Shoal:SparseVocabularyPath.");
        if (string.IsNullOrWhiteSpace(given)) throw new ArgumentException("sparseVocabulary is empty.");
        string local;
        if (given.StartsWith(StorePrefix, StringComparison.Ordinal))
        {
            string key = given[StorePrefix.Length..];
            if (StoreKeys.Validate(key) is { } keyError) throw new ArgumentException($"sparseVocabulary: {keyError}");
            var found = await catalog.Store.ListAsync(key);
            if (!found.Contains(key)) throw new ArgumentException($"Vocabulary object '{key}' does not exist in {catalog.Store.Description}.");
            local = await LocalFileAsync(given, "vocabulary", CancellationToken.None);
        }
        else if (r.SparseVocabulary is not null)
        {
            local = Confine(given, "Vocabulary");
        }
        else
        {
            // The cluster's configured vocabulary: operator configuration, not confined to the data roots.
            local = Path.GetFullPath(given);
            if (!File.Exists(local)) throw new ArgumentException($"Vocabulary file '{local}' does not exist on silo {silo}.");
        }
        SparseVocabulary vocabulary;
        try
        {
            vocabulary = SparseVocabulary.Load(local);
        }
        catch (Exception e) when (e is FormatException or DecoderFallbackException or IOException)
        {
            throw new ArgumentException($"Vocabulary '{given}' cannot be read: {e.Message}", e);
        }
        r.Specification().Plan(vocabulary, r.DenseDims ?? 1).Validate();
        string jobKey = $"{SpillPrefix}/sparse-vocab.txt";
        await catalog.Store.PutFileAsync(jobKey, local);
        record.VocabularyKey = jobKey;
        record.VocabularyXxh3 = await SnapshotCatalog.ChecksumAsync(local);
        record.VocabularySize = vocabulary.Count;
        _vocabulary = vocabulary;
    }

    /// <summary>Checks that a source exists; returns its local path (null for an object of a remote store) and size (0 when unknown).</summary>
    public async Task<(string? Local, long Bytes)> ResolveAsync(string source, string what)
    {
        if (string.IsNullOrWhiteSpace(source)) throw new ArgumentException($"{what}: the path is empty.");
        if (source.StartsWith(StorePrefix, StringComparison.Ordinal))
        {
            string key = source[StorePrefix.Length..];
            if (StoreKeys.Validate(key) is { } keyError) throw new ArgumentException($"{what}: {keyError}");
            var found = await catalog.Store.ListAsync(key);
            if (!found.Contains(key)) throw new ArgumentException($"{what} object '{key}' does not exist in {catalog.Store.Description}.");
            string? inPlace = catalog.Store.TryGetLocalPath(key);
            return (inPlace, inPlace is null ? 0 : new FileInfo(inPlace).Length);
        }
        string local = Confine(source, what);
        return (local, new FileInfo(local).Length);
    }

    /// <summary>A local source path resolved inside the data roots (README "Security model"); anything else is an <see cref="ArgumentException"/> that reveals nothing outside them.</summary>
    private string Confine(string path, string what)
    {
        try
        {
            return roots.Resolve(path, what);
        }
        catch (ConfinedPathException e)
        {
            throw new ArgumentException(e.Message);
        }
    }
}
