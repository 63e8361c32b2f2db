using System.Buffers;
using System.Collections.Immutable;
using System.Runtime.InteropServices;
using Shoal.Engine.Dense;
using Shoal.Engine.Search;
using Shoal.Engine.Sparse;

namespace Shoal.Engine.Updates;

/// <summary>
/// The live buffer of one shard: documents upserted since the served version and the ids whose
/// copy in that version is hidden (replaced or deleted). Immutable: <see cref="Apply"/> returns a
/// new buffer (persistent collections, O(batch · log n)), so a search keeps the buffer it started
/// with. Searches score every buffered document (a brute-force pass; merges keep the buffer small)
/// with the served version's statistics, exactly as a segment of that version would.
/// </summary>
public sealed class ShardDelta
{
    private readonly ImmutableSortedDictionary<string, LiveDocument> _live;
    private readonly ImmutableHashSet<string> _hidden;
    private readonly ImmutableList<UpdateBatch> _batches;
    private readonly long _operations;
    // Inverted lists of the live documents, so a query only touches documents that share a term
    // with it. A document gets an ordinal when it enters the buffer; a list is an array of
    // (ordinal, impact or level), replaced whole when a batch touches its term.
    private readonly ImmutableDictionary<int, LiveDocument> _byOrdinal;
    private readonly int _nextOrdinal;
    private readonly ImmutableDictionary<string, Posting<float>[]> _textPostings;
    private readonly ImmutableDictionary<int, Posting<double>[]> _sparsePostings;

    private ShardDelta(DeltaScoring scoring, long baseSequence, long sequence, ImmutableSortedDictionary<string, LiveDocument> live,
        ImmutableHashSet<string> hidden, ImmutableList<UpdateBatch> batches, long operations, ImmutableDictionary<int, LiveDocument> byOrdinal,
        int nextOrdinal, ImmutableDictionary<string, Posting<float>[]> textPostings, ImmutableDictionary<int, Posting<double>[]> sparsePostings)
    {
        _byOrdinal = byOrdinal;
        _nextOrdinal = nextOrdinal;
        _textPostings = textPostings;
        _sparsePostings = sparsePostings;
        Scoring = scoring;
        BaseSequence = baseSequence;
        Sequence = sequence;
        _live = live;
        _hidden = hidden;
        _batches = batches;
        _operations = operations;
    }

    /// <summary>An empty buffer over a version that holds the shard's batches up to <paramref name="throughSequence"/>.</summary>
    public static ShardDelta Empty(DeltaScoring scoring, long throughSequence)
    {
        ArgumentNullException.ThrowIfNull(scoring);
        ArgumentOutOfRangeException.ThrowIfNegative(throughSequence);
        return new ShardDelta(scoring, throughSequence, throughSequence, ImmutableSortedDictionary.Create<string, LiveDocument>(StringComparer.Ordinal),
            ImmutableHashSet.Create<string>(StringComparer.Ordinal), [], 0, ImmutableDictionary<int, LiveDocument>.Empty, 0,
            ImmutableDictionary.Create<string, Posting<float>[]>(StringComparer.Ordinal), ImmutableDictionary<int, Posting<double>[]>.Empty);
    }

    /// <summary>What buffered documents are scored against.</summary>
    public DeltaScoring Scoring { get; }

    /// <summary>The last batch folded into the served version.</summary>
    public long BaseSequence { get; }

    /// <summary>The last batch applied (<see cref="BaseSequence"/> when none).</summary>
    public long Sequence { get; }

    /// <summary>Applied batches not yet in the served version, in order.</summary>
    public IReadOnlyList<UpdateBatch> Batches => _batches;

    /// <summary>Upserted documents present in the buffer.</summary>
    public int LiveCount => _live.Count;

    /// <summary>Ids whose copy in the served version is hidden (every id upserted or deleted since it).</summary>
    public int HiddenCount => _hidden.Count;

    /// <summary>Operations in <see cref="Batches"/>.</summary>
    public long PendingOperations => _operations;

    /// <summary>True when no batch is pending.</summary>
    public bool IsEmpty => _batches.IsEmpty;

    /// <summary>True when the served version's copy of <paramref name="id"/> must not be returned.</summary>
    public bool Hides(string id) => _hidden.Contains(id);

    /// <summary>The buffered document <paramref name="id"/>, when it is live here.</summary>
    public bool TryGet(string id, out DocumentUpdate document)
    {
        if (_live.TryGetValue(id, out var live))
        {
            document = live.Source;
            return true;
        }
        document = null!;
        return false;
    }

