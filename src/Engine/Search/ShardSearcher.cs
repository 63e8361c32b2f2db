using System.Diagnostics;
using Shoal.Engine.Dense;
using Shoal.Engine.Sparse;
using Shoal.Engine.Text;
using Shoal.Engine.Updates;

namespace Shoal.Engine.Search;

/// <summary>
/// Searches one shard of one index version: its segments (one per channel, any may be absent) plus
/// the live buffer of online updates (<see cref="ShardDelta"/>) passed with each search. Segment
/// hits whose id the buffer hides (replaced or deleted since the version) are dropped, the buffered
/// documents are scored with the version's statistics, and both are merged into the shard's local
/// top-k (score descending, then id ordinal), per channel.
/// </summary>
/// <remarks>
/// Thread-safe and free of state besides the dense batcher: any number of searches may run at once.
/// The caller keeps the segments open while a search runs (a shard holds a reference on them); the
/// exact dense scans go through a <see cref="Dense.DenseBatcher"/> that takes its own reference on
/// <c>owner</c> while a pass runs. Scoring runs on the calling thread (for a hybrid request, the other
/// channels on the thread pool), so a caller that must not block runs the search on the pool.
/// </remarks>
public sealed class ShardSearcher
{
    private readonly string _name;

    /// <summary>A searcher over the given segments.</summary>
    /// <param name="text">The bm25 segment, or null.</param>
    /// <param name="sparse">The learned-sparse segment, or null.</param>
    /// <param name="dense">The dense segment, or null.</param>
    /// <param name="owner">The reference count that owns the segments, held by each batched dense pass; null when the caller keeps them open.</param>
    /// <param name="name">How errors name the shard ("shard docs/2").</param>
    public ShardSearcher(TextSegment? text, SparseSegment? sparse, DenseSegment? dense, IReferenceCounted? owner = null, string name = "the shard")
    {
        Text = text;
        Sparse = sparse;
        Dense = dense;
        _name = name;
        if (dense is not null) DenseBatcher = new DenseBatcher(dense, owner);
    }

    /// <summary>The bm25 segment, or null.</summary>
    public TextSegment? Text { get; }

    /// <summary>The learned-sparse segment, or null.</summary>
    public SparseSegment? Sparse { get; }

    /// <summary>The dense segment, or null.</summary>
    public DenseSegment? Dense { get; }

    /// <summary>Batches concurrent exact dense scans into one pass over the vectors (null without a dense segment).</summary>
    public DenseBatcher? DenseBatcher { get; }

