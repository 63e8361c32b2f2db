using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Shoal.Engine.Dense;

/// <summary>
/// Dot-product kernels of the dense channel. Every kernel computes a score in one canonical order,
/// so that the single-query scan, the batched scan and the HNSW search give bit-identical scores
/// for the same (query, document) pair:
/// <list type="number">
/// <item>eight lanes: lane <c>l</c> accumulates <c>x[8s+l] * q[8s+l]</c> over steps <c>s</c> with a fused multiply-add, starting at 0;</item>
/// <item>the lanes are summed as <c>((l0+l1)+(l2+l3)) + ((l4+l5)+(l6+l7))</c>;</item>
/// <item>the <c>dims % 8</c> trailing dimensions are added one by one with a fused multiply-add;</item>
/// <item>for int8 rows the result is multiplied by the row's scale.</item>
/// </list>
/// With AVX2 and FMA the kernels use 256-bit vectors; otherwise a scalar path follows the same
/// order (slower, same results).
/// </summary>
internal static unsafe class DenseKernels
{
    /// <summary>True when the AVX2 + FMA kernels run.</summary>
    public static readonly bool Simd = Avx2.IsSupported && Fma.IsSupported;

    // ---- lane reductions (canonical order) --------------------------------------------------

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Reduce1(Vector256<float> v)
    {
        var h = Avx.HorizontalAdd(v, v);  // [v0+v1, v2+v3, .., .. | v4+v5, v6+v7, .., ..]
        h = Avx.HorizontalAdd(h, h);      // [(v0+v1)+(v2+v3) .. | (v4+v5)+(v6+v7) ..]
        return Sse.AddScalar(h.GetLower(), h.GetUpper()).ToScalar();
    }

    /// <summary>Four accumulators to four canonical sums.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Reduce4(Vector256<float> a, Vector256<float> b, Vector256<float> c, Vector256<float> d)
    {
        var u = Avx.HorizontalAdd(Avx.HorizontalAdd(a, b), Avx.HorizontalAdd(c, d));
        return Sse.Add(u.GetLower(), u.GetUpper());
    }

    // ---- one row ----------------------------------------------------------------------------

    /// <summary>Canonical raw dot product of one stored row with <paramref name="q"/> (int8: before the scale).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Dot1<TCodec>(byte* row, float* q, int dims) where TCodec : struct, IRowCodec
    {
        if (!Simd) return Dot1Scalar<TCodec>(row, q, dims);
        nint n8 = dims & ~7;
        var acc = Vector256<float>.Zero;
        for (nint i = 0; i < n8; i += 8) acc = Fma.MultiplyAdd(TCodec.Load8(row, i), Avx.LoadVector256(q + i), acc);
        float s = Reduce1(acc);
        for (nint i = n8; i < dims; i++) s = MathF.FusedMultiplyAdd(TCodec.Load1(row, i), q[i], s);
        return s;
    }

