using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using System.Text;
using Shoal.Engine.Search;
using Shoal.Engine.Segments;

namespace Shoal.Engine.Dense;

// Exact search of many queries in one pass over the rows.
public sealed unsafe partial class DenseSegment
{
    private const int BatchBlockBytes = 96 * 1024;

    // ---- exact, many queries ----------------------------------------------------------------

    /// <summary>
    /// The exact top <paramref name="k"/> of each of <c>m = queries.Length / Dims</c> queries, reading the
    /// vectors once per call: blocks of rows that fit the L2 cache are scored against all queries by a
    /// register-blocked kernel (2 rows x 6 queries per tile, 12 FMA chains), with the next block
    /// prefetched meanwhile. Results equal <see cref="SearchExact"/> for each query, bit for bit.
    /// </summary>
    /// <param name="queries">Row-major queries, <c>m x Dims</c>.</param>
    /// <param name="k">Results per query.</param>
    public ScoredDoc[][] SearchExactBatch(ReadOnlySpan<float> queries, int k) => SearchExactBatch(queries, k, _oversample);

    /// <summary>
    /// As <see cref="SearchExactBatch(ReadOnlySpan{float}, int)"/> with the batch's own oversample factor (see
    /// <see cref="SearchExact(ReadOnlySpan{float}, int, float)"/>); results equal that method's for each query, bit for bit.
    /// </summary>
    /// <param name="queries">Row-major queries, <c>m x Dims</c>.</param>
    /// <param name="k">Results per query.</param>
    /// <param name="oversample">Candidates per result to rescore with the originals: finite, at least 1.</param>
    public ScoredDoc[][] SearchExactBatch(ReadOnlySpan<float> queries, int k, float oversample)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        CheckOversample(oversample);
        int dims = Dims;
        if (queries.Length == 0 || queries.Length % dims != 0)
            throw new ArgumentException($"Queries hold {queries.Length} floats, not a positive multiple of {dims} dimensions.", nameof(queries));
        int m = queries.Length / dims;
        var prepared = new float[queries.Length];
        var scratch = DenseSearchScratch.Current;
        for (int i = 0; i < m; i++)
        {
            PrepareQuery(queries.Slice(i * dims, dims), scratch);
            scratch.Query.AsSpan(0, dims).CopyTo(prepared.AsSpan(i * dims));
        }
        var results = new ScoredDoc[m][];
        if (Count == 0)
        {
            for (int i = 0; i < m; i++) results[i] = [];
            return results;
        }
        if (!DenseKernels.Simd || dims < 8)
        {
            for (int i = 0; i < m; i++) results[i] = ScanPrepared(prepared.AsSpan(i * dims, dims).ToArray(), k, oversample);
            return results;
        }

