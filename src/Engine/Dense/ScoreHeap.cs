using System.Runtime.CompilerServices;

namespace Shoal.Engine.Dense;

/// <summary>
/// A binary min-heap of (key, node) pairs with reusable storage, for HNSW searches. The result list
/// uses the score as key (root = worst kept); the candidate queue uses the negated score (root = best).
/// </summary>
internal sealed class ScoreHeap
{
    private Entry[] _items;
    private int _count;

    public ScoreHeap(int capacity) => _items = new Entry[Math.Max(capacity, 16)];

    public int Count => _count;

    public float MinKey => _items[0].Key;

    public int MinNode => _items[0].Node;

    /// <summary>The held entries in heap order.</summary>
    public ReadOnlySpan<Entry> Items => _items.AsSpan(0, _count);

    public void Clear() => _count = 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Push(float key, int node)
    {
        if (_count == _items.Length) Array.Resize(ref _items, _items.Length * 2);
        var items = _items;
        int i = _count++;
        while (i > 0)
        {
            int parent = (i - 1) >> 1;
            if (items[parent].Key <= key) break;
            items[i] = items[parent];
            i = parent;
        }
        items[i] = new Entry(key, node);
    }

    /// <summary>Removes the root.</summary>
    public void Pop()
    {
        var items = _items;
        int n = --_count;
        if (n == 0) return;
        var last = items[n];
        int i = 0;
        int half = n >> 1;
        while (i < half)
        {
            int child = 2 * i + 1;
            if (child + 1 < n && items[child + 1].Key < items[child].Key) child++;
            if (items[child].Key >= last.Key) break;
            items[i] = items[child];
            i = child;
        }
        items[i] = last;
    }

    /// <summary>One heap entry.</summary>
    internal readonly record struct Entry(float Key, int Node);
}