    /// <summary>The buffered documents, by id (ordinal).</summary>
    public IEnumerable<DocumentUpdate> LiveDocuments => _live.Values.Select(l => l.Source);

    /// <summary>
    /// The buffer with <paramref name="batch"/> applied (its operations in order). A batch at or
    /// below <see cref="Sequence"/> was applied already and is ignored; one beyond the next number
    /// is an <see cref="ArgumentException"/> (a gap would apply updates out of order).
    /// </summary>
    public ShardDelta Apply(UpdateBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.Sequence <= Sequence) return this;
        if (batch.Sequence != Sequence + 1)
            throw new ArgumentException($"Update batch {batch.Sequence} cannot follow batch {Sequence}: batches {Sequence + 1}..{batch.Sequence - 1} are missing.", nameof(batch));
        var live = _live.ToBuilder();
        var hidden = _hidden.ToBuilder();
        var byOrdinal = _byOrdinal.ToBuilder();
        int next = _nextOrdinal;
        var text = new PostingEdits<string, float>(_textPostings, StringComparer.Ordinal);
        var sparse = new PostingEdits<int, double>(_sparsePostings, null);
        foreach (var update in batch.Updates)
        {
            hidden.Add(update.Id);
            if (live.TryGetValue(update.Id, out var old))
            {
                live.Remove(update.Id);
                byOrdinal.Remove(old.Ordinal);
                if (old.TextTerms is { } ot) foreach (var t in ot) text.Remove(t, old.Ordinal);
                if (old.SparseTerms is { } os) foreach (var t in os) sparse.Remove(t, old.Ordinal);
            }
            if (update.Delete) continue;
            var doc = LiveDocument.Create(update, Scoring, next++);
            live[update.Id] = doc;
            byOrdinal[doc.Ordinal] = doc;
            if (doc.TextTerms is { } tt) for (int i = 0; i < tt.Length; i++) text.Add(tt[i], new Posting<float>(doc.Ordinal, doc.TextImpacts![i]));
            if (doc.SparseTerms is { } st) for (int i = 0; i < st.Length; i++) sparse.Add(st[i], new Posting<double>(doc.Ordinal, doc.SparseLevels![i]));
        }
        return new ShardDelta(Scoring, BaseSequence, batch.Sequence, live.ToImmutable(), hidden.ToImmutable(), _batches.Add(batch),
            _operations + batch.Updates.Count, byOrdinal.ToImmutable(), next, text.ToImmutable(), sparse.ToImmutable());
    }

    /// <summary>
    /// The buffer over a new served version that holds the batches up to
    /// <paramref name="throughSequence"/>: only later batches stay, applied again with the new
    /// version's <paramref name="scoring"/>.
    /// </summary>
    public ShardDelta Rebase(DeltaScoring scoring, long throughSequence)
    {
        if (throughSequence > Sequence)
            throw new ArgumentException($"The new version holds batches up to {throughSequence}, beyond this buffer's {Sequence}: replay the log instead.", nameof(throughSequence));
        var next = Empty(scoring, throughSequence);
        foreach (var batch in _batches)
            if (batch.Sequence > throughSequence) next = next.Apply(batch);
        return next;
    }

    /// <summary>Top-k of the buffered documents by BM25 for analysed query terms and their weights.</summary>
    public ScoredId[] SearchText(IReadOnlyList<string> terms, IReadOnlyList<float> weights, int k)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        if (terms.Count != weights.Count) throw new ArgumentException("Query terms and weights differ in length.");
        // Per document, terms add up in query order, as the segment's score sums them.
        var acc = new Accumulator(_nextOrdinal);
        try
        {
            for (int q = 0; q < terms.Count; q++)
            {
                if (!_textPostings.TryGetValue(terms[q], out var postings)) continue;
                double w = weights[q];
                foreach (var p in postings) acc.Add(p.Ordinal, w * p.Value);
            }
            return acc.Top(k, 1.0, _byOrdinal);
        }
        finally
        {
            acc.Dispose();
        }
    }

    /// <summary>Top-k of the buffered documents by sparse dot product (scored as the segment scores its quantised weights).</summary>
    public ScoredId[] SearchSparse(SparseVector query, int k)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        // Query terms ascend, so each document's terms add up in ascending term order, as the segment's forward index sums them.
        var acc = new Accumulator(_nextOrdinal);
        try
        {
            for (int i = 0; i < query.Count; i++)
            {
                double q = query.Weights[i];
                if (q == 0 || !_sparsePostings.TryGetValue(query.Terms[i], out var postings)) continue;
                foreach (var p in postings) acc.Add(p.Ordinal, q * p.Value);
            }
            return acc.Top(k, Scoring.SparseScale, _byOrdinal);
        }
        finally
        {
            acc.Dispose();
        }
    }

    /// <summary>Score sums by document ordinal in pooled arrays; only the ordinals touched are visited and cleared.</summary>
    private readonly struct Accumulator : IDisposable
    {
        private readonly double[] _sums;
        private readonly bool[] _seen;
        private readonly List<int> _touched = [];

        public Accumulator(int size)
        {
            _sums = ArrayPool<double>.Shared.Rent(Math.Max(1, size));
            _seen = ArrayPool<bool>.Shared.Rent(Math.Max(1, size));
            Array.Clear(_seen, 0, Math.Max(1, size)); // a pooled array may come back from anyone dirty
        }

        public void Add(int ordinal, double value)
        {
            if (_seen[ordinal])
            {
                _sums[ordinal] += value;
            }
            else
            {
                _seen[ordinal] = true;
                _sums[ordinal] = value;
                _touched.Add(ordinal);
            }
        }

        /// <summary>The best k (sum times <paramref name="scale"/>, as float); equal scores keep the smaller id.</summary>
        public ScoredId[] Top(int k, double scale, ImmutableDictionary<int, LiveDocument> documents)
        {
            if (_touched.Count == 0) return [];
            // Insertion into a sorted array of at most k: candidates that cannot enter cost one comparison.
            int n = 0;
            var best = new (float Score, string Id)[Math.Min(k, _touched.Count)];
            foreach (int o in _touched)
            {
                float score = (float)(scale == 1.0 ? _sums[o] : _sums[o] * scale);
                if (n == best.Length && score < best[n - 1].Score) continue;
                string id = documents[o].Source.Id;
                if (n == best.Length && !Before(score, id, best[n - 1])) continue;
                int at = n == best.Length ? n - 1 : n++;
                while (at > 0 && Before(score, id, best[at - 1]))
                {
                    best[at] = best[at - 1];
                    at--;
                }
                best[at] = (score, id);
            }
            var top = new ScoredId[n];
            for (int i = 0; i < n; i++) top[i] = new ScoredId(best[i].Id, best[i].Score);
            return top;
        }

        private static bool Before(float score, string id, (float Score, string Id) other) =>
            score > other.Score || (score == other.Score && string.CompareOrdinal(id, other.Id) < 0);

        public void Dispose()
        {
            foreach (int o in _touched) _seen[o] = false;
            ArrayPool<double>.Shared.Return(_sums);
            ArrayPool<bool>.Shared.Return(_seen);
        }
    }

    /// <summary>Top-k of the buffered documents by exact dense score with the index's metric.</summary>
    public ScoredId[] SearchDense(ReadOnlySpan<float> query, int k)
    {
        if (Scoring.DenseDims is not { } dims) return [];
        if (query.Length != dims) throw new ArgumentException($"The dense query has {query.Length} dimensions; the index has {dims}.");
        var q = query.ToArray();
        if (Scoring.DenseMetric == DenseMetric.Cosine) DenseKernels.Normalize(q);
        return Top(k, doc => doc.Dense is { } v ? Dot(v, q) : null);
    }

    private static unsafe float Dot(float[] row, float[] q)
    {
        fixed (float* r = row)
        fixed (float* qq = q)
            return DenseKernels.Dot1<Float32Codec>((byte*)r, qq, q.Length);
    }

    /// <summary>Scores every live document (in id order, so equal scores keep the smaller id) and keeps the best k.</summary>
    private ScoredId[] Top(int k, Func<LiveDocument, float?> score)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        if (_live.IsEmpty) return [];
        var heap = new TopKHeap(Math.Min(k, _live.Count));
        var docs = new List<LiveDocument>(_live.Count);
        foreach (var doc in _live.Values)
        {
            if (score(doc) is float s) heap.TryAdd(docs.Count, s);
            docs.Add(doc);
        }
        return heap.ToSortedArray().Select(h => new ScoredId(docs[h.DocId].Source.Id, h.Score)).ToArray();
    }

    /// <summary>One entry of an inverted list: a document ordinal and its impact (bm25) or level (sparse).</summary>
    private readonly record struct Posting<TValue>(int Ordinal, TValue Value);

    /// <summary>Edits of one batch to inverted lists: each touched list is rebuilt once, without removed ordinals and with the added entries.</summary>
    private sealed class PostingEdits<TTerm, TValue>(ImmutableDictionary<TTerm, Posting<TValue>[]> lists, IEqualityComparer<TTerm>? comparer)
        where TTerm : notnull
    {
        private readonly Dictionary<TTerm, (List<Posting<TValue>> Added, HashSet<int> Removed)> _edits = new(comparer);

        private (List<Posting<TValue>> Added, HashSet<int> Removed) Edit(TTerm term)
        {
            if (!_edits.TryGetValue(term, out var edit)) _edits[term] = edit = ([], []);
            return edit;
        }

        public void Add(TTerm term, Posting<TValue> posting) => Edit(term).Added.Add(posting);

        public void Remove(TTerm term, int ordinal) => Edit(term).Removed.Add(ordinal);

        public ImmutableDictionary<TTerm, Posting<TValue>[]> ToImmutable()
        {
            if (_edits.Count == 0) return lists;
            var builder = lists.ToBuilder();
            foreach (var (term, (added, removed)) in _edits)
            {
                var old = builder.TryGetValue(term, out var existing) ? existing : [];
                var merged = new List<Posting<TValue>>(old.Length + added.Count);
                foreach (var p in old) if (!removed.Contains(p.Ordinal)) merged.Add(p);
                foreach (var p in added) if (!removed.Contains(p.Ordinal)) merged.Add(p);
                if (merged.Count == 0) builder.Remove(term);
                else builder[term] = [.. merged];
            }
            return builder.ToImmutable();
        }
    }

    /// <summary>A buffered document with what its channels need to score it, computed once when it is applied.</summary>
    private sealed class LiveDocument
    {
        public required DocumentUpdate Source { get; init; }
        public required int Ordinal { get; init; }
        public string[]? TextTerms { get; init; }
        public float[]? TextImpacts { get; init; }
        public int[]? SparseTerms { get; init; }
        public double[]? SparseLevels { get; init; }
        public float[]? Dense { get; init; }

        public static LiveDocument Create(DocumentUpdate update, DeltaScoring scoring, int ordinal)
        {
            string[]? textTerms = null;
            float[]? impacts = null;
            if (scoring.Bm25 is { } bm25 && scoring.Analyzer is { } analyzer && update.Text is not null)
            {
                // Title and text form one field, as the segment builder analyses them.
                var tokens = new List<string>();
                if (!string.IsNullOrEmpty(update.Title)) analyzer.Analyze(update.Title, tokens);
                analyzer.Analyze(update.Text, tokens);
                var counts = new SortedDictionary<string, int>(StringComparer.Ordinal);
                foreach (var t in tokens) counts[t] = counts.TryGetValue(t, out int c) ? c + 1 : 1;
                textTerms = [.. counts.Keys];
                impacts = new float[textTerms.Length];
                double avgdl = scoring.Statistics.AvgDocLength;
                int i = 0;
                foreach (var (term, tf) in counts)
                {
                    double idf = Text.Bm25Parameters.Idf(scoring.DocFrequency(term), Math.Max(1, scoring.Statistics.DocCount));
                    impacts[i++] = (float)bm25.Impact(idf, tf, tokens.Count, avgdl);
                }
            }

            int[]? sparseTerms = null;
            double[]? levels = null;
            if (scoring.SparseMaxWeight is not null && update.SparseTerms is { } terms && update.SparseWeights is { } weights)
            {
                // In ascending term order, the order the segment's forward index sums in; zero weights are no entry.
                var pairs = terms.Zip(weights).Where(p => p.Second > 0).OrderBy(p => p.First).ToArray();
                sparseTerms = pairs.Select(p => p.First).ToArray();
                levels = pairs.Select(p => scoring.SparseLevel(p.Second)).ToArray();
            }

            float[]? dense = null;
            if (scoring.DenseDims is not null && update.Dense is { } v)
            {
                dense = (float[])v.Clone();
                if (scoring.DenseMetric == DenseMetric.Cosine) DenseKernels.Normalize(dense);
            }
            return new LiveDocument { Source = update, Ordinal = ordinal, TextTerms = textTerms, TextImpacts = impacts, SparseTerms = sparseTerms, SparseLevels = levels, Dense = dense };
        }
    }
}
