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

    private ShardDelta(DeltaScoring scoring, long baseSequence, long sequence, ImmutableSortedDictionary<string, LiveDocument> live,
        ImmutableHashSet<string> hidden, ImmutableList<UpdateBatch> batches, long operations)
    {
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
            ImmutableHashSet.Create<string>(StringComparer.Ordinal), [], 0);
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
        foreach (var update in batch.Updates)
        {
            hidden.Add(update.Id);
            if (update.Delete) live.Remove(update.Id);
            else live[update.Id] = LiveDocument.Create(update, Scoring);
        }
        return new ShardDelta(Scoring, BaseSequence, batch.Sequence, live.ToImmutable(), hidden.ToImmutable(), _batches.Add(batch), _operations + batch.Updates.Count);
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
        if (terms.Count != weights.Count) throw new ArgumentException("Query terms and weights differ in length.");
        return Top(k, doc =>
        {
            if (doc.TextTerms is not { } docTerms) return null;
            double score = 0;
            bool any = false;
            for (int q = 0; q < terms.Count; q++)
            {
                int i = Array.BinarySearch(docTerms, terms[q], StringComparer.Ordinal);
                if (i < 0) continue;
                score += (double)weights[q] * doc.TextImpacts![i];
                any = true;
            }
            return any ? (float)score : null;
        });
    }

    /// <summary>Top-k of the buffered documents by sparse dot product (scored as the segment scores its quantised weights).</summary>
    public ScoredId[] SearchSparse(SparseVector query, int k)
    {
        var dense = new Dictionary<int, float>(query.Count);
        for (int i = 0; i < query.Count; i++) dense[query.Terms[i]] = query.Weights[i];
        double scale = Scoring.SparseScale;
        return Top(k, doc =>
        {
            if (doc.SparseTerms is not { } docTerms) return null;
            double sum = 0;
            bool any = false;
            for (int p = 0; p < docTerms.Length; p++)
            {
                if (dense.TryGetValue(docTerms[p], out float q) && q != 0)
                {
                    sum += (double)q * doc.SparseLevels![p];
                    any = true;
                }
            }
            return any ? (float)(sum * scale) : null;
        });
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
