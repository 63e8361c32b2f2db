using Shoal.Engine.Search;

namespace Shoal.Engine.Tests.Search;

public class TopKHeapTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(100)]
    public void Keeps_the_k_best_by_score_then_doc_id(int k)
    {
        var rng = new Random(42);
        // Few distinct scores, so ties are common and the tie-break is exercised.
        var entries = Enumerable.Range(0, 2000).Select(d => new ScoredDoc(d, rng.Next(0, 20) / 4f)).ToArray();
        rng.Shuffle(entries);
        var heap = new TopKHeap(k);
        foreach (var e in entries) heap.TryAdd(e.DocId, e.Score);

        var expected = entries.OrderByDescending(e => e.Score).ThenBy(e => e.DocId).Take(k).ToArray();
        Assert.Equal(expected, heap.ToSortedArray());
    }

    [Fact]
    public void Threshold_is_the_worst_kept_score_once_full()
    {
        var heap = new TopKHeap(2);
        Assert.Equal(float.NegativeInfinity, heap.Threshold);
        heap.TryAdd(1, 5f);
        heap.TryAdd(2, 3f);
        Assert.Equal(3f, heap.Threshold);
        Assert.False(heap.TryAdd(3, 3f));   // equal score, higher id: loses the tie
        Assert.True(heap.TryAdd(0, 3f));    // equal score, lower id: wins it
        Assert.Equal(new[] { new ScoredDoc(1, 5f), new ScoredDoc(0, 3f) }, heap.ToSortedArray());
    }

    [Fact]
    public void Rejects_non_positive_k() => Assert.Throws<ArgumentOutOfRangeException>(() => new TopKHeap(0));
}
