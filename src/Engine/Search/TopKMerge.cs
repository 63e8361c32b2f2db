using System.Buffers;

namespace Shoal.Engine.Search;

/// <summary>
/// K-way merge of per-shard top-k lists (each already in ranking order) into a global top-k.
/// Because every shard scores with collection-global statistics and ties break on the external
/// id, the merged list equals what one shard holding the whole corpus would return.
/// </summary>
public static class TopKMerge
{
    /// <summary>Lists merged with their heap on the stack; more take one pooled array.</summary>
    private const int StackLists = 128;

    /// <summary>Merges sorted lists into the best <paramref name="k"/> hits.</summary>
    public static List<SearchHit> Merge(IReadOnlyList<IReadOnlyList<SearchHit>> lists, int k) => [.. Merge<SearchHit>(lists, k)];

    /// <summary>
    /// Merges sorted lists into the best <paramref name="k"/> hits of any ranked hit type. The
    /// returned array is the only allocation: the heap of list heads lives on the stack (a pooled
    /// array beyond <see cref="StackLists"/> lists). A document reported twice (by replicas, or a
    /// list sent again) appears once: its copies meet next to each other, since a document scores
    /// the same wherever it is scored.
    /// </summary>
    public static T[] Merge<T>(IReadOnlyList<IReadOnlyList<T>> lists, int k) where T : IRankedHit<T>
    {
        ArgumentNullException.ThrowIfNull(lists);
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        long total = 0;
        int nonEmpty = 0, only = -1;
        for (int i = 0; i < lists.Count; i++)
        {
            if (lists[i].Count == 0) continue;
            total += lists[i].Count;
            nonEmpty++;
            only = i;
        }
        if (nonEmpty == 0) return [];
        var result = new T[(int)Math.Min(k, total)];
        if (nonEmpty == 1)
        {
            var list = lists[only];
            int n = 0;
            for (int i = 0; i < list.Count && n < result.Length; i++)
                if (!Repeats(result, n, list[i])) result[n++] = list[i];
            return Trim(result, n);
        }

        int[]? rented = lists.Count > StackLists ? ArrayPool<int>.Shared.Rent(lists.Count * 2) : null;
        Span<int> space = rented is null ? stackalloc int[StackLists * 2] : rented;
        try
        {
            // heap: indices of the lists with hits left, best head first; position: each list's head.
            Span<int> heap = space[..lists.Count], position = space.Slice(lists.Count, lists.Count);
            int size = 0;
            for (int i = 0; i < lists.Count; i++)
            {
                position[i] = 0;
                if (lists[i].Count > 0) Up(lists, heap, position, size++, i);
            }
            int count = 0;
            while (count < result.Length && size > 0)
            {
                int top = heap[0];
                var hit = lists[top][position[top]];
                if (!Repeats(result, count, hit)) result[count++] = hit;
                if (++position[top] < lists[top].Count) Down(lists, heap, position, size, top);
                else if (--size > 0) Down(lists, heap, position, size, heap[size]);
            }
            return Trim(result, count);
        }
        finally
        {
            if (rented is not null) ArrayPool<int>.Shared.Return(rented);
        }
    }

    private static T[] Trim<T>(T[] result, int count) => count == result.Length ? result : result[..count];

    /// <summary>True when <paramref name="hit"/>'s id is among the last emitted hits of the same score.</summary>
    private static bool Repeats<T>(T[] emitted, int count, T hit) where T : IRankedHit<T>
    {
        for (int i = count - 1; i >= 0 && emitted[i].Score == hit.Score; i--)
            if (string.Equals(emitted[i].Id, hit.Id, StringComparison.Ordinal)) return true;
        return false;
    }

    /// <summary>True when list <paramref name="a"/>'s head ranks before list <paramref name="b"/>'s.</summary>
    private static bool Before<T>(IReadOnlyList<IReadOnlyList<T>> lists, Span<int> position, int a, int b) where T : IRankedHit<T> =>
        RankOrder.Compare(lists[a][position[a]], lists[b][position[b]]) < 0;

    /// <summary>Puts list <paramref name="list"/> at slot <paramref name="slot"/> and sifts it up.</summary>
    private static void Up<T>(IReadOnlyList<IReadOnlyList<T>> lists, Span<int> heap, Span<int> position, int slot, int list) where T : IRankedHit<T>
    {
        while (slot > 0)
        {
            int parent = (slot - 1) / 2;
            if (!Before(lists, position, list, heap[parent])) break;
            heap[slot] = heap[parent];
            slot = parent;
        }
        heap[slot] = list;
    }

    /// <summary>Puts list <paramref name="list"/> at the root of a heap of <paramref name="size"/> and sifts it down.</summary>
    private static void Down<T>(IReadOnlyList<IReadOnlyList<T>> lists, Span<int> heap, Span<int> position, int size, int list) where T : IRankedHit<T>
    {
        int slot = 0;
        while (true)
        {
            int child = 2 * slot + 1;
            if (child >= size) break;
            if (child + 1 < size && Before(lists, position, heap[child + 1], heap[child])) child++;
            if (!Before(lists, position, heap[child], list)) break;
            heap[slot] = heap[child];
            slot = child;
        }
        heap[slot] = list;
    }
}
