using System.Collections.Concurrent;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using System.Text;
using Shoal.Engine.Search;
using Shoal.Engine.Segments;

namespace Shoal.Engine.Sparse;

// Exact search: block-max MaxScore over the range-partitioned postings, and the exhaustive reference.
public sealed unsafe partial class SparseSegment
{
    // Non-essential terms may together bound at most this share of the k-th score: a larger share skips
    // more postings but lets more partially scored documents through to full scoring.
    private const double NonEssentialShare = 0.25;

    // ---------------------------------------------------------------- exact

    /// <summary>
    /// Exact top-k over the quantised weights; equal (ids and scores) to <see cref="SearchExhaustive"/>.
    /// </summary>
    /// <remarks>
    /// Term-at-a-time within doc-id ranges of 2^16 documents (a float accumulator of 256 KB that stays
    /// in cache; dense and bitmap-encoded postings are added with SIMD), with block-max MaxScore pruning
    /// per range: from each query term's largest level in the range, a range whose bound cannot beat the
    /// current k-th score is skipped, and the weakest terms whose bounds together stay below a quarter of
    /// it are not accumulated ("non-essential"). Only documents whose partial score plus that bound can
    /// still enter the top k (with a margin that covers float rounding) are scored in full, through the
    /// forward index in the canonical order, so the result equals <see cref="SearchExhaustive"/> exactly.
    /// While the heap is not yet full, a range's own k-th best partial score is the cut.
    /// </remarks>
    public ScoredDoc[] SearchExact(SparseVector query, int k)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        k = Math.Min(k, Math.Max(1, _meta.DocCount));
        var scratch = Rent(query);
        try
        {
            return ExactCore(query, k, scratch);
        }
        finally { Return(scratch, query); }
    }

    private ScoredDoc[] ExactCore(SparseVector query, int k, SparseSearchScratch s)
    {
        int nq = 0;
        s.Ensure(query.Count);
        for (int i = 0; i < query.Count; i++)
        {
            int t = query.Terms[i];
            if (t >= _meta.VocabSize || _termRanges[t + 1] == _termRanges[t]) continue;
            s.Terms[nq] = t;
            s.Weights[nq] = query.Weights[i];
            s.Cursor[nq] = _termRanges[t];
            s.End[nq] = _termRanges[t + 1];
            nq++;
        }
        if (nq == 0) return [];
        var heap = new TopKHeap(k);
        double scale = _scale;
        double relTol = (nq + 2) * 2.4e-7 + 1e-6;
        double threshold = double.NegativeInfinity; // unscaled: a doc must reach it to enter the heap
        int docCount = _meta.DocCount;
        int rangeCount = (docCount + RangeSize - 1) >> SparseSegmentWriter.RangeShift;
        if (s.KHeap.Length < k) s.KHeap = new float[Math.Max(k, s.KHeap.Length * 2)];

        fixed (float* tables = s.Tables)
        fixed (float* acc = s.Accumulator)
        fixed (int* candidates = s.Candidates)
        fixed (float* qd = s.QueryDense)
        {
            for (int i = 0; i < nq; i++)
            {
                float* tab = tables + i * 256;
                double w = s.Weights[i];
                for (int level = 0; level < 256; level++) tab[level] = (float)(w * level);
            }
            int[] active = s.Active;
            double[] bound = s.Bound;
            for (int r = 0; r < rangeCount; r++)
            {
                int na = 0;
                for (int i = 0; i < nq; i++)
                {
                    int c = s.Cursor[i];
                    if (c < s.End[i] && _entries[c].Range == r)
                    {
                        // Insertion by bound ascending.
                        double ub = (double)s.Weights[i] * _entries[c].MaxLevel;
                        int j = na++;
                        while (j > 0 && bound[j - 1] > ub) { bound[j] = bound[j - 1]; active[j] = active[j - 1]; j--; }
                        bound[j] = ub;
                        active[j] = i;
                    }
                }
                if (na == 0) continue;
                int baseDoc = r << SparseSegmentWriter.RangeShift;
                int docsInRange = Math.Min(RangeSize, docCount - baseDoc);
                bool full = heap.IsFull;
                double total = 0;
                for (int j = 0; j < na; j++) total += bound[j];
                if (full && total < threshold)
                {
                    for (int j = 0; j < na; j++) s.Cursor[active[j]]++;
                    continue;
                }
                int firstEssential = 0;
                double nonEssential = 0;
                if (full)
                {
                    while (firstEssential < na - 1 && nonEssential + bound[firstEssential] < threshold * NonEssentialShare)
                        nonEssential += bound[firstEssential++];
                }
                new Span<float>(acc, docsInRange).Clear();
                for (int j = firstEssential; j < na; j++)
                {
                    int i = active[j];
                    AccumulateEntry(acc, _entries[s.Cursor[i]], docsInRange, s.Weights[i], tables + i * 256);
                }
                for (int j = 0; j < na; j++) s.Cursor[active[j]]++;

                float cut;
                if (full)
                {
                    cut = (float)((threshold - nonEssential) / (1 + relTol) * (1 - 1e-7));
                }
                else
                {
                    // The heap is not full yet, so every term was accumulated: a doc below this range's
                    // k-th best cannot be in the top k.
                    float kth = KthLargest(acc, docsInRange, k, s.KHeap);
                    cut = (float)(kth * (1 - 2 * relTol));
                }
                if (!(cut > 0)) cut = float.Epsilon;
                int nc = Scan(acc, docsInRange, cut, candidates);
                for (int c = 0; c < nc; c++)
                {
                    int low = candidates[c];
                    int doc = baseDoc + low;
                    if (heap.IsFull)
                    {
                        if (acc[low] * (1 + relTol) + nonEssential < threshold) continue;
                        if (ApproximateSum(doc, qd) * (1 + (_fwdOffsets[doc + 1] - _fwdOffsets[doc] + 4) * 2.4e-7) < threshold) continue;
                    }
                    if (heap.TryAdd(doc, CanonicalScore(doc, qd)) && heap.IsFull)
                        threshold = heap.Threshold / scale * (1 - 1e-6);
                }
            }
        }
        return heap.ToSortedArray();
    }

    private void AccumulateEntry(float* acc, SparseRangeEntry e, int docsInRange, float weight, float* table)
    {
        byte* data = _postingData + e.Offset;
        switch (e.Kind)
        {
            case SparseRangeEntry.Sparse:
                Accumulate(acc, (ushort*)data, data + 2L * e.Count, e.Count, table);
                break;
            case SparseRangeEntry.Bitmap:
                int words = (docsInRange + 63) >> 6;
                if (8L * e.Count >= docsInRange && SparseKernels.IsAccelerated)
                    SparseKernels.AccumulateBitmapExpand(acc, (ulong*)data, words, data + 8L * words, weight);
                else
                    SparseKernels.AccumulateBitmapBits(acc, (ulong*)data, words, data + 8L * words, table);
                break;
            default:
                SparseKernels.AccumulateDense(acc, data, docsInRange, weight);
                break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Accumulate(float* acc, ushort* docs, byte* levels, int count, float* table)
    {
        int i = 0;
        for (; i + 4 <= count; i += 4)
        {
            acc[docs[i]] += table[levels[i]];
            acc[docs[i + 1]] += table[levels[i + 1]];
            acc[docs[i + 2]] += table[levels[i + 2]];
            acc[docs[i + 3]] += table[levels[i + 3]];
        }
        for (; i < count; i++) acc[docs[i]] += table[levels[i]];
    }

    // Positions with acc >= cut (cut > 0), ascending.
    private static int Scan(float* acc, int n, float cut, int* output)
    {
        int count = 0, i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var vc = Vector256.Create(cut);
            for (; i + 8 <= n; i += 8)
            {
                uint mask = Vector256.GreaterThanOrEqual(Vector256.Load(acc + i), vc).ExtractMostSignificantBits();
                while (mask != 0)
                {
                    output[count++] = i + BitOperations.TrailingZeroCount(mask);
                    mask &= mask - 1;
                }
            }
        }
        for (; i < n; i++)
            if (acc[i] >= cut) output[count++] = i;
        return count;
    }

    // The k-th largest positive value (0 when fewer than k are positive), with a min-heap of size k.
    private static float KthLargest(float* acc, int n, int k, float[] heap)
    {
        int size = 0;
        for (int i = 0; i < n; i++)
        {
            float v = acc[i];
            if (v <= 0) continue;
            if (size < k)
            {
                int j = size++;
                while (j > 0 && heap[(j - 1) >> 1] > v) { heap[j] = heap[(j - 1) >> 1]; j = (j - 1) >> 1; }
                heap[j] = v;
            }
            else if (v > heap[0])
            {
                int j = 0;
                while (true)
                {
                    int child = 2 * j + 1;
                    if (child >= k) break;
                    if (child + 1 < k && heap[child + 1] < heap[child]) child++;
                    if (heap[child] >= v) break;
                    heap[j] = heap[child];
                    j = child;
                }
                heap[j] = v;
            }
        }
        return size < k ? 0 : heap[0];
    }

    // ---------------------------------------------------------------- exhaustive

    /// <summary>
    /// Brute force: scores every posting of every query term into a dense accumulator. The reference that
    /// <see cref="SearchExact"/> equals; for tests and diagnostics, not serving.
    /// </summary>
    public ScoredDoc[] SearchExhaustive(SparseVector query, int k)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        k = Math.Min(k, Math.Max(1, _meta.DocCount));
        ValidateQuery(query);
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        int docCount = _meta.DocCount;
        int rangeCount = (docCount + RangeSize - 1) >> SparseSegmentWriter.RangeShift;
        var acc = new double[(long)rangeCount << SparseSegmentWriter.RangeShift];
        var lows = new int[RangeSize];
        var levels = new byte[RangeSize];
        for (int i = 0; i < query.Count; i++)
        {
            int t = query.Terms[i];
            if (t >= _meta.VocabSize) continue;
            double w = query.Weights[i];
            for (int e = _termRanges[t]; e < _termRanges[t + 1]; e++)
            {
                var entry = _entries[e];
                int baseDoc = entry.Range << SparseSegmentWriter.RangeShift;
                int docsInRange = Math.Min(RangeSize, docCount - baseDoc);
                int n = Decode(entry, docsInRange, lows, levels);
                for (int x = 0; x < n; x++) acc[baseDoc + lows[x]] += w * levels[x];
            }
        }
        var heap = new TopKHeap(k);
        for (int d = 0; d < docCount; d++)
            if (acc[d] > 0) heap.TryAdd(d, (float)(acc[d] * _scale));
        return heap.ToSortedArray();
    }

    // Decodes an entry into (doc offset within the range, level) pairs, docs ascending.
    private int Decode(SparseRangeEntry e, int docsInRange, int[] lows, byte[] levels)
    {
        byte* data = _postingData + e.Offset;
        int n = 0;
        switch (e.Kind)
        {
            case SparseRangeEntry.Sparse:
                for (int x = 0; x < e.Count; x++)
                {
                    lows[x] = ((ushort*)data)[x];
                    levels[x] = data[2L * e.Count + x];
                }
                return e.Count;
            case SparseRangeEntry.Bitmap:
                int words = (docsInRange + 63) >> 6;
                for (int w = 0; w < words; w++)
                {
                    ulong bits = ((ulong*)data)[w];
                    while (bits != 0 && n < e.Count)
                    {
                        lows[n] = (w << 6) + BitOperations.TrailingZeroCount(bits);
                        levels[n] = data[8L * words + n];
                        n++;
                        bits &= bits - 1;
                    }
                }
                return n;
            default:
                for (int x = 0; x < docsInRange; x++)
                {
                    if (data[x] == 0) continue;
                    lows[n] = x;
                    levels[n++] = data[x];
                }
                return n;
        }
    }
}
