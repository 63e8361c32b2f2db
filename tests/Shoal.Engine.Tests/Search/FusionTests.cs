using Shoal.Engine.Search;

namespace Shoal.Engine.Tests.Search;

public class FusionTests
{
    private static IReadOnlyList<SearchHit> List(params (string Id, float Score)[] hits) => hits.Select(h => new SearchHit(h.Id, h.Score)).ToList();

    [Fact]
    public void Rrf_matches_a_hand_computation()
    {
        var bm25 = List(("a", 12f), ("b", 9f), ("c", 3f));
        var dense = List(("c", 0.9f), ("a", 0.8f), ("d", 0.5f));

        var fused = Fusion.ReciprocalRank([bm25, dense], 10);

        // a: 1/61 + 1/62, c: 1/63 + 1/61, b: 1/62, d: 1/63
        double a = 1.0 / 61 + 1.0 / 62, c = 1.0 / 63 + 1.0 / 61, b = 1.0 / 62, d = 1.0 / 63;
        Assert.Equal(["a", "c", "b", "d"], fused.Select(h => h.Id));
        Assert.Equal([(float)a, (float)c, (float)b, (float)d], fused.Select(h => h.Score));
    }

    [Fact]
    public void Rrf_weights_and_k_and_ties()
    {
        var x = List(("p", 1f), ("q", 1f));
        var y = List(("q", 5f), ("p", 4f));
        // Symmetric ranks: equal fused scores, so the id decides.
        Assert.Equal(["p", "q"], Fusion.ReciprocalRank([x, y], 2).Select(h => h.Id));
        // Weight the second channel up: q (rank 1 there) wins.
        Assert.Equal(["q", "p"], Fusion.ReciprocalRank([x, y], 2, weights: [1.0, 2.0]).Select(h => h.Id));
        Assert.Single(Fusion.ReciprocalRank([x, y], 1));
        Assert.Throws<ArgumentException>(() => Fusion.ReciprocalRank([x, y], 2, weights: [1.0]));
    }

    [Fact]
    public void Weighted_sum_normalises_each_channel()
    {
        var bm25 = List(("a", 20f), ("b", 10f), ("c", 0f));   // norms 1, 0.5, 0
        var dense = List(("c", 0.9f), ("b", 0.5f));           // norms 1, 0
        var fused = Fusion.WeightedSum([bm25, dense], 3, [0.5, 0.5]);
        // a: .5*1 = .5 ; b: .5*.5 + .5*0 = .25 ; c: 0 + .5*1 = .5  -> a, c tie at 0.5: id order
        Assert.Equal(["a", "c", "b"], fused.Select(h => h.Id));
        Assert.Equal([0.5f, 0.5f, 0.25f], fused.Select(h => h.Score));
    }

    [Fact]
    public void Stored_fields_survive_fusion()
    {
        var fused = Fusion.ReciprocalRank([[new SearchHit("a", 1, "Title A", "snippet")], []], 5);
        Assert.Equal("Title A", fused[0].Title);
    }
}