    /// <summary>
    /// The local top-k of every channel <paramref name="request"/> asks, over the segments and
    /// <paramref name="delta"/> (null: no live buffer). A hybrid request searches its channels
    /// concurrently unless <see cref="ShardSearchRequest.Concurrent"/> is false; the hits are the same.
    /// </summary>
    /// <exception cref="ArgumentException">A dense query whose dimensions differ from the segment's.</exception>
    public async Task<ShardTopK> SearchAsync(ShardSearchRequest request, ShardDelta? delta, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Concurrent && request.ChannelCount > 1)
        {
            // Channels after the first asked (bm25, else sparse) start on the pool; the first runs here meanwhile.
            var dense = request.Dense is { } d ? Task.Run(() => TimedAsync(() => SearchDenseAsync(d, delta, request, cancellationToken)), cancellationToken) : null;
            var sparse = request.Sparse is { } s && request.Bm25 is not null ? Task.Run(() => Timed(() => SearchSparse(s, delta, request)), cancellationToken) : null;
            var first = request.Bm25 is { } b ? Timed(() => SearchText(b, delta, request)) : Timed(() => SearchSparse(request.Sparse!, delta, request));
            var sparseHits = sparse is null ? request.Bm25 is null ? first : default : await sparse.ConfigureAwait(false);
            var denseHits = dense is null ? default : await dense.ConfigureAwait(false);
            var textHits = request.Bm25 is null ? default : first;
            return new ShardTopK
            {
                Bm25 = textHits.Hits,
                Bm25Elapsed = textHits.Elapsed,
                Sparse = sparseHits.Hits,
                SparseElapsed = sparseHits.Elapsed,
                Dense = denseHits.Hits,
                DenseElapsed = denseHits.Elapsed,
            };
        }
        var result = new ShardTopK();
        if (request.Bm25 is { } bq)
        {
            long started = Stopwatch.GetTimestamp();
            result = result with { Bm25 = SearchText(bq, delta, request), Bm25Elapsed = Stopwatch.GetElapsedTime(started) };
        }
        if (request.Sparse is { } sq)
        {
            long started = Stopwatch.GetTimestamp();
            result = result with { Sparse = SearchSparse(sq, delta, request), SparseElapsed = Stopwatch.GetElapsedTime(started) };
        }
        if (request.Dense is { } dq)
        {
            long started = Stopwatch.GetTimestamp();
            var hits = await SearchDenseAsync(dq, delta, request, cancellationToken).ConfigureAwait(false);
            result = result with { Dense = hits, DenseElapsed = Stopwatch.GetElapsedTime(started) };
        }
        return result;
    }

    private readonly record struct TimedHits(SearchHit[]? Hits, TimeSpan Elapsed);

    private static TimedHits Timed(Func<SearchHit[]> search)
    {
        long started = Stopwatch.GetTimestamp();
        var hits = search();
        return new TimedHits(hits, Stopwatch.GetElapsedTime(started));
    }

    private static async Task<TimedHits> TimedAsync(Func<Task<SearchHit[]>> search)
    {
        long started = Stopwatch.GetTimestamp();
        var hits = await search().ConfigureAwait(false);
        return new TimedHits(hits, Stopwatch.GetElapsedTime(started));
    }

    /// <summary>BM25 top-k of the segment's visible documents and the live buffer's.</summary>
    public SearchHit[] SearchText(TextChannelQuery query, ShardDelta? delta, ShardSearchRequest? options = null)
    {
        ArgumentNullException.ThrowIfNull(query);
        var seg = Text;
        bool stored = options?.IncludeStored ?? false;
        int snippet = options?.SnippetLength ?? 0;
        var fromSegment = seg is null ? [] : VisibleTop(delta, query.K, fetch => seg.Search(query.Query, fetch), seg.GetId);
        var live = delta is { LiveCount: > 0 } ? delta.SearchText(query.Query.Terms, query.Query.Weights, query.K) : [];
        return Merge(fromSegment, live, query.K, delta, stored, snippet, seg is null ? null :
            (d, score) => new SearchHit(seg.GetId(d), score, NullIfEmpty(seg.GetTitle(d)), Snippet(seg.GetTextPrefix(d, snippet), snippet)));
    }

    /// <summary>Learned-sparse top-k (exact or approximate) of the segment's visible documents and the live buffer's.</summary>
    public SearchHit[] SearchSparse(SparseChannelQuery query, ShardDelta? delta, ShardSearchRequest? options = null)
    {
        ArgumentNullException.ThrowIfNull(query);
        var seg = Sparse;
        var vector = query.Vector;
        var fromSegment = seg is null ? [] : VisibleTop(delta, query.K, fetch => query.Exact
            ? seg.SearchExact(vector, fetch)
            : seg.SearchApproximate(vector, fetch, query.Parameters), seg.GetId);
        var live = delta is { LiveCount: > 0 } ? delta.SearchSparse(vector, query.K) : [];
        return Merge(fromSegment, live, query.K, delta, options?.IncludeStored ?? false, options?.SnippetLength ?? 0, null);
    }

    /// <summary>
    /// Dense top-k of the segment's visible documents and the live buffer's: an exact scan through
    /// the <see cref="DenseBatcher"/> (asked for <see cref="DenseChannelQuery.Exact"/> or when the
    /// segment has no graph), else an HNSW search with a beam of at least k.
    /// </summary>
    public async Task<SearchHit[]> SearchDenseAsync(DenseChannelQuery query, ShardDelta? delta, ShardSearchRequest? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        var seg = Dense;
        float[] vector = query.Vector;
        if (seg is not null && vector.Length != seg.Dims)
            throw new ArgumentException($"The dense query has {vector.Length} dimensions; {_name} has {seg.Dims}.", nameof(query));
        List<(string, float, int)> fromSegment = [];
        if (seg is not null)
        {
            int ef = Math.Max(query.K, query.Ef > 0 ? query.Ef : HnswParameters.DefaultEfSearch);
            bool exact = query.Exact || !seg.HasAnnIndex;
            var batcher = DenseBatcher!;
            fromSegment = exact
                ? await VisibleTopAsync(delta, query.K, async fetch => await batcher.SearchAsync(vector, fetch, cancellationToken).ConfigureAwait(false), seg.GetId).ConfigureAwait(false)
                : VisibleTop(delta, query.K, fetch => seg.SearchApproximate(vector, fetch, Math.Max(ef, fetch)), seg.GetId);
        }
        var live = delta is { LiveCount: > 0 } ? delta.SearchDense(vector, query.K) : [];
        return Merge(fromSegment, live, query.K, delta, options?.IncludeStored ?? false, options?.SnippetLength ?? 0, null);
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
            var top = await search(fetch).ConfigureAwait(false);
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
    private SearchHit[] Merge(List<(string Id, float Score, int Doc)> segment, ScoredId[] live, int k, ShardDelta? delta, bool includeStored, int snippetLength,
        Func<int, float, SearchHit>? storedOf)
    {
        var hits = new List<SearchHit>(segment.Count + live.Length);
        foreach (var (id, score, doc) in segment)
            hits.Add(includeStored && storedOf is not null ? storedOf(doc, score) : new SearchHit(id, score));
        foreach (var l in live) hits.Add(new SearchHit(l.Id, l.Score));
        if (live.Length > 0) hits.Sort(static (a, b) => b.Score != a.Score ? b.Score.CompareTo(a.Score) : string.CompareOrdinal(a.Id, b.Id));
        if (hits.Count > k) hits.RemoveRange(k, hits.Count - k);
        if (includeStored)
            for (int i = 0; i < hits.Count; i++)
                if (hits[i].Title is null && hits[i].Snippet is null) hits[i] = WithStored(hits[i], delta, snippetLength);
        return [.. hits];
    }

    /// <summary>
    /// <paramref name="hit"/> with its title and snippet: from the live buffer for an upserted
    /// document, else from the channel that stores text (bm25, else sparse contents); unchanged for
    /// a document the buffer hides or no channel stores.
    /// </summary>
    public SearchHit WithStored(SearchHit hit, ShardDelta? delta, int snippetLength)
    {
        ArgumentNullException.ThrowIfNull(hit);
        if (delta is not null)
        {
            if (delta.TryGet(hit.Id, out var live))
                return hit with { Title = string.IsNullOrEmpty(live.Title) ? null : live.Title, Snippet = live.Text is null ? null : Snippet(live.Text, snippetLength) };
            if (delta.Hides(hit.Id)) return hit;
        }
        if (Text is { } text && text.FindDocument(hit.Id) is int d and >= 0)
            return hit with { Title = NullIfEmpty(text.GetTitle(d)), Snippet = Snippet(text.GetTextPrefix(d, snippetLength), snippetLength) };
        if (Sparse is { } sparse && sparse.FindDocument(hit.Id) is int s and >= 0 && sparse.GetText(s) is { } contents)
            return hit with { Snippet = Snippet(contents, snippetLength) };
        return hit;
    }

    /// <summary>The stored fields of those of <paramref name="ids"/> that are visible and have any (the fetch phase of fused queries).</summary>
    public SearchHit[] Fetch(IReadOnlyCollection<string> ids, ShardDelta? delta, int snippetLength)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var hits = new List<SearchHit>(ids.Count);
        foreach (var id in ids)
        {
            var hit = WithStored(new SearchHit(id, 0), delta, snippetLength);
            if (hit.Title is not null || hit.Snippet is not null) hits.Add(hit);
        }
        return [.. hits];
    }

    /// <summary>True when <paramref name="id"/> is in a segment of this version (visible or not).</summary>
    public bool Contains(string id) =>
        (Text?.FindDocument(id) ?? -1) >= 0 || (Sparse?.FindDocument(id) ?? -1) >= 0 || (Dense?.FindDocument(id) ?? -1) >= 0;

    /// <summary>
    /// Deletes in <paramref name="batch"/> that remove a document visible before it (in the live
    /// buffer <paramref name="before"/>, or in the segments and not yet hidden), applied in order so an
    /// id deleted twice counts once and an upsert then delete of a new id counts.
    /// </summary>
    public int CountVisibleDeletes(ShardDelta before, UpdateBatch batch)
    {
        ArgumentNullException.ThrowIfNull(before);
        ArgumentNullException.ThrowIfNull(batch);
        var state = new Dictionary<string, bool>(StringComparer.Ordinal);
        bool Visible(string id)
        {
            if (state.TryGetValue(id, out bool known)) return known;
            if (before.TryGet(id, out _)) return true;
            if (before.Hides(id)) return false;
            return Contains(id);
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

    private static string? NullIfEmpty(string s) => s.Length == 0 ? null : s;

    /// <summary>The first <paramref name="length"/> characters of a text, cut at a word boundary.</summary>
    public static string Snippet(string text, int length)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length <= length) return text;
        int cut = text.LastIndexOf(' ', length);
        if (cut < length / 2) cut = length;
        return string.Concat(text.AsSpan(0, cut).TrimEnd(), "…");
    }
}
