using Shoal.Engine.Search;

namespace Shoal.Engine.Tests.Search;

public class TopKMergeTests
{
    [Fact]
    public void Merge_equals_a_global_sort()
    {
        var rng = new Random(7);
        var all = Enumerable.Range(0, 500).Select(i => new SearchHit($"doc-{i:D4}", rng.Next(0, 30) / 2f)).ToList();
        var shards = all.GroupBy(h => h.Id.GetHashCode(StringComparison.Ordinal) & 3)
            .Select(g => (IReadOnlyList<SearchHit>)g.OrderBy(h => h, Comparer<SearchHit>.Create(SearchHit.Compare)).ToList())
            .ToList();

        var merged = TopKMerge.Merge(shards, 25);

        var expected = all.OrderByDescending(h => h.Score).ThenBy(h => h.Id, StringComparer.Ordinal).Take(25).ToList();
        Assert.Equal(expected.Select(h => h.Id), merged.Select(h => h.Id));
    }

    [Fact]
    public void Merge_of_empty_and_short_lists()
    {
        var merged = TopKMerge.Merge([[], [new SearchHit("a", 1)], []], 10);
        Assert.Single(merged);
        Assert.Empty(TopKMerge.Merge([], 10));
    }

    [Fact]
    public void A_document_reported_twice_appears_once()
    {
        var merged = TopKMerge.Merge([[new SearchHit("a", 2), new SearchHit("b", 1)], [new SearchHit("a", 2)]], 10);
        Assert.Equal(["a", "b"], merged.Select(h => h.Id));
    }

    [Fact]
    public void Merge_of_more_shard_lists_than_fit_on_the_stack_equals_a_global_sort()
    {
        var rng = new Random(11);
        var all = Enumerable.Range(0, 3000).Select(i => new SearchHit($"d{i:D5}", rng.Next(0, 200) / 4f)).ToList();
        var shards = all.GroupBy(h => h.Id.GetHashCode(StringComparison.Ordinal) & 255)
            .Select(g => (IReadOnlyList<SearchHit>)g.OrderBy(h => h, Comparer<SearchHit>.Create(SearchHit.Compare)).ToList())
            .ToList();
        Assert.True(shards.Count > 128);

        var merged = TopKMerge.Merge(shards, 700);

        var expected = all.OrderByDescending(h => h.Score).ThenBy(h => h.Id, StringComparer.Ordinal).Take(700).ToList();
        Assert.Equal(expected.Select(h => h.Id), merged.Select(h => h.Id));
    }

    [Fact]
    public void A_document_reported_twice_by_one_list_appears_once()
    {
        var merged = TopKMerge.Merge([[new SearchHit("a", 2), new SearchHit("a", 2), new SearchHit("b", 1)]], 10);
        Assert.Equal(["a", "b"], merged.Select(h => h.Id));
    }
}
