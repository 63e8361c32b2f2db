using System.Runtime.CompilerServices;

namespace Shoal.Engine.Sparse;

/// <summary>
/// Per-search working memory of a <see cref="SparseSegment"/>, pooled so that searches do not allocate
/// large arrays. Arrays are pinned (allocated on the pinned object heap) so kernels can take pointers.
/// Not thread-safe: one search at a time owns a scratch.
/// </summary>
internal sealed class SparseSearchScratch
{
    public const int RangeSize = 1 << SparseSegmentWriter.RangeShift;

    public SparseSearchScratch(int docCount)
    {
        QueryDense = GC.AllocateArray<float>(65536, pinned: true);
        Accumulator = GC.AllocateArray<float>(RangeSize, pinned: true);
        Candidates = GC.AllocateArray<int>(RangeSize, pinned: true);
        Visited = GC.AllocateArray<ulong>((docCount + 63) / 64, pinned: true);
    }

    /// <summary>Query weights by term id (zero elsewhere); reset after every search.</summary>
    public float[] QueryDense { get; }

    /// <summary>Score accumulator for one doc-id range.</summary>
    public float[] Accumulator { get; }

    /// <summary>Candidate positions found in the accumulator.</summary>
    public int[] Candidates { get; }

    /// <summary>Visited set of approximate search, one bit per document.</summary>
    public ulong[] Visited { get; }

    public int[] Terms = new int[64];
    public float[] Weights = new float[64];
    public int[] Cursor = new int[64];
    public int[] End = new int[64];
    public int[] Active = new int[64];
    public int[] Pending = new int[64];
    public double[] Bound = new double[64];
    public float[] Tables = GC.AllocateArray<float>(64 * 256, pinned: true);
    public float[] KHeap = new float[16];
    public int Count;

    /// <summary>Makes room for <paramref name="n"/> query terms.</summary>
    public void Ensure(int n)
    {
        if (Terms.Length >= n) return;
        int size = Math.Max(n, Terms.Length * 2);
        Terms = new int[size];
        Weights = new float[size];
        Cursor = new int[size];
        End = new int[size];
        Active = new int[size];
        Bound = new double[size];
        Tables = GC.AllocateArray<float>(size * 256, pinned: true);
    }

    /// <summary>Clears the query weights set by the last search.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void ResetQuery(int[] terms)
    {
        foreach (int t in terms)
            if ((uint)t < (uint)QueryDense.Length) QueryDense[t] = 0;
    }
}
