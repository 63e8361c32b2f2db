namespace Shoal.Engine.Search;

/// <summary>
/// A bounded heap that keeps the best <c>k</c> entries by (score descending, doc id ascending).
/// The root is the worst kept entry, so <see cref="Threshold"/> is what a candidate must beat.
/// Ties are broken deterministically: at equal score the lower doc id wins.
/// </summary>
public sealed class TopKHeap
{
    private readonly ScoredDoc[] _heap;
    private int _count;

    /// <summary>Creates a heap that keeps at most <paramref name="k"/> entries.</summary>
    public TopKHeap(int k)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        _heap = new ScoredDoc[k];
    }

    /// <summary>The capacity <c>k</c>.</summary>
    public int Capacity => _heap.Length;

    /// <summary>Entries held.</summary>
    public int Count => _count;

    /// <summary>True once <c>k</c> entries are held.</summary>
    public bool IsFull => _count == _heap.Length;

    /// <summary>
    /// The score of the worst kept entry once full, else negative infinity. A candidate whose
    /// score is below it can never enter; one equal to it enters only with a lower doc id.
    /// </summary>
    public float Threshold => IsFull ? _heap[0].Score : float.NegativeInfinity;

    /// <summary>The worst kept entry (undefined when empty).</summary>
    public ScoredDoc Worst => _heap[0];

    /// <summary>Offers a candidate; returns true when it was kept.</summary>
    public bool TryAdd(int docId, float score)
    {
        var entry = new ScoredDoc(docId, score);
        if (_count < _heap.Length)
        {
            _heap[_count] = entry;
            SiftUp(_count++);
            return true;
        }
        if (!entry.RanksBefore(_heap[0])) return false;
        _heap[0] = entry;
        SiftDown(0);
        return true;
    }

    /// <summary>Empties the heap for reuse.</summary>
    public void Clear() => _count = 0;

    /// <summary>The kept entries, best first.</summary>
    public ScoredDoc[] ToSortedArray()
    {
        var result = _heap.AsSpan(0, _count).ToArray();
        Array.Sort(result, static (a, b) => a.RanksBefore(b) ? -1 : b.RanksBefore(a) ? 1 : 0);
        return result;
    }

    // Min-heap on rank: the parent ranks after (is worse than) its children.
    private void SiftUp(int i)
    {
        var item = _heap[i];
        while (i > 0)
        {
            int parent = (i - 1) >> 1;
            if (!_heap[parent].RanksBefore(item)) break;
            _heap[i] = _heap[parent];
            i = parent;
        }
        _heap[i] = item;
    }

    private void SiftDown(int i)
    {
        var item = _heap[i];
        int half = _count >> 1;
        while (i < half)
        {
            int child = 2 * i + 1;
            int right = child + 1;
            if (right < _count && _heap[child].RanksBefore(_heap[right])) child = right;
            if (!item.RanksBefore(_heap[child])) break;
            _heap[i] = _heap[child];
            i = child;
        }
        _heap[i] = item;
    }
}
