namespace Shoal.Engine.Text;

/// <summary>
/// Iterates one term's postings in doc order over the memory-mapped arrays, skipping whole
/// blocks through their last-doc metadata when advancing.
/// </summary>
internal unsafe struct PostingCursor
{
    public int* Docs;
    public float* Impacts;
    public PostingBlock* Blocks;
    public int Count;
    public int BlockCount;
    public int BlockShift;
    public int Pos;
    public double Weight;
    public double UpperBound;

    public readonly int Doc => Pos < Count ? Docs[Pos] : int.MaxValue;

    public readonly double Score => Weight * Impacts[Pos];

    /// <summary>Moves to the first posting whose doc is &gt;= <paramref name="target"/>.</summary>
    public void Advance(int target)
    {
        if (Pos >= Count || Docs[Pos] >= target) return;
        int block = Pos >> BlockShift;
        if (Blocks[block].LastDoc < target)
        {
            // Binary search for the first later block whose last doc reaches the target.
            int lo = block + 1, hi = BlockCount - 1;
            if (lo > hi || Blocks[hi].LastDoc < target) { Pos = Count; return; }
            while (lo < hi)
            {
                int mid = (lo + hi) >>> 1;
                if (Blocks[mid].LastDoc < target) lo = mid + 1; else hi = mid;
            }
            block = lo;
            Pos = block << BlockShift;
        }
        // The target lies within this block: binary search in [Pos, blockEnd).
        int l = Pos, h = Math.Min(Count, (block + 1) << BlockShift) - 1;
        while (l < h)
        {
            int mid = (l + h) >>> 1;
            if (Docs[mid] < target) l = mid + 1; else h = mid;
        }
        Pos = l;
    }
}