        var heaps = new TopKHeap[m];
        int kept = _originals is null ? Math.Min(k, Count) : Candidates(k, oversample);
        for (int i = 0; i < m; i++) heaps[i] = new TopKHeap(kept);
        var batch = new BatchState(this, prepared, m, heaps);
        try
        {
            switch (Storage)
            {
                case DenseStorage.Float32: batch.RunFloat32(); break;
                case DenseStorage.Float16: batch.RunDecoded<Float16Codec>(); break;
                default: batch.RunDecoded<Int8Codec>(); break;
            }
        }
        finally
        {
            batch.Dispose();
        }
        if (_originals is null)
        {
            for (int i = 0; i < m; i++) results[i] = heaps[i].ToSortedArray();
            return results;
        }
        fixed (float* q = prepared)
        {
            for (int i = 0; i < m; i++) results[i] = RescoreWithOriginals(heaps[i], q + (nint)i * dims, k);
        }
        return results;
    }

    /// <summary>Buffers and loop of one batched scan.</summary>
    private sealed class BatchState : IDisposable
    {
        private readonly DenseSegment _seg;
        private readonly float[] _queries;
        private readonly int _m;
        private readonly TopKHeap[] _heaps;
        private readonly int _dims;
        private readonly int _n8;
        private readonly int _groups;
        private readonly float* _interleaved;
        private readonly float* _thresholds;
        private readonly float* _zeroRow;
        private readonly int _blockRows;

        public BatchState(DenseSegment seg, float[] queries, int m, TopKHeap[] heaps)
        {
            _seg = seg;
            _queries = queries;
            _m = m;
            _heaps = heaps;
            _dims = seg.Dims;
            _n8 = _dims & ~7;
            _groups = (m + DenseKernels.TileQueries - 1) / DenseKernels.TileQueries;
            int slots = _groups * DenseKernels.TileQueries;
            _interleaved = (float*)NativeMemory.AlignedAlloc((nuint)((long)slots * _n8 * 4 + 64), 64);
            _thresholds = (float*)NativeMemory.AlignedAlloc((nuint)(slots * 4 + 64), 64);
            _zeroRow = (float*)NativeMemory.AlignedAlloc((nuint)(_dims * 4 + 64), 64);
            new Span<float>(_zeroRow, _dims).Clear();
            for (int i = 0; i < slots; i++) _thresholds[i] = i < m ? float.NegativeInfinity : float.PositiveInfinity;
            DenseKernels.InterleaveQueries(queries, m, _dims, _interleaved);
            _blockRows = Math.Max(2, BatchBlockBytes / (_dims * 4)) & ~1;
        }

        public void RunFloat32()
        {
            int n = _seg.Count;
            nint rowBytes = _seg._rowBytes;
            byte* rows = _seg._vectors;
            byte* end = rows + n * rowBytes;
            for (int first = 0; first < n; first += _blockRows)
            {
                int count = Math.Min(_blockRows, n - first);
                byte* next = rows + (first + count) * rowBytes;
                nint nextBytes = Math.Min((nint)(end - next), (nint)_blockRows * rowBytes);
                Block((float*)(rows + first * rowBytes), first, count, null, next, nextBytes);
            }
        }

        public void RunDecoded<TCodec>() where TCodec : struct, IRowCodec
        {
            int n = _seg.Count;
            nint rowBytes = _seg._rowBytes;
            byte* rows = _seg._vectors;
            byte* end = rows + n * rowBytes;
            float* decoded = (float*)NativeMemory.AlignedAlloc((nuint)((long)_blockRows * _dims * 4 + 64), 64);
            try
            {
                for (int first = 0; first < n; first += _blockRows)
                {
                    int count = Math.Min(_blockRows, n - first);
                    DenseKernels.DecodeRows<TCodec>(rows + first * rowBytes, rowBytes, count, _dims, decoded);
                    byte* next = rows + (first + count) * rowBytes;
                    nint nextBytes = Math.Min((nint)(end - next), (nint)_blockRows * rowBytes);
                    Block(decoded, first, count, TCodec.Scaled ? _seg._scales + first : null, next, nextBytes);
                }
            }
            finally
            {
                NativeMemory.AlignedFree(decoded);
            }
        }

        /// <summary>Scores <paramref name="count"/> float rows (doc ids from <paramref name="first"/>) against every query group.</summary>
        private void Block(float* rows, int first, int count, float* scales, byte* prefetch, nint prefetchBytes)
        {
            int dims = _dims;
            nint n8 = _n8;
            int pairs = (count + 1) >> 1;
            int tiles = pairs * _groups;
            nint perTile = Math.Max(1, (prefetchBytes / 64 + tiles - 1) / tiles) * 64;
            byte* pf = prefetch, pfEnd = prefetch + prefetchBytes;
            for (int g = 0; g < _groups; g++)
            {
                float* group = _interleaved + (long)g * DenseKernels.TileQueries * n8;
                float* thr = _thresholds + g * DenseKernels.TileQueries;
                var tA = Vector128.Load(thr);
                var tB = Vector128.Create(thr[4], thr[5], thr[4], thr[5]);
                for (int p = 0; p < count; p += 2)
                {
                    float* r0 = rows + (nint)p * dims;
                    bool two = p + 1 < count;
                    float* r1 = two ? r0 + dims : _zeroRow;
                    DenseKernels.Tile2x6(r0, r1, group, n8, out var a, out var b, out var c);
                    if (n8 != dims) AddTails(r0, r1, g, ref a, ref b, ref c);
                    if (scales is not null)
                    {
                        float s0 = scales[p], s1 = two ? scales[p + 1] : 0f;
                        a *= Vector128.Create(s0);
                        b *= Vector128.Create(s1);
                        c *= Vector128.Create(s0, s0, s1, s1);
                    }
                    uint ma = Vector128.GreaterThan(a, tA).ExtractMostSignificantBits();
                    uint mb = two ? Vector128.GreaterThan(b, tA).ExtractMostSignificantBits() : 0u;
                    uint mc = Vector128.GreaterThan(c, tB).ExtractMostSignificantBits() & (two ? 0xFu : 0x3u);
                    if ((ma | mb | mc) != 0)
                    {
                        int doc = first + p;
                        int q0 = g * DenseKernels.TileQueries;
                        Offer(ma, a, doc, q0, 0);
                        Offer(mb, b, doc + 1, q0, 0);
                        OfferMixed(mc, c, doc, q0);
                        tA = Vector128.Load(thr);
                        tB = Vector128.Create(thr[4], thr[5], thr[4], thr[5]);
                    }
                    for (nint t = 0; t < perTile && pf < pfEnd; t += 64, pf += 64) Sse.Prefetch0(pf);
                }
            }
        }

        private void Offer(uint mask, Vector128<float> scores, int doc, int q0, int lane0)
        {
            while (mask != 0)
            {
                int lane = System.Numerics.BitOperations.TrailingZeroCount(mask);
                mask &= mask - 1;
                int q = q0 + lane0 + lane;
                float score = scores.GetElement(lane);
                if (score > _thresholds[q])
                {
                    _heaps[q].TryAdd(doc, score);
                    _thresholds[q] = _heaps[q].Threshold;
                }
            }
        }

        private void OfferMixed(uint mask, Vector128<float> scores, int doc, int q0)
        {
            // Lanes: (row 0, q4), (row 0, q5), (row 1, q4), (row 1, q5).
            while (mask != 0)
            {
                int lane = System.Numerics.BitOperations.TrailingZeroCount(mask);
                mask &= mask - 1;
                int q = q0 + 4 + (lane & 1);
                int d = doc + (lane >> 1);
                float score = scores.GetElement(lane);
                if (score > _thresholds[q])
                {
                    _heaps[q].TryAdd(d, score);
                    _thresholds[q] = _heaps[q].Threshold;
                }
            }
        }

        /// <summary>Adds the trailing dims % 8 dimensions, in canonical order, to the 12 sums of a tile.</summary>
        private void AddTails(float* r0, float* r1, int g, ref Vector128<float> a, ref Vector128<float> b, ref Vector128<float> c)
        {
            Span<float> sa = stackalloc float[4], sb = stackalloc float[4], sc = stackalloc float[4];
            a.CopyTo(sa);
            b.CopyTo(sb);
            c.CopyTo(sc);
            int q0 = g * DenseKernels.TileQueries;
            for (int j = 0; j < DenseKernels.TileQueries; j++)
            {
                int qi = q0 + j;
                if (qi >= _m) break;
                var q = _queries.AsSpan(qi * _dims, _dims);
                for (int i = _n8; i < _dims; i++)
                {
                    if (j < 4)
                    {
                        sa[j] = MathF.FusedMultiplyAdd(r0[i], q[i], sa[j]);
                        sb[j] = MathF.FusedMultiplyAdd(r1[i], q[i], sb[j]);
                    }
                    else
                    {
                        sc[j - 4] = MathF.FusedMultiplyAdd(r0[i], q[i], sc[j - 4]);
                        sc[j - 2] = MathF.FusedMultiplyAdd(r1[i], q[i], sc[j - 2]);
                    }
                }
            }
            a = Vector128.Create(sa);
            b = Vector128.Create(sb);
            c = Vector128.Create(sc);
        }

        public void Dispose()
        {
            NativeMemory.AlignedFree(_interleaved);
            NativeMemory.AlignedFree(_thresholds);
            NativeMemory.AlignedFree(_zeroRow);
        }
    }
}
