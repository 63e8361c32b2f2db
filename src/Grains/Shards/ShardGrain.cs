using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans;
using Orleans.Concurrency;
using Orleans.Runtime;
using System.Runtime.InteropServices;
using Shoal.Engine.Dense;
using Shoal.Engine.Search;
using Shoal.Engine.Segments;
using Shoal.Engine.Sparse;
using Shoal.Engine.Snapshots;
using Shoal.Engine.Text;
using Shoal.Grains.Contracts;
using Shoal.Grains.Hosting;

namespace Shoal.Grains.Shards;

/// <summary>
/// Owns one shard of an index: restores its segments from the latest published manifest on
/// activation (on whichever silo it lands), swaps to newer versions when told or when a query
/// names one, and answers local top-k. Searches are reentrant and run on the thread pool over
/// immutable memory-mapped segments, so a long query never blocks the grain's turn.
/// </summary>
[Reentrant]
[Placement.ShardPlacement]
public sealed partial class ShardGrain : Grain, IShardGrain
{
    private readonly SnapshotCatalog _catalog;
    private readonly ShoalOptions _options;
    private readonly ILogger<ShardGrain> _logger;
    private readonly IShardSearchInterceptor _interceptor;
    private readonly SemaphoreSlim _loadLock = new(1, 1);
    private string _index = "";
    private int _shard;
    private int _replica;
    private SegmentLease _view = SegmentLease.Empty(0);
    private long _failedVersion = -1;
    private DateTime _failedAt;

    /// <summary>Created by Orleans.</summary>
    public ShardGrain(SnapshotCatalog catalog, IOptions<ShoalOptions> options, IShardSearchInterceptor interceptor, ILogger<ShardGrain> logger)
    {
        _catalog = catalog;
        _interceptor = interceptor;
        _options = options.Value;
        _logger = logger;
    }

    /// <summary>Key of replica <paramref name="replica"/> of shard <paramref name="shard"/> of <paramref name="index"/>: "{index}/{shard}/{replica}".</summary>
    public static string KeyOf(string index, int shard, int replica = 0) => string.Create(CultureInfo.InvariantCulture, $"{index}/{shard}/{replica}");

