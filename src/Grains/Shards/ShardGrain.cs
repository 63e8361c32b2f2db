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
using Shoal.Engine.Updates;
using Shoal.Grains.Contracts;
using Shoal.Grains.Hosting;

namespace Shoal.Grains.Shards;

/// <summary>
/// Owns one shard of an index: restores its segments from the latest published manifest on
/// activation (on whichever silo it lands), swaps to newer versions when told or when a query
/// names one, and answers local top-k. Searches are reentrant and run on the thread pool over
/// immutable memory-mapped segments, so a long query never blocks the grain's turn.
/// Online updates live in an immutable live buffer (<see cref="ShardDelta"/>) beside the
/// segments: replayed from the update log on activation, extended by each batch the index grain
/// pushes, searched with every query (published copies of replaced or deleted ids are hidden),
/// and cut back to the later batches when a merged version arrives.
/// </summary>
[Reentrant]
[Placement.ShardPlacement]
#pragma warning disable CA1001 // _loadLock is a SemaphoreSlim whose wait handle is never asked for, so it holds no unmanaged resource; disposing it while a reentrant call may still wait on it would turn that wait into an ObjectDisposedException
public sealed partial class ShardGrain : Grain, IShardGrain
#pragma warning restore CA1001
{
    private readonly SnapshotCatalog _catalog;
    private readonly UpdateLog _log;
    private readonly ShoalOptions _options;
    private readonly ILogger<ShardGrain> _logger;
    private readonly IShardSearchInterceptor _interceptor;
    private readonly SemaphoreSlim _loadLock = new(1, 1);
    private string _index = "";
    private int _shard;
    private int _replica;
    private ShardView _view = ShardView.None;
    private long _failedVersion = -1;
    private DateTime _failedAt;

    /// <summary>Created by Orleans.</summary>
    public ShardGrain(SnapshotCatalog catalog, IOptions<ShoalOptions> options, IShardSearchInterceptor interceptor, ILogger<ShardGrain> logger)
    {
        _catalog = catalog;
        _log = new UpdateLog(catalog.Store);
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
        _view.Lease.Retire();
        _view = ShardView.None;
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
                SwapTo(new ShardView(SegmentLease.Empty(manifest.Version), null, manifest.Lineage));
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
            ShardDelta delta;
            try
            {
                delta = await NextDeltaAsync(manifest, text, cancellationToken);
            }
            catch
            {
                lease.Retire();
                throw;
            }
            SwapTo(new ShardView(lease, delta, manifest.Lineage));
            LogLoaded(_logger, _index, _shard, manifest.Version, lease.DocCount, delta.LiveCount, delta.HiddenCount, delta.Sequence);
        }
        finally
        {
            _loadLock.Release();
        }
    }

    private void SwapTo(ShardView next)
    {
        var old = _view;
        _view = next;
        if (!ReferenceEquals(old.Lease, next.Lease)) old.Lease.Retire();
    }

    /// <summary>
    /// The live buffer for a newly loaded version: the current buffer cut back to the batches the
    /// version has not folded in when it continues the same update log (a merge), otherwise the
    /// version's log replayed from the store after the batches it folded in.
    /// </summary>
    private async Task<ShardDelta> NextDeltaAsync(IndexManifest manifest, TextSegment? text, CancellationToken cancellationToken)
    {
        var scoring = DeltaScoring.Create(manifest, text);
        long through = manifest.Shards[_shard].UpdatesThrough;
        var current = _view;
        var delta = current.Delta is { } d && current.Lineage == manifest.Lineage && d.Sequence >= through
            ? d.Rebase(scoring, through)
            : ShardDelta.Empty(scoring, through);
        return await ReplayAsync(delta, manifest.Lineage, cancellationToken);
    }

    /// <summary>Applies the batches of the update log after the buffer's sequence.</summary>
    private async Task<ShardDelta> ReplayAsync(ShardDelta delta, long lineage, CancellationToken cancellationToken)
    {
        var batches = await _log.ReadAsync(_index, lineage, _shard, after: delta.Sequence, cancellationToken: cancellationToken);
        if (batches.Count == 0) return delta;
        return await Task.Run(() =>
        {
            var next = delta;
            foreach (var (sequence, payload) in batches)
            {
                var batch = UpdateBatchCodec.Decode(payload, UpdateLog.Key(_index, lineage, _shard, sequence));
                if (batch.Sequence != sequence)
                    throw new InvalidDataException($"Update batch '{UpdateLog.Key(_index, lineage, _shard, sequence)}' holds sequence {batch.Sequence}.");
                next = next.Apply(batch);
            }
            return next;
        }, cancellationToken);
    }

    /// <inheritdoc />
    public async Task<int> ApplyUpdatesAsync(long version, long lineage, long sequence, byte[] batch)
    {
        if (version > _view.Version) await LoadVersionAsync(version);
        await _loadLock.WaitAsync();
        try
        {
            var view = _view;
            if (view.Delta is not { } delta)
                throw new InvalidOperationException($"Shard {_index}/{_shard} serves no version that takes updates (version {view.Version}).");
            // A batch of an older lineage belongs to a version this shard has moved past; one of a
            // newer lineage cannot arrive before its version (the sender's version was loaded above).
            if (lineage != view.Lineage)
            {
                if (lineage < view.Lineage) return -1;
                throw new InvalidOperationException($"Shard {_index}/{_shard} serves lineage {view.Lineage}, not {lineage}.");
            }
            if (sequence <= delta.Sequence) return -1; // already applied (a replay or a retry): the count is not known
            ShardDelta next;
            int removed = -1;
            if (sequence == delta.Sequence + 1)
            {
                var decoded = UpdateBatchCodec.Decode(batch, UpdateLog.Key(_index, lineage, _shard, sequence));
                if (decoded.Sequence != sequence) throw new ArgumentException($"The batch holds sequence {decoded.Sequence}, not {sequence}.");
                (next, removed) = await Task.Run(() => (delta.Apply(decoded), CountVisibleDeletes(view, delta, decoded)));
            }
            else
            {
                // Missed a batch (an earlier push failed): catch up from the durable log, which holds this one too.
                next = await ReplayAsync(delta, lineage, CancellationToken.None);
                if (next.Sequence < sequence)
                    throw new InvalidOperationException($"Shard {_index}/{_shard}: the update log ends at batch {next.Sequence}, before pushed batch {sequence}.");
            }
            SwapTo(view with { Delta = next });
            return removed;
        }
        finally
        {
            _loadLock.Release();
        }
    }

    /// <summary>
    /// Deletes in <paramref name="batch"/> that remove a document visible before it (in the live
    /// buffer, or in the segments and not yet hidden), applied in order so an id deleted twice
    /// counts once and an upsert then delete of a new id counts.
    /// </summary>
    private static int CountVisibleDeletes(ShardView view, ShardDelta before, UpdateBatch batch)
    {
        var lease = view.Lease;
        var state = new Dictionary<string, bool>(StringComparer.Ordinal);
        bool Visible(string id)
        {
            if (state.TryGetValue(id, out bool known)) return known;
            if (before.TryGet(id, out _)) return true;
            if (before.Hides(id)) return false;
            return (lease.Text?.FindDocument(id) ?? -1) >= 0 || (lease.Sparse?.FindDocument(id) ?? -1) >= 0 || (lease.Dense?.FindDocument(id) ?? -1) >= 0;
        }
        int removed = 0;
        foreach (var update in batch.Updates)
        {
            if (update.Delete)
            {
                if (Visible(update.Id)) removed++;
                state[update.Id] = false;
            }
            else
            {
                state[update.Id] = true;
            }
        }
        return removed;
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

    private ShardView AcquireView()
    {
        // No swap can come between reading _view and acquiring its lease: both run on this grain's
        // turn (a reentrant grain interleaves calls only at awaits, and there is none here), and
        // SwapTo retires a lease only after _view no longer points at it. The current view's lease
        // therefore still holds its owner's reference, and acquiring it cannot fail.
        var view = _view;
        if (!view.Lease.TryAcquire())
            throw new InvalidOperationException($"Shard {_index}/{_shard}: the lease of served version {view.Version} was released while still current.");
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
                bm25 = await Task.Run(() => SearchText(view, b, query.IncludeStored), cancellationToken);
            if (query.Sparse is { } sq)
                sparse = await Task.Run(() => SearchSparse(view, sq, query.IncludeStored), cancellationToken);
            if (query.Dense is { } dq)
                dense = await SearchDenseAsync(view, dq, query.IncludeStored, cancellationToken);
            return new ShardSearchResult { Shard = _shard, Version = view.Version, Bm25 = bm25, Sparse = sparse, Dense = dense };
        }
        finally
        {
            view.Lease.Release();
        }
    }

    /// <summary>
    /// Top-k of the segment without the ids the live buffer hides: asks the segment for k plus
    /// some of the hidden count, and for more (up to k plus all of it) only when hidden ids took
    /// places in the top, which gives exactly the top-k of the visible documents.
    /// </summary>
    private static List<(string Id, float Score, int Doc)> VisibleTop(ShardDelta? delta, int k, Func<int, ScoredDoc[]> search, Func<int, string> idOf)
    {
        var pending = VisibleTopAsync(delta, k, fetch => ValueTask.FromResult(search(fetch)), idOf);
        return pending.IsCompleted ? pending.Result : pending.AsTask().GetAwaiter().GetResult(); // a synchronous search completes it at once
    }

    /// <inheritdoc cref="VisibleTop"/>
    private static async ValueTask<List<(string Id, float Score, int Doc)>> VisibleTopAsync(ShardDelta? delta, int k, Func<int, ValueTask<ScoredDoc[]>> search, Func<int, string> idOf)
    {
        int hidden = delta?.HiddenCount ?? 0;
        int fetch = k + Math.Min(hidden, Math.Max(k, 16));
        while (true)
        {
            var top = await search(fetch);
            var kept = new List<(string, float, int)>(Math.Min(top.Length, k));
            foreach (var hit in top)
            {
                string id = idOf(hit.DocId);
                if (hidden > 0 && delta!.Hides(id)) continue;
                kept.Add((id, hit.Score, hit.DocId));
                if (kept.Count == k) break;
            }
            if (kept.Count >= k || top.Length < fetch || fetch >= k + hidden) return kept;
            fetch = (int)Math.Min((long)k + hidden, 4L * fetch);
        }
    }

    /// <summary>The segment's visible hits and the live buffer's hits merged: score descending, then id.</summary>
    private Hit[] Merge(ShardView view, List<(string Id, float Score, int Doc)> segment, ScoredId[] live, int k, bool includeStored, Func<int, Hit>? storedOf)
    {
        var hits = new List<Hit>(segment.Count + live.Length);
        foreach (var (id, score, doc) in segment)
            hits.Add(includeStored && storedOf is not null ? storedOf(doc) with { Score = score } : new Hit { Id = id, Score = score });
        foreach (var l in live) hits.Add(new Hit { Id = l.Id, Score = l.Score });
        if (live.Length > 0) hits.Sort(static (a, b) => b.Score != a.Score ? b.Score.CompareTo(a.Score) : string.CompareOrdinal(a.Id, b.Id));
        if (hits.Count > k) hits.RemoveRange(k, hits.Count - k);
        if (includeStored)
            for (int i = 0; i < hits.Count; i++)
                if (hits[i].Title is null && hits[i].Snippet is null) hits[i] = WithStored(view, hits[i]);
        return [.. hits];
    }

    private Hit[] SearchText(ShardView view, ShardTextQuery query, bool includeStored)
    {
        var seg = view.Lease.Text;
        var delta = view.Delta;
        var fromSegment = seg is null ? [] : VisibleTop(delta, query.K, fetch => seg.Search(new TextQuery(query.Terms, query.Weights), fetch), seg.GetId);
        var live = delta is { LiveCount: > 0 } ? delta.SearchText(query.Terms, query.Weights, query.K) : [];
        return Merge(view, fromSegment, live, query.K, includeStored, seg is null ? null :
            d => new Hit { Id = seg.GetId(d), Title = NullIfEmpty(seg.GetTitle(d)), Snippet = Snippet(seg.GetText(d), _options.SnippetLength) });
    }

    private Hit[] SearchSparse(ShardView view, ShardSparseQuery query, bool includeStored)
    {
        var seg = view.Lease.Sparse;
        var delta = view.Delta;
        var vector = new SparseVector(query.Terms, query.Weights);
        var fromSegment = seg is null ? [] : VisibleTop(delta, query.K, fetch => query.Exact
            ? seg.SearchExact(vector, fetch)
            : seg.SearchApproximate(vector, fetch, new SeismicSearchParameters(query.QueryTermCut, query.HeapFactor)), seg.GetId);
        var live = delta is { LiveCount: > 0 } ? delta.SearchSparse(vector, query.K) : [];
        return Merge(view, fromSegment, live, query.K, includeStored, null);
    }

    private async Task<Hit[]> SearchDenseAsync(ShardView view, ShardDenseQuery query, bool includeStored, CancellationToken cancellationToken)
    {
        var seg = view.Lease.Dense;
        var delta = view.Delta;
        float[] vector = MemoryMarshal.Cast<byte, float>(query.Vector).ToArray();
        if (seg is not null && vector.Length != seg.Dims)
            throw new ArgumentException($"The dense query has {vector.Length} dimensions; shard {_index}/{_shard} has {seg.Dims}.");
        List<(string, float, int)> fromSegment = [];
        if (seg is not null)
        {
            int ef = Math.Max(query.K, query.Ef > 0 ? query.Ef : HnswParameters.DefaultEfSearch);
            bool exact = query.Exact || !seg.HasAnnIndex;
            fromSegment = exact
                ? await VisibleTopAsync(delta, query.K, async fetch => await view.Lease.DenseBatcher!.SearchAsync(vector, fetch, cancellationToken), seg.GetId)
                : await Task.Run(() => VisibleTop(delta, query.K, fetch => seg.SearchApproximate(vector, fetch, Math.Max(ef, fetch)), seg.GetId), cancellationToken);
        }
        var live = delta is { LiveCount: > 0 } ? delta.SearchDense(vector, query.K) : [];
        return Merge(view, fromSegment, live, query.K, includeStored, null);
    }

    /// <summary>Adds title and snippet: from the live buffer for an upserted document, else from the channel that stores text (bm25, else sparse contents).</summary>
    private Hit WithStored(ShardView view, Hit hit)
    {
        if (view.Delta is { } delta)
        {
            if (delta.TryGet(hit.Id, out var live))
                return hit with { Title = string.IsNullOrEmpty(live.Title) ? null : live.Title, Snippet = live.Text is null ? null : Snippet(live.Text, _options.SnippetLength) };
            if (delta.Hides(hit.Id)) return hit;
        }
        var lease = view.Lease;
        if (lease.Text is { } text && text.FindDocument(hit.Id) is int d and >= 0)
            return hit with { Title = NullIfEmpty(text.GetTitle(d)), Snippet = Snippet(text.GetText(d), _options.SnippetLength) };
        if (lease.Sparse is { } sparse && sparse.FindDocument(hit.Id) is int s and >= 0 && sparse.GetText(s) is { } contents)
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
            view.Lease.Release();
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
        var lease = view.Lease;
        return Task.FromResult(new ShardInfo
        {
            Index = _index,
            Shard = _shard,
            Replica = _replica,
            Version = lease.Version,
            DocCount = lease.DocCount,
            SegmentBytes = lease.SizeBytes,
            Silo = RuntimeIdentity,
            DensePasses = lease.DenseBatcher?.Passes ?? 0,
            DenseExactQueries = lease.DenseBatcher?.Queries ?? 0,
            UpdateSequence = view.Delta?.Sequence ?? 0,
            LiveDocuments = view.Delta?.LiveCount ?? 0,
            HiddenDocuments = view.Delta?.HiddenCount ?? 0,
        });
    }

    /// <inheritdoc />
    [LoggerMessage(Level = LogLevel.Error, Message = "Shard {Index}/{Shard} cannot restore version {Version}; it keeps serving the version it has")]
    private static partial void LogRestoreFailed(ILogger logger, Exception error, string index, int shard, long version);

    [LoggerMessage(Level = LogLevel.Information, Message = "Shard {Index}/{Shard} serves version {Version} ({Docs} documents; live buffer: {Live} upserted, {Hidden} hidden, through batch {Sequence})")]
    private static partial void LogLoaded(ILogger logger, string index, int shard, long version, long docs, int live, int hidden, long sequence);
}

/// <summary>What a shard serves at one moment: a version's segments, its live buffer of online updates, and the update log lineage they follow.</summary>
internal sealed record ShardView(SegmentLease Lease, ShardDelta? Delta, long Lineage)
{
    /// <summary>
    /// A fresh empty view for each caller: a shard retires the lease of the view it leaves, so an
    /// empty view shared by every shard would be released by the first shard that loads a version,
    /// and then no other shard still serving nothing could acquire it.
    /// </summary>
    public static ShardView None => new(SegmentLease.Empty(0), null, 0);

    public long Version => Lease.Version;
}
