namespace Shoal.Evaluation;

/// <summary>
/// Evaluates a run against qrels with trec_eval's definitions: nDCG@10 (<c>ndcg_cut_10</c>), MRR@10
/// (reciprocal rank cut at 10), Recall@100 and Recall@1000 (<c>recall_100</c>, <c>recall_1000</c>).
/// Each query's results are ranked as trec_eval ranks them (<see cref="RunFile.Ranked"/>: score
/// descending, ties by document id descending).
/// </summary>
public static class Evaluator
{
    /// <summary>Cutoff of <see cref="EvaluationReport.NdcgAt10"/> and <see cref="EvaluationReport.MrrAt10"/>.</summary>
    public const int TopCutoff = 10;

    /// <summary>Cutoff of <see cref="EvaluationReport.RecallAt100"/>.</summary>
    public const int RecallCutoff100 = 100;

    /// <summary>Cutoff of <see cref="EvaluationReport.RecallAt1000"/>.</summary>
    public const int RecallCutoff1000 = 1000;

    /// <summary>
    /// Evaluates <paramref name="run"/> against <paramref name="qrels"/>. Only queries with at least one
    /// relevant judgment (grade &gt;= 1) are evaluated, and of those:
    /// <list type="bullet">
    /// <item><description>when <paramref name="queryIds"/> is given, the ones it lists (duplicates
    /// ignored, order kept); a listed query the run has no results for scores 0 on every measure, as
    /// with <c>trec_eval -c</c>; listed ids without relevant judgments are ignored;</description></item>
    /// <item><description>when it is <see langword="null"/>, the ones the run has results for (the
    /// intersection of run and qrels, trec_eval's default), in qrels order.</description></item>
    /// </list>
    /// Means are arithmetic means over the evaluated queries, 0 when there are none.
    /// </summary>
    public static EvaluationReport Evaluate(Qrels qrels, RunFile run, IEnumerable<string>? queryIds = null)
    {
        ArgumentNullException.ThrowIfNull(qrels);
        ArgumentNullException.ThrowIfNull(run);

        var selected = new List<string>();
        if (queryIds is null)
        {
            foreach (string queryId in qrels.Judgments.Keys)
            {
                if (qrels.Relevant(queryId).Count > 0 && run.Contains(queryId))
                {
                    selected.Add(queryId);
                }
            }
        }
        else
        {
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (string queryId in queryIds)
            {
                ArgumentNullException.ThrowIfNull(queryId, nameof(queryIds));
                if (seen.Add(queryId) && qrels.Relevant(queryId).Count > 0)
                {
                    selected.Add(queryId);
                }
            }
        }

        var perQuery = new Dictionary<string, QueryScores>(selected.Count, StringComparer.Ordinal);
        double ndcg = 0, mrr = 0, recall100 = 0, recall1000 = 0;
        int withoutResults = 0;
        foreach (string queryId in selected)
        {
            IReadOnlyList<string> ranked = run.RankedDocIds(queryId);
            IReadOnlyDictionary<string, int> judgments = qrels.JudgmentsFor(queryId);
            var scores = new QueryScores(
                Metrics.Ndcg(ranked, judgments, TopCutoff),
                Metrics.ReciprocalRank(ranked, judgments, TopCutoff),
                Metrics.Recall(ranked, judgments, RecallCutoff100),
                Metrics.Recall(ranked, judgments, RecallCutoff1000),
                ranked.Count,
                qrels.Relevant(queryId).Count);
            perQuery.Add(queryId, scores);
            ndcg += scores.NdcgAt10;
            mrr += scores.MrrAt10;
            recall100 += scores.RecallAt100;
            recall1000 += scores.RecallAt1000;
            if (ranked.Count == 0)
            {
                withoutResults++;
            }
        }

        int n = selected.Count;
        return new EvaluationReport
        {
            Queries = n,
            QueriesWithoutResults = withoutResults,
            NdcgAt10 = n == 0 ? 0 : ndcg / n,
            MrrAt10 = n == 0 ? 0 : mrr / n,
            RecallAt100 = n == 0 ? 0 : recall100 / n,
            RecallAt1000 = n == 0 ? 0 : recall1000 / n,
            PerQuery = perQuery,
        };
    }
}