    /// <summary>Parses "{index}/{shard}/{replica}" (or "{index}/{shard}", replica 0).</summary>
    public static bool TryParseKey(string key, out string index, out int shard, out int replica)
    {
        index = "";
        shard = replica = 0;
        var parts = key.Split('/');
        if (parts.Length is < 2 or > 3 || parts[0].Length == 0) return false;
        if (!int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out shard)) return false;
        if (parts.Length == 3 && !int.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out replica)) return false;
        index = parts[0];
        return true;
    }

    /// <inheritdoc />
    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        string key = this.GetPrimaryKeyString();
        if (!TryParseKey(key, out _index, out _shard, out _replica))
            throw new ArgumentException($"Shard grain key '{key}' is not '{{index}}/{{shard}}/{{replica}}'.");
        await RestoreLatestAsync(cancellationToken);
    }

    /// <inheritdoc />
    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        _view.Retire();
        _view = SegmentLease.Empty(0);
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public async Task LoadVersionAsync(long version)
    {
        if (version <= _view.Version) return;
        var manifest = await _catalog.GetManifestAsync(_index, version)
            ?? throw new InvalidOperationException($"Index '{_index}' has no published version {version} in {_catalog.Store.Description}.");
        await LoadAsync(manifest, CancellationToken.None);
    }

    /// <summary>
    /// Restores the latest published version; when it cannot be restored (a segment fails its
    /// checksum, a file is missing), says so in the log and falls back to the newest older version
    /// that can, so a bad publish never takes a shard offline.
    /// </summary>
    private async Task RestoreLatestAsync(CancellationToken cancellationToken)
    {
        var versions = await _catalog.ListVersionsAsync(_index, cancellationToken);
        for (int i = versions.Count - 1; i >= 0; i--)
        {
            try
            {
                var manifest = await _catalog.GetManifestAsync(_index, versions[i], cancellationToken);
                if (manifest is null) continue;
                await LoadAsync(manifest, cancellationToken);
                return;
            }
            catch (Exception e) when (e is InvalidDataException or IOException or CorruptSegmentException)
            {
                _failedVersion = versions[i];
                _failedAt = DateTime.UtcNow;
                LogRestoreFailed(_logger, e, _index, _shard, versions[i]);
            }
        }
    }

    private async Task LoadAsync(IndexManifest manifest, CancellationToken cancellationToken)
    {
        await _loadLock.WaitAsync(cancellationToken);
        try
        {
            if (manifest.Version <= _view.Version) return;
            if (_shard >= manifest.ShardCount)
            {
                SwapTo(SegmentLease.Empty(manifest.Version));
                return;
            }
            TextSegment? text = null;
            SparseSegment? sparse = null;
            DenseSegment? dense = null;
            try
            {
                foreach (var segment in manifest.Shards[_shard].Segments)
                {
                    // A file just hashed whole against the manifest skips the section-checksum pass on open;
                    // a cached or in-store file is verified section by section (a sequential read, off the turn).
                    var file = await _catalog.MaterializeVerifiedAsync(segment, _options.CacheDirectory, cancellationToken);
                    string path = file.Path;
                    bool verify = !file.Verified;
                    switch (segment.Channel)
                    {
                        case IndexChannels.Text:
                            text = await Task.Run(() => TextSegment.Open(path, verify), cancellationToken);
                            break;
                        case IndexChannels.Sparse:
                            sparse = await Task.Run(() => SparseSegment.Open(path, verify), cancellationToken);
                            break;
                        case IndexChannels.Dense:
                            dense = await Task.Run(() => DenseSegment.Open(path, verify), cancellationToken);
                            break;
                        default:
                            throw new InvalidDataException($"Segment '{segment.Key}' has unknown channel '{segment.Channel}'.");
                    }
                }
            }
            catch
            {
                text?.Dispose();
                sparse?.Dispose();
                dense?.Dispose();
                throw;
            }
            var lease = new SegmentLease(manifest.Version, text, sparse, dense);
            SwapTo(lease);
            LogLoaded(_logger, _index, _shard, manifest.Version, lease.DocCount);
        }
        finally
        {
            _loadLock.Release();
        }
    }

    private void SwapTo(SegmentLease next)
    {
        var old = _view;
        _view = next;
        old.Retire();
    }

    /// <summary>
    /// Moves to <paramref name="version"/> when a query names a newer one than this shard serves.
    /// A version that fails to load is logged and retried at most every 30 seconds; meanwhile the
    /// shard keeps answering from the version it has.
    /// </summary>
    private async Task CatchUpAsync(long version)
    {
        if (version == _failedVersion && DateTime.UtcNow - _failedAt < TimeSpan.FromSeconds(30)) return;
        try
        {
            await LoadVersionAsync(version);
        }
        catch (Exception e) when (e is InvalidDataException or IOException or CorruptSegmentException or InvalidOperationException)
        {
            _failedVersion = version;
            _failedAt = DateTime.UtcNow;
            LogRestoreFailed(_logger, e, _index, _shard, version);
        }
    }

    private SegmentLease AcquireView()
    {
        // A concurrent swap may retire the view between reading and acquiring it; then read again.
        SegmentLease view;
        while (!(view = _view).TryAcquire()) { }
        return view;
    }

    /// <inheritdoc />
    public async Task<ShardSearchResult> SearchAsync(ShardQuery query, CancellationToken cancellationToken = default)
    {
        if (query.Version > _view.Version) await CatchUpAsync(query.Version);
        await _interceptor.BeforeSearchAsync(_index, _shard, cancellationToken);
        var view = AcquireView();
        try
        {
            Hit[]? bm25 = null, sparse = null, dense = null;
            if (query.Bm25 is { } b)
                bm25 = view.Text is null ? [] : await Task.Run(() => SearchText(view, b, query.IncludeStored), cancellationToken);
            if (query.Sparse is { } sq)
                sparse = view.Sparse is null ? [] : await Task.Run(() => SearchSparse(view, sq, query.IncludeStored), cancellationToken);
            if (query.Dense is { } dq)
                dense = view.Dense is null ? [] : await SearchDenseAsync(view, dq, query.IncludeStored, cancellationToken);
            return new ShardSearchResult { Shard = _shard, Version = view.Version, Bm25 = bm25, Sparse = sparse, Dense = dense };
        }
        finally
        {
            view.Release();
        }
    }

    private Hit[] SearchText(SegmentLease view, ShardTextQuery query, bool includeStored)
    {
        var seg = view.Text!;
        var top = seg.Search(new TextQuery(query.Terms, query.Weights), query.K);
        var hits = new Hit[top.Length];
        for (int i = 0; i < top.Length; i++)
        {
            int d = top[i].DocId;
            hits[i] = includeStored
                ? new Hit { Id = seg.GetId(d), Score = top[i].Score, Title = NullIfEmpty(seg.GetTitle(d)), Snippet = Snippet(seg.GetText(d), _options.SnippetLength) }
                : new Hit { Id = seg.GetId(d), Score = top[i].Score };
        }
        return hits;
    }

    private Hit[] SearchSparse(SegmentLease view, ShardSparseQuery query, bool includeStored)
    {
        var seg = view.Sparse!;
        var vector = new SparseVector(query.Terms, query.Weights);
        var top = query.Exact
            ? seg.SearchExact(vector, query.K)
            : seg.SearchApproximate(vector, query.K, new SeismicSearchParameters(query.QueryTermCut, query.HeapFactor));
        var hits = new Hit[top.Length];
        for (int i = 0; i < top.Length; i++)
        {
            var hit = new Hit { Id = seg.GetId(top[i].DocId), Score = top[i].Score };
            hits[i] = includeStored ? WithStored(view, hit) : hit;
        }
        return hits;
    }

    private async Task<Hit[]> SearchDenseAsync(SegmentLease view, ShardDenseQuery query, bool includeStored, CancellationToken cancellationToken)
    {
        var seg = view.Dense!;
        float[] vector = MemoryMarshal.Cast<byte, float>(query.Vector).ToArray();
        if (vector.Length != seg.Dims)
            throw new ArgumentException($"The dense query has {vector.Length} dimensions; shard {_index}/{_shard} has {seg.Dims}.");
        ScoredDoc[] top;
        if (query.Exact || !seg.HasAnnIndex)
        {
            top = await view.DenseBatcher!.SearchAsync(vector, query.K, cancellationToken);
        }
        else
        {
            int ef = Math.Max(query.K, query.Ef > 0 ? query.Ef : HnswParameters.DefaultEfSearch);
            top = await Task.Run(() => seg.SearchApproximate(vector, query.K, ef), cancellationToken);
        }
        var hits = new Hit[top.Length];
        for (int i = 0; i < top.Length; i++)
        {
            var hit = new Hit { Id = seg.GetId(top[i].DocId), Score = top[i].Score };
            hits[i] = includeStored ? WithStored(view, hit) : hit;
        }
        return hits;
    }

    /// <summary>Adds title and snippet from the channel that stores text (bm25, else sparse contents).</summary>
    private Hit WithStored(SegmentLease view, Hit hit)
    {
        if (view.Text is { } text && text.FindDocument(hit.Id) is int d and >= 0)
            return hit with { Title = NullIfEmpty(text.GetTitle(d)), Snippet = Snippet(text.GetText(d), _options.SnippetLength) };
        if (view.Sparse is { } sparse && sparse.FindDocument(hit.Id) is int s and >= 0 && sparse.GetText(s) is { } contents)
            return hit with { Snippet = Snippet(contents, _options.SnippetLength) };
        return hit;
    }

    /// <inheritdoc />
    public async Task<Hit[]> FetchAsync(ShardFetchRequest request, CancellationToken cancellationToken = default)
    {
        if (request.Version > _view.Version) await CatchUpAsync(request.Version);
        var view = AcquireView();
        try
        {
            var hits = new List<Hit>(request.Ids.Length);
            foreach (var id in request.Ids)
            {
                var hit = WithStored(view, new Hit { Id = id });
                if (hit.Title is not null || hit.Snippet is not null) hits.Add(hit);
            }
            return [.. hits];
        }
        finally
        {
            view.Release();
        }
    }

    private static string? NullIfEmpty(string s) => s.Length == 0 ? null : s;

    /// <summary>The first <paramref name="length"/> characters of a text, cut at a word boundary.</summary>
    internal static string Snippet(string text, int length)
    {
        if (text.Length <= length) return text;
        int cut = text.LastIndexOf(' ', length);
        if (cut < length / 2) cut = length;
        return string.Concat(text.AsSpan(0, cut).TrimEnd(), "…");
    }

    /// <inheritdoc />
    public Task<ShardInfo> GetInfoAsync()
    {
        var view = _view;
        return Task.FromResult(new ShardInfo
        {
            Index = _index,
            Shard = _shard,
            Replica = _replica,
            Version = view.Version,
            DocCount = view.DocCount,
            SegmentBytes = view.SizeBytes,
            Silo = RuntimeIdentity,
            DensePasses = view.DenseBatcher?.Passes ?? 0,
            DenseExactQueries = view.DenseBatcher?.Queries ?? 0,
        });
    }

    /// <inheritdoc />
    public Task ApplyUpdatesAsync(long version, long lineage, long sequence, byte[] batch) => throw new NotImplementedException("in progress");

    [LoggerMessage(Level = LogLevel.Error, Message = "Shard {Index}/{Shard} cannot restore version {Version}; it keeps serving the version it has")]
    private static partial void LogRestoreFailed(ILogger logger, Exception error, string index, int shard, long version);

    [LoggerMessage(Level = LogLevel.Information, Message = "Shard {Index}/{Shard} serves version {Version} ({Docs} documents)")]
    private static partial void LogLoaded(ILogger logger, string index, int shard, long version, long docs);
}
