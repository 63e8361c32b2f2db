namespace Shoal.Evaluation;

/// <summary>
/// Per-query effectiveness measures with trec_eval's definitions. Each function takes one query's
/// retrieved document ids <em>already in rank order</em> (rank 1 first; see
/// <see cref="RunFile.RankedDocIds"/> for trec_eval's ordering) and that query's judgments
/// (document id -> grade; unjudged documents are simply absent). Ids in <c>ranked</c> are assumed
/// distinct. A document is relevant when its grade is at least <see cref="Qrels.RelevanceThreshold"/> (1).
/// </summary>
public static class Metrics
{
    /// <summary>
    /// nDCG at <paramref name="cutoff"/> as trec_eval's <c>ndcg_cut</c>:
    /// DCG = sum over ranks i = 1..min(cutoff, n) of gain_i / log2(i + 1), where the gain is the
    /// judged grade itself when it is positive (not 2^grade - 1) and 0 for unjudged, non-relevant
    /// or negatively graded documents. The ideal DCG uses the positive grades of all judged
    /// documents sorted descending, truncated to <paramref name="cutoff"/>. Returns 0 when the query
    /// has no positively graded document.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="cutoff"/> is less than 1.</exception>
    public static double Ndcg(IReadOnlyList<string> ranked, IReadOnlyDictionary<string, int> judgments, int cutoff)
    {
        ArgumentNullException.ThrowIfNull(ranked);
        ArgumentNullException.ThrowIfNull(judgments);
        ArgumentOutOfRangeException.ThrowIfLessThan(cutoff, 1);

        var gains = new List<int>();
        foreach (KeyValuePair<string, int> judgment in judgments)
        {
            if (judgment.Value > 0)
            {
                gains.Add(judgment.Value);
            }
        }

        if (gains.Count == 0)
        {
            return 0.0;
        }

        gains.Sort(static (a, b) => b.CompareTo(a));
        double ideal = 0.0;
        int idealDepth = Math.Min(cutoff, gains.Count);
        for (int i = 0; i < idealDepth; i++)
        {
            ideal += gains[i] / Discount(i);
        }

        double dcg = 0.0;
        int depth = Math.Min(cutoff, ranked.Count);
        for (int i = 0; i < depth; i++)
        {
            if (judgments.TryGetValue(ranked[i], out int grade) && grade > 0)
            {
                dcg += grade / Discount(i);
            }
        }

        return dcg / ideal;
    }

    /// <summary>
    /// Reciprocal rank cut at <paramref name="cutoff"/>: 1 / r for the rank r (1-based) of the first
    /// relevant document (grade &gt;= 1) when r &lt;= cutoff, otherwise 0. MRR@10 is its mean with
    /// cutoff 10.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="cutoff"/> is less than 1.</exception>
    public static double ReciprocalRank(IReadOnlyList<string> ranked, IReadOnlyDictionary<string, int> judgments, int cutoff)
    {
        ArgumentNullException.ThrowIfNull(ranked);
        ArgumentNullException.ThrowIfNull(judgments);
        ArgumentOutOfRangeException.ThrowIfLessThan(cutoff, 1);

        int depth = Math.Min(cutoff, ranked.Count);
        for (int i = 0; i < depth; i++)
        {
            if (judgments.TryGetValue(ranked[i], out int grade) && grade >= Qrels.RelevanceThreshold)
            {
                return 1.0 / (i + 1);
            }
        }

        return 0.0;
    }

    /// <summary>
    /// Recall at <paramref name="cutoff"/> as trec_eval's <c>recall_k</c>: the number of relevant
    /// documents (grade &gt;= 1) among the top <paramref name="cutoff"/> divided by the number of
    /// relevant documents judged for the query; 0 when there are none.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="cutoff"/> is less than 1.</exception>
    public static double Recall(IReadOnlyList<string> ranked, IReadOnlyDictionary<string, int> judgments, int cutoff)
    {
        ArgumentNullException.ThrowIfNull(ranked);
        ArgumentNullException.ThrowIfNull(judgments);
        ArgumentOutOfRangeException.ThrowIfLessThan(cutoff, 1);

        int relevant = 0;
        foreach (KeyValuePair<string, int> judgment in judgments)
        {
            if (judgment.Value >= Qrels.RelevanceThreshold)
            {
                relevant++;
            }
        }

        if (relevant == 0)
        {
            return 0.0;
        }

        int found = 0;
        int depth = Math.Min(cutoff, ranked.Count);
        for (int i = 0; i < depth; i++)
        {
            if (judgments.TryGetValue(ranked[i], out int grade) && grade >= Qrels.RelevanceThreshold)
            {
                found++;
            }
        }

        return (double)found / relevant;
    }

    /// <summary>log2(rank + 1) for the 0-based position <paramref name="index"/> (rank = index + 1).</summary>
    private static double Discount(int index) => Math.Log2(index + 2);
}
