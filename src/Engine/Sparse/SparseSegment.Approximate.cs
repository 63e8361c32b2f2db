using System.Collections.Concurrent;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using System.Text;
using Shoal.Engine.Search;
using Shoal.Engine.Segments;

namespace Shoal.Engine.Sparse;

// Approximate (Seismic-style) search over the blocked, summarised postings.
public sealed unsafe partial class SparseSegment
{
    // ---------------------------------------------------------------- approximate

    /// <summary>
    /// Seismic approximate top-k: visits the blocks of the query's <see cref="SeismicSearchParameters.QueryTermCut"/>
    /// highest-weighted terms (heaviest first), skipping a block when the heap is full and the dot product
    /// of the query with the block summary is below threshold / <see cref="SeismicSearchParameters.HeapFactor"/>;
    /// every not yet visited document of a visited block is scored exactly through the forward index.
    /// Scores are the canonical ones (equal to <see cref="SearchExact"/>'s for the same document).
    /// </summary>
    public ScoredDoc[] SearchApproximate(SparseVector query, int k, SeismicSearchParameters parameters)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        k = Math.Min(k, Math.Max(1, _meta.DocCount));
        ArgumentNullException.ThrowIfNull(parameters);
        parameters.Validate();
        var scratch = Rent(query);
        try
        {
            return ApproximateCore(query, k, parameters, scratch);
        }
        finally { Return(scratch, query); }
    }

    private ScoredDoc[] ApproximateCore(SparseVector query, int k, SeismicSearchParameters parameters, SparseSearchScratch s)
    {
        // The query's highest-weighted terms (ties: lower term id) among those the segment has blocks for.
        int nq = 0;
        s.Ensure(query.Count);
        for (int i = 0; i < query.Count; i++)
        {
            int t = query.Terms[i];
            if (t >= _meta.VocabSize || _termBlocks[t + 1] == _termBlocks[t]) continue;
            s.Terms[nq] = t;
            s.Weights[nq] = query.Weights[i];
            nq++;
        }
        if (nq == 0) return [];
        int cut = Math.Min(nq, parameters.QueryTermCut);
        var order = s.Active;
        for (int i = 0; i < nq; i++) order[i] = i;
        Array.Sort(order, 0, nq, Comparer<int>.Create((a, b) =>
            s.Weights[a] != s.Weights[b] ? s.Weights[b].CompareTo(s.Weights[a]) : s.Terms[a].CompareTo(s.Terms[b])));

        var heap = new TopKHeap(k);
        double scale = _scale;
        double threshold = double.NegativeInfinity;  // unscaled score a doc must reach
        float blockThreshold = float.NegativeInfinity; // unscaled summary dot a block must reach
        double heapFactor = parameters.HeapFactor;
        Array.Clear(s.Visited);
        int[] pending = s.Pending;
        fixed (float* qd = s.QueryDense)
        fixed (ulong* visited = s.Visited)
        {
            for (int x = 0; x < cut; x++)
            {
                int t = s.Terms[order[x]];
                int b1 = _termBlocks[t + 1];
                for (int b = _termBlocks[t]; b < b1; b++)
                {
                    if (heap.IsFull && SummaryDot(b, qd) < blockThreshold) continue;
                    // Collect the block's unvisited documents and prefetch their forward-index regions, so
                    // that the (random) memory accesses of the whole block overlap.
                    uint p0 = _blockDocStarts[b], p1 = _blockDocStarts[b + 1];
                    if (pending.Length < p1 - p0) pending = s.Pending = new int[p1 - p0];
                    int m = 0;
                    for (uint p = p0; p < p1; p++)
                    {
                        uint doc = _seismicDocs[p];
                        ulong bit = 1UL << (int)(doc & 63);
                        ulong word = visited[doc >> 6];
                        if ((word & bit) != 0) continue;
                        visited[doc >> 6] = word | bit;
                        pending[m++] = (int)doc;
                        if (Sse.IsSupported) Sse.Prefetch0(_fwdOffsets + doc);
                    }
                    if (Sse.IsSupported)
                    {
                        for (int i = 0; i < m; i++) PrefetchDocument(pending[i]);
                    }
                    for (int i = 0; i < m; i++)
                    {
                        int doc = pending[i];
                        if (heap.IsFull && ApproximateSum(doc, qd) * (1 + (_fwdOffsets[doc + 1] - _fwdOffsets[doc] + 4) * 2.4e-7) < threshold)
                            continue;
                        if (heap.TryAdd(doc, CanonicalScore(doc, qd)) && heap.IsFull)
                        {
                            threshold = heap.Threshold / scale * (1 - 1e-6);
                            blockThreshold = (float)(heap.Threshold / (scale * heapFactor));
                        }
                    }
                }
            }
        }
        return heap.ToSortedArray();
    }

    // Brings a document's forward-index entries towards the cache.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void PrefetchDocument(int doc)
    {
        long from = _fwdOffsets[doc];
        byte* start = _fwd + 3 * from;
        byte* end = _fwd + 3 * _fwdOffsets[doc + 1];
        for (byte* line = (byte*)((nint)start & ~(nint)63); line < end; line += 64) Sse.Prefetch0(line);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private float SummaryDot(int block, float* qd)
    {
        uint from = _blockSummaryStarts[block], to = _blockSummaryStarts[block + 1];
        ushort* terms = _summaryTerms;
        byte* levels = _summaryLevels;
        float s0 = 0, s1 = 0;
        uint p = from;
        for (; p + 2 <= to; p += 2)
        {
            s0 += qd[terms[p]] * levels[p];
            s1 += qd[terms[p + 1]] * levels[p + 1];
        }
        if (p < to) s0 += qd[terms[p]] * levels[p];
        return s0 + s1;
    }
}