    /// <summary>The scalar path of <see cref="Dot1{TCodec}"/>: same operations, same order.</summary>
    public static float Dot1Scalar<TCodec>(byte* row, float* q, int dims) where TCodec : struct, IRowCodec
    {
        float l0 = 0, l1 = 0, l2 = 0, l3 = 0, l4 = 0, l5 = 0, l6 = 0, l7 = 0;
        nint n8 = dims & ~7;
        for (nint i = 0; i < n8; i += 8)
        {
            l0 = MathF.FusedMultiplyAdd(TCodec.Load1(row, i), q[i], l0);
            l1 = MathF.FusedMultiplyAdd(TCodec.Load1(row, i + 1), q[i + 1], l1);
            l2 = MathF.FusedMultiplyAdd(TCodec.Load1(row, i + 2), q[i + 2], l2);
            l3 = MathF.FusedMultiplyAdd(TCodec.Load1(row, i + 3), q[i + 3], l3);
            l4 = MathF.FusedMultiplyAdd(TCodec.Load1(row, i + 4), q[i + 4], l4);
            l5 = MathF.FusedMultiplyAdd(TCodec.Load1(row, i + 5), q[i + 5], l5);
            l6 = MathF.FusedMultiplyAdd(TCodec.Load1(row, i + 6), q[i + 6], l6);
            l7 = MathF.FusedMultiplyAdd(TCodec.Load1(row, i + 7), q[i + 7], l7);
        }
        float s = ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7));
        for (nint i = n8; i < dims; i++) s = MathF.FusedMultiplyAdd(TCodec.Load1(row, i), q[i], s);
        return s;
    }

    // ---- four arbitrary rows (HNSW neighbours) ----------------------------------------------

    /// <summary>Canonical raw dot products of four rows with <paramref name="q"/>, computed together for ILP (graph searches).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Dot4<TCodec>(byte* r0, byte* r1, byte* r2, byte* r3, float* q, int dims)
        where TCodec : struct, IRowCodec
    {
        if (!Simd)
            return Vector128.Create(Dot1Scalar<TCodec>(r0, q, dims), Dot1Scalar<TCodec>(r1, q, dims),
                Dot1Scalar<TCodec>(r2, q, dims), Dot1Scalar<TCodec>(r3, q, dims));
        nint n8 = dims & ~7;
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        for (nint i = 0; i < n8; i += 8)
        {
            var qv = Avx.LoadVector256(q + i);
            a0 = Fma.MultiplyAdd(TCodec.Load8(r0, i), qv, a0);
            a1 = Fma.MultiplyAdd(TCodec.Load8(r1, i), qv, a1);
            a2 = Fma.MultiplyAdd(TCodec.Load8(r2, i), qv, a2);
            a3 = Fma.MultiplyAdd(TCodec.Load8(r3, i), qv, a3);
        }
        var s = Reduce4(a0, a1, a2, a3);
        if (n8 != dims) s = Tail4<TCodec>(s, r0, r1, r2, r3, q, n8, dims);
        return s;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static Vector128<float> Tail4<TCodec>(Vector128<float> s, byte* r0, byte* r1, byte* r2, byte* r3, float* q, nint from, int dims)
        where TCodec : struct, IRowCodec
    {
        float s0 = s.GetElement(0), s1 = s.GetElement(1), s2 = s.GetElement(2), s3 = s.GetElement(3);
        for (nint i = from; i < dims; i++)
        {
            s0 = MathF.FusedMultiplyAdd(TCodec.Load1(r0, i), q[i], s0);
            s1 = MathF.FusedMultiplyAdd(TCodec.Load1(r1, i), q[i], s1);
            s2 = MathF.FusedMultiplyAdd(TCodec.Load1(r2, i), q[i], s2);
            s3 = MathF.FusedMultiplyAdd(TCodec.Load1(r3, i), q[i], s3);
        }
        return Vector128.Create(s0, s1, s2, s3);
    }

    // ---- batched: two float32 rows x six queries --------------------------------------------

    /// <summary>
    /// Number of queries per register tile of <see cref="Tile2x6"/>.
    /// </summary>
    public const int TileQueries = 6;

    /// <summary>
    /// Lays out queries for <see cref="Tile2x6"/>: group <c>g</c> holds queries <c>6g .. 6g+5</c>
    /// interleaved per 8-dimension step, <c>[step][query][8 floats]</c>; missing queries are zero.
    /// Only the first <c>dims &amp; ~7</c> dimensions are laid out (the tail is added separately).
    /// </summary>
    public static void InterleaveQueries(ReadOnlySpan<float> queries, int count, int dims, float* dst)
    {
        int n8 = dims & ~7;
        int groups = (count + TileQueries - 1) / TileQueries;
        long groupFloats = (long)n8 * TileQueries;
        new Span<float>(dst, checked((int)(groups * groupFloats))).Clear();
        for (int qi = 0; qi < count; qi++)
        {
            float* g = dst + (qi / TileQueries) * groupFloats + (qi % TileQueries) * 8;
            var src = queries.Slice(qi * dims, dims);
            for (int s = 0; s < n8; s += 8)
                src.Slice(s, 8).CopyTo(new Span<float>(g + (long)s * TileQueries, 8));
        }
    }

    /// <summary>
    /// Register-blocked micro-kernel: canonical raw dot products of two float32 rows with the six
    /// queries of one interleaved group (12 FMA chains, 15 of the 16 ymm registers). Results:
    /// <paramref name="d0"/> = row 0 x queries 0..3, <paramref name="d1"/> = row 1 x queries 0..3,
    /// <paramref name="mixed"/> = (row 0 x q4, row 0 x q5, row 1 x q4, row 1 x q5). Only the
    /// first <paramref name="n8"/> dimensions (a multiple of 8) are covered.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Tile2x6(float* r0, float* r1, float* group, nint n8,
        out Vector128<float> d0, out Vector128<float> d1, out Vector128<float> mixed)
    {
        Vector256<float> a00 = default, a01 = default, a02 = default, a03 = default, a04 = default, a05 = default;
        Vector256<float> a10 = default, a11 = default, a12 = default, a13 = default, a14 = default, a15 = default;
        float* g = group;
        for (nint i = 0; i < n8; i += 8, g += 8 * TileQueries)
        {
            var x0 = Avx.LoadVector256(r0 + i);
            var x1 = Avx.LoadVector256(r1 + i);
            var q = Avx.LoadVector256(g);
            a00 = Fma.MultiplyAdd(x0, q, a00);
            a10 = Fma.MultiplyAdd(x1, q, a10);
            q = Avx.LoadVector256(g + 8);
            a01 = Fma.MultiplyAdd(x0, q, a01);
            a11 = Fma.MultiplyAdd(x1, q, a11);
            q = Avx.LoadVector256(g + 16);
            a02 = Fma.MultiplyAdd(x0, q, a02);
            a12 = Fma.MultiplyAdd(x1, q, a12);
            q = Avx.LoadVector256(g + 24);
            a03 = Fma.MultiplyAdd(x0, q, a03);
            a13 = Fma.MultiplyAdd(x1, q, a13);
            q = Avx.LoadVector256(g + 32);
            a04 = Fma.MultiplyAdd(x0, q, a04);
            a14 = Fma.MultiplyAdd(x1, q, a14);
            q = Avx.LoadVector256(g + 40);
            a05 = Fma.MultiplyAdd(x0, q, a05);
            a15 = Fma.MultiplyAdd(x1, q, a15);
        }
        d0 = Reduce4(a00, a01, a02, a03);
        d1 = Reduce4(a10, a11, a12, a13);
        mixed = Reduce4(a04, a05, a14, a15);
    }

    // ---- conversions ------------------------------------------------------------------------

    /// <summary>Decodes <paramref name="rows"/> stored rows to float32 (int8: the raw codes, unscaled).</summary>
    public static void DecodeRows<TCodec>(byte* src, nint rowBytes, int rows, int dims, float* dst)
        where TCodec : struct, IRowCodec
    {
        nint n8 = Simd ? dims & ~7 : 0;
        for (int r = 0; r < rows; r++)
        {
            byte* row = src + r * rowBytes;
            float* d = dst + (nint)r * dims;
            nint i = 0;
            for (; i < n8; i += 8) Avx.Store(d + i, TCodec.Load8(row, i));
            for (; i < dims; i++) d[i] = TCodec.Load1(row, i);
        }
    }

    /// <summary>
    /// L2-normalises <paramref name="v"/> in place (norm accumulated in double). A zero vector stays zero.
    /// </summary>
    public static void Normalize(Span<float> v)
    {
        double sum = 0;
        foreach (float x in v) sum += (double)x * x;
        if (sum == 0) return;
        double inv = 1.0 / Math.Sqrt(sum);
        for (int i = 0; i < v.Length; i++) v[i] = (float)(v[i] * inv);
    }

    /// <summary>
    /// Symmetric per-vector int8 quantisation: <c>scale = max|x| / 127</c>, <c>code = round(x / scale)</c>
    /// clamped to [-127, 127] (all zero for a zero vector). Returns the scale; <c>scale * code</c> is within
    /// <c>scale / 2</c> of each component.
    /// </summary>
    public static float QuantizeInt8(ReadOnlySpan<float> row, sbyte* dst)
    {
        float max = 0;
        foreach (float x in row) max = Math.Max(max, Math.Abs(x));
        if (max == 0)
        {
            for (int j = 0; j < row.Length; j++) dst[j] = 0;
            return 0;
        }
        float inv = 127f / max;
        for (int j = 0; j < row.Length; j++) dst[j] = (sbyte)Math.Clamp((int)MathF.Round(row[j] * inv), -127, 127);
        return max / 127f;
    }

    /// <summary>True when every element is finite; otherwise the index of the first that is not.</summary>
    public static bool AllFinite(ReadOnlySpan<float> v, out int bad)
    {
        for (int i = 0; i < v.Length; i++)
        {
            if (!float.IsFinite(v[i]))
            {
                bad = i;
                return false;
            }
        }
        bad = -1;
        return true;
    }
}
