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
    // Inverted lists of the live documents (term -> document -> impact or level), so a query only
    // touches documents that share a term with it.
    private readonly ImmutableDictionary<string, ImmutableDictionary<string, float>> _textPostings;
    private readonly ImmutableDictionary<int, ImmutableDictionary<string, double>> _sparsePostings;

    private ShardDelta(DeltaScoring scoring, long baseSequence, long sequence, ImmutableSortedDictionary<string, LiveDocument> live,
        ImmutableHashSet<string> hidden, ImmutableList<UpdateBatch> batches, long operations,
        ImmutableDictionary<string, ImmutableDictionary<string, float>> textPostings, ImmutableDictionary<int, ImmutableDictionary<string, double>> sparsePostings)
    {
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
            ImmutableHashSet.Create<string>(StringComparer.Ordinal), [], 0,
            ImmutableDictionary.Create<string, ImmutableDictionary<string, float>>(StringComparer.Ordinal),
            ImmutableDictionary<int, ImmutableDictionary<string, double>>.Empty);
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
        var text = new Postings<string, float>(_textPostings, StringComparer.Ordinal);
        var sparse = new Postings<int, double>(_sparsePostings, null);
        foreach (var update in batch.Updates)
        {
            hidden.Add(update.Id);
            if (live.TryGetValue(update.Id, out var old))
            {
                live.Remove(update.Id);
                if (old.TextTerms is { } ot) foreach (var t in ot) text.Remove(t, update.Id);
                if (old.SparseTerms is { } os) foreach (var t in os) sparse.Remove(t, update.Id);
            }
            if (update.Delete) continue;
            var doc = LiveDocument.Create(update, Scoring);
            live[update.Id] = doc;
            if (doc.TextTerms is { } tt) for (int i = 0; i < tt.Length; i++) text.Add(tt[i], update.Id, doc.TextImpacts![i]);
            if (doc.SparseTerms is { } st) for (int i = 0; i < st.Length; i++) sparse.Add(st[i], update.Id, doc.SparseLevels![i]);
        }
        return new ShardDelta(Scoring, BaseSequence, batch.Sequence, live.ToImmutable(), hidden.ToImmutable(), _batches.Add(batch),
            _operations + batch.Updates.Count, text.ToImmutable(), sparse.ToImmutable());
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
        var scores = new Dictionary<string, double>(StringComparer.Ordinal);
        for (int q = 0; q < terms.Count; q++)
        {
            if (!_textPostings.TryGetValue(terms[q], out var postings)) continue;
            double w = weights[q];
            foreach (var (id, impact) in postings)
                scores[id] = scores.TryGetValue(id, out double s) ? s + w * impact : w * impact;
        }
        return TopOf(scores, k, 1.0);
    }

    /// <summary>Top-k of the buffered documents by sparse dot product (scored as the segment scores its quantised weights).</summary>
    public ScoredId[] SearchSparse(SparseVector query, int k)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        // Query terms ascend, so each document's terms add up in ascending term order, as the segment's forward index sums them.
        var scores = new Dictionary<string, double>(StringComparer.Ordinal);
        for (int i = 0; i < query.Count; i++)
        {
            float q = query.Weights[i];
            if (q == 0 || !_sparsePostings.TryGetValue(query.Terms[i], out var postings)) continue;
            foreach (var (id, level) in postings)
                scores[id] = scores.TryGetValue(id, out double s) ? s + (double)q * level : (double)q * level;
        }
        return TopOf(scores, k, Scoring.SparseScale);
    }

    /// <summary>The best k of accumulated scores (times <paramref name="scale"/>, then as float); equal scores keep the smaller id.</summary>
    private static ScoredId[] TopOf(Dictionary<string, double> scores, int k, double scale)
    {
        if (scores.Count == 0) return [];
        var all = new ScoredId[scores.Count];
        int n = 0;
        foreach (var (id, s) in scores) all[n++] = new ScoredId(id, (float)(scale == 1.0 ? s : s * scale));
        Array.Sort(all, static (a, b) => a.Score != b.Score ? b.Score.CompareTo(a.Score) : string.CompareOrdinal(a.Id, b.Id));
        return all.Length <= k ? all : all[..k];
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

    /// <summary>Edits inverted lists copy-on-write: only the lists of touched terms are rebuilt.</summary>
    private sealed class Postings<TTerm, TValue>(ImmutableDictionary<TTerm, ImmutableDictionary<string, TValue>> lists, IEqualityComparer<TTerm>? comparer)
        where TTerm : notnull
    {
        private readonly ImmutableDictionary<TTerm, ImmutableDictionary<string, TValue>>.Builder _lists = lists.ToBuilder();
        private readonly Dictionary<TTerm, ImmutableDictionary<string, TValue>.Builder> _touched = new(comparer);

        private ImmutableDictionary<string, TValue>.Builder List(TTerm term)
        {
            if (!_touched.TryGetValue(term, out var list))
            {
                list = (_lists.TryGetValue(term, out var existing) ? existing : ImmutableDictionary.Create<string, TValue>(StringComparer.Ordinal)).ToBuilder();
                _touched[term] = list;
            }
            return list;
        }

        public void Add(TTerm term, string id, TValue value) => List(term)[id] = value;

        public void Remove(TTerm term, string id) => List(term).Remove(id);

        public ImmutableDictionary<TTerm, ImmutableDictionary<string, TValue>> ToImmutable()
        {
            foreach (var (term, list) in _touched)
            {
                if (list.Count == 0) _lists.Remove(term);
                else _lists[term] = list.ToImmutable();
            }
            return _lists.ToImmutable();
        }
    }

    /// <summary>A buffered document with what its channels need to score it, computed once when it is applied.</summary>
    private sealed class LiveDocument
    {
        public required DocumentUpdate Source { get; init; }
        public string[]? TextTerms { get; init; }
        public float[]? TextImpacts { get; init; }
        public int[]? SparseTerms { get; init; }
        public double[]? SparseLevels { get; init; }
        public float[]? Dense { get; init; }

        public static LiveDocument Create(DocumentUpdate update, DeltaScoring scoring)
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
            return new LiveDocument { Source = update, TextTerms = textTerms, TextImpacts = impacts, SparseTerms = sparseTerms, SparseLevels = levels, Dense = dense };
        }
    }
}
