using Shoal.Evaluation;
using Xunit;

namespace Shoal.Engine.Tests.Evaluation;

public sealed class EvaluatorTests
{
    // q1: graded; q2: one relevant doc the run misses; q3: judged but nothing relevant; q4: not in the run.
    private static readonly Qrels Judged = Qrels.Create(
    [
        ("q1", "d1", 2), ("q1", "d2", 1), ("q1", "d3", 0),
        ("q2", "d4", 1),
        ("q3", "d5", 0),
        ("q4", "d6", 1),
    ]);

    private static RunFile SampleRun()
    {
        var run = new RunFile();
        run.Add("q1", "d1", 3.0);
        run.Add("q1", "d3", 2.0);
        run.Add("q1", "d2", 1.0);
        run.Add("q2", "d9", 1.0);
        run.Add("q3", "d5", 1.0);
        run.Add("q5", "d7", 1.0); // not in qrels
        return run;
    }

    [Fact]
    public void DefaultEvaluatesIntersectionOfRunAndQrelsWithRelevantDocs()
    {
        EvaluationReport report = Evaluator.Evaluate(Judged, SampleRun());

        // q1: grades by rank 2, 0, 1 -> DCG = 2 + 0 + 1/log2(4) = 2.5; IDCG = 2 + 1/log2(3) = 2.6309297536;
        //     nDCG = 0.9502344168; RR = 1; recall = 1.  q2: everything 0.  q3 (no relevant), q4 (no
        //     results), q5 (no judgments) are not evaluated.
        Assert.Equal(2, report.Queries);
        Assert.Equal(0, report.QueriesWithoutResults);
        Assert.Equal(["q1", "q2"], report.PerQuery.Keys);
        Assert.Equal(0.9502344167898356, report.PerQuery["q1"].NdcgAt10, 12);
        Assert.Equal(new QueryScores(0, 0, 0, 0, 1, 1), report.PerQuery["q2"]);
        Assert.Equal(0.9502344167898356 / 2, report.NdcgAt10, 12);
        Assert.Equal(0.5, report.MrrAt10);
        Assert.Equal(0.5, report.RecallAt100);
        Assert.Equal(0.5, report.RecallAt1000);
        Assert.Equal(3, report.PerQuery["q1"].Retrieved);
        Assert.Equal(2, report.PerQuery["q1"].Relevant);
    }

    [Fact]
    public void AskedQueriesWithoutResultsCountAsZero()
    {
        EvaluationReport report = Evaluator.Evaluate(Judged, SampleRun(), ["q1", "q2", "q3", "q4", "q4", "q5"]);

        // q3 has no relevant judgments and q5 none at all: ignored. q4 has no results: scores 0.
        Assert.Equal(3, report.Queries);
        Assert.Equal(1, report.QueriesWithoutResults);
        Assert.Equal(["q1", "q2", "q4"], report.PerQuery.Keys);
        Assert.Equal(new QueryScores(0, 0, 0, 0, 0, 1), report.PerQuery["q4"]);
        Assert.Equal(1.0 / 3.0, report.MrrAt10, 15);
        Assert.Equal(0.9502344167898356 / 3, report.NdcgAt10, 12);
    }

    [Fact]
    public void EvaluatorAppliesTrecEvalTieOrdering()
    {
        // Equal scores: trec_eval ranks "b" above "a", so the relevant "a" is at rank 2.
        Qrels qrels = Qrels.Create([("q", "a", 1)]);
        var run = new RunFile();
        run.Add("q", "a", 1.0);
        run.Add("q", "b", 1.0);

        EvaluationReport report = Evaluator.Evaluate(qrels, run);

        Assert.Equal(0.5, report.MrrAt10);
        Assert.Equal(0.6309297535714575, report.NdcgAt10, 12); // 1/log2(3)
    }

    [Fact]
    public void RecallCutoffsApply()
    {
        Qrels qrels = Qrels.Create([("q", "r1", 1), ("q", "r2", 1)]);
        var run = new RunFile();
        for (int i = 0; i < 1200; i++)
        {
            run.Add("q", $"x{i:D4}", 2000 - i);
        }

        run.Add("q", "r1", 1950.5); // rank 51
        run.Add("q", "r2", 1100.5); // rank 902

        EvaluationReport report = Evaluator.Evaluate(qrels, run);

        Assert.Equal(0.5, report.RecallAt100);
        Assert.Equal(1.0, report.RecallAt1000);
        Assert.Equal(0.0, report.MrrAt10);
        Assert.Equal(0.0, report.NdcgAt10);
    }

    [Fact]
    public void NoEvaluatedQueriesGivesZeroMeans()
    {
        EvaluationReport report = Evaluator.Evaluate(Judged, new RunFile());
        Assert.Equal(0, report.Queries);
        Assert.Equal(0.0, report.NdcgAt10);
        Assert.Empty(report.PerQuery);
        Assert.StartsWith("queries=0 nDCG@10=0.0000", report.ToString(), StringComparison.Ordinal);
    }
}
