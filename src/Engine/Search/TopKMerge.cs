namespace Shoal.Engine.Search;

/// <summary>
/// K-way merge of per-shard top-k lists (each already in ranking order) into a global top-k.
/// Because every shard scores with collection-global statistics and ties break on the external
/// id, the merged list equals what one shard holding the whole corpus would return.
/// </summary>
public static class TopKMerge
{
    /// <summary>Merges sorted lists into the best <paramref name="k"/> hits.</summary>
    public static List<SearchHit> Merge(IReadOnlyList<IReadOnlyList<SearchHit>> lists, int k)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        var result = new List<SearchHit>(Math.Min(k, 1024));
        var queue = new PriorityQueue<(int List, int Pos), SearchHit>(lists.Count, Comparer<SearchHit>.Create(SearchHit.Compare));
        for (int i = 0; i < lists.Count; i++)
            if (lists[i].Count > 0) queue.Enqueue((i, 0), lists[i][0]);

        var seen = new HashSet<string>(StringComparer.Ordinal);
        while (result.Count < k && queue.TryDequeue(out var at, out var hit))
        {
            // A document lives on exactly one shard; the guard keeps replicas or a re-sent list from duplicating it.
            if (seen.Add(hit.Id)) result.Add(hit);
            int next = at.Pos + 1;
            if (next < lists[at.List].Count) queue.Enqueue((at.List, next), lists[at.List][next]);
        }
        return result;
    }
}
