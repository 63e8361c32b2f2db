using Shoal.Evaluation;
using Xunit;

namespace Shoal.Engine.Tests.Evaluation;

public sealed class MetricsTests
{
    private static readonly string[] Abcd = ["a", "b", "c", "d"];

    [Fact]
    public void NdcgUsesRawGradesAsGainWithGradedRelevance()
    {
        // Ranked grades 3, 2, 0, 1:
        //   DCG  = 3/log2(2) + 2/log2(3) + 0/log2(4) + 1/log2(5)
        //        = 3 + 1.2618595071 + 0 + 0.4306765581 = 4.6925360652
        //   IDCG = grades sorted 3, 2, 1 = 3/log2(2) + 2/log2(3) + 1/log2(4)
        //        = 3 + 1.2618595071 + 0.5 = 4.7618595071
        //   nDCG = 4.6925360652 / 4.7618595071 = 0.9854419388
        // (With 2^rel - 1 gains it would be (7 + 3/log2(3) + 1/log2(5)) / (7 + 3/log2(3) + 1/2) = 0.9926.)
        var judgments = new Dictionary<string, int> { ["a"] = 3, ["b"] = 2, ["c"] = 0, ["d"] = 1 };
        Assert.Equal(0.9854419388428785, Metrics.Ndcg(Abcd, judgments, 10), 12);
    }

    [Fact]
    public void NdcgIdealIncludesUnretrievedRelevantDocuments()
    {
        // As above plus an unretrieved e (grade 2): IDCG = 3 + 2/log2(3) + 2/log2(4) + 1/log2(5)
        //   = 3 + 1.2618595071 + 1 + 0.4306765581 = 5.6925360652; nDCG = 4.6925360652 / 5.6925360652 = 0.8243313721
        var judgments = new Dictionary<string, int> { ["a"] = 3, ["b"] = 2, ["c"] = 0, ["d"] = 1, ["e"] = 2 };
        Assert.Equal(0.8243313720732657, Metrics.Ndcg(Abcd, judgments, 10), 12);
    }

    [Fact]
    public void NdcgTruncatesBothDcgAndIdealAtTheCutoff()
    {
        var judgments = new Dictionary<string, int> { ["a"] = 3, ["b"] = 2, ["c"] = 0, ["d"] = 1, ["e"] = 2 };

        // @2: DCG = 3 + 2/log2(3); ideal (3, 2) is the same -> 1.
        Assert.Equal(1.0, Metrics.Ndcg(Abcd, judgments, 2), 12);

        // @1 with b first: DCG = 2; IDCG = 3 -> 2/3.
        Assert.Equal(2.0 / 3.0, Metrics.Ndcg(["b", "a"], judgments, 1), 12);
    }

    [Fact]
    public void NdcgIgnoresUnjudgedAndNegativeGrades()
    {
        // x unjudged, n graded -1, r graded 1 at rank 3: DCG = 1/log2(4) = 0.5; IDCG = 1 -> 0.5.
        var judgments = new Dictionary<string, int> { ["n"] = -1, ["r"] = 1 };
        Assert.Equal(0.5, Metrics.Ndcg(["x", "n", "r"], judgments, 10), 12);

        // r at rank 2: 1/log2(3) = 0.6309297536.
        Assert.Equal(0.6309297535714575, Metrics.Ndcg(["x", "r"], judgments, 10), 12);
    }

    [Fact]
    public void NdcgIsZeroWithoutRelevantDocuments()
    {
        var judgments = new Dictionary<string, int> { ["a"] = 0, ["b"] = -2 };
        Assert.Equal(0.0, Metrics.Ndcg(["a", "b"], judgments, 10));
        Assert.Equal(0.0, Metrics.Ndcg([], new Dictionary<string, int>(), 10));
    }

    [Fact]
    public void NdcgOfEmptyRankingIsZero()
    {
        Assert.Equal(0.0, Metrics.Ndcg([], new Dictionary<string, int> { ["a"] = 1 }, 10));
    }

    [Fact]
    public void ReciprocalRankFindsFirstDocumentWithGradeAtLeastOne()
    {
        // n is judged non-relevant (0), x unjudged, r relevant at rank 3 -> 1/3.
        var judgments = new Dictionary<string, int> { ["n"] = 0, ["r"] = 2, ["s"] = 1 };
        Assert.Equal(1.0 / 3.0, Metrics.ReciprocalRank(["x", "n", "r", "s"], judgments, 10), 15);
        Assert.Equal(1.0, Metrics.ReciprocalRank(["s", "r"], judgments, 10));
    }

    [Fact]
    public void ReciprocalRankIsZeroBeyondTheCutoff()
    {
        var judgments = new Dictionary<string, int> { ["r"] = 1 };
        string[] ranked = ["x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9", "x10", "r"];
        Assert.Equal(0.0, Metrics.ReciprocalRank(ranked, judgments, 10));
        Assert.Equal(1.0 / 11.0, Metrics.ReciprocalRank(ranked, judgments, 11), 15);
        Assert.Equal(0.0, Metrics.ReciprocalRank(["x", "n", "r"], judgments, 2));
    }

    [Fact]
    public void RecallCountsRelevantWithinCutoffOverAllRelevant()
    {
        // 3 relevant (r1, r2, r3); top 4 holds r1 and r2 -> 2/3; top 1 holds r1 -> 1/3.
        var judgments = new Dictionary<string, int> { ["r1"] = 1, ["r2"] = 2, ["r3"] = 1, ["n"] = 0 };
        string[] ranked = ["r1", "n", "x", "r2", "r3"];
        Assert.Equal(2.0 / 3.0, Metrics.Recall(ranked, judgments, 4), 15);
        Assert.Equal(1.0 / 3.0, Metrics.Recall(ranked, judgments, 1), 15);
        Assert.Equal(1.0, Metrics.Recall(ranked, judgments, 100));
    }

    [Fact]
    public void RecallIsZeroWithoutRelevantDocuments()
    {
        Assert.Equal(0.0, Metrics.Recall(["a"], new Dictionary<string, int> { ["a"] = 0 }, 100));
    }

    [Fact]
    public void CutoffMustBePositive()
    {
        var judgments = new Dictionary<string, int>();
        Assert.Throws<ArgumentOutOfRangeException>(() => Metrics.Ndcg([], judgments, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Metrics.ReciprocalRank([], judgments, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Metrics.Recall([], judgments, -1));
    }
}
