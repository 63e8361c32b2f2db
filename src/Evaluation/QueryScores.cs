namespace Shoal.Evaluation;

/// <summary>The measures of one evaluated query (see <see cref="Evaluator"/>).</summary>
/// <param name="NdcgAt10">nDCG@10 (trec_eval <c>ndcg_cut_10</c>).</param>
/// <param name="MrrAt10">Reciprocal rank of the first relevant document within the top 10, else 0.</param>
/// <param name="RecallAt100">Recall@100 (trec_eval <c>recall_100</c>).</param>
/// <param name="RecallAt1000">Recall@1000 (trec_eval <c>recall_1000</c>).</param>
/// <param name="Retrieved">Number of documents the run retrieved for the query (0 when it has none).</param>
/// <param name="Relevant">Number of documents judged relevant (grade &gt;= 1) for the query.</param>
public sealed record QueryScores(double NdcgAt10, double MrrAt10, double RecallAt100, double RecallAt1000, int Retrieved, int Relevant);
