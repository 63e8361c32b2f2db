using System.Numerics;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Shoal.Engine.Sparse;

/// <summary>
/// Accumulation kernels of exact sparse search over the dense and bitmap encodings of
/// <see cref="SparseRangeEntry"/>: <c>acc[doc] += q * level</c> in float. AVX2/FMA where available,
/// scalar otherwise; the results feed only a tolerance-guarded candidate filter, final scores are
/// always recomputed canonically.
/// </summary>
internal static unsafe class SparseKernels
{
    /// <summary>True when the AVX2 + FMA + SSSE3 paths run.</summary>
    public static readonly bool IsAccelerated = Avx2.IsSupported && Fma.IsSupported && Ssse3.IsSupported;

    // For each byte m of a bitmap: the pshufb control that spreads the next popcount(m) compacted
    // levels to the set positions of m and zeroes the others.
    private static readonly byte* ExpandMasks = BuildExpandMasks();

    private static byte* BuildExpandMasks()
    {
        var table = (byte*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc(256 * 16, 64);
        for (int m = 0; m < 256; m++)
        {
            int next = 0;
            for (int i = 0; i < 16; i++)
                table[m * 16 + i] = i < 8 && (m & (1 << i)) != 0 ? (byte)next++ : (byte)0x80;
        }
        return table;
    }

    /// <summary>acc[i] += q * levels[i] for i in [0, n).</summary>
    public static void AccumulateDense(float* acc, byte* levels, int n, float q)
    {
        int i = 0;
        if (Avx2.IsSupported && Fma.IsSupported)
        {
            var vq = Vector256.Create(q);
            for (; i + 16 <= n; i += 16)
            {
                var f0 = Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(levels + i));
                var f1 = Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(levels + i + 8));
                Avx.Store(acc + i, Fma.MultiplyAdd(f0, vq, Avx.LoadVector256(acc + i)));
                Avx.Store(acc + i + 8, Fma.MultiplyAdd(f1, vq, Avx.LoadVector256(acc + i + 8)));
            }
        }
        for (; i < n; i++) acc[i] += q * levels[i];
    }

    /// <summary>
    /// Bitmap entry, 8 docs at a time: the compacted levels are expanded with a byte shuffle and added
    /// as a vector. Reads up to 8 bytes past the levels (the posting data is padded).
    /// </summary>
    public static void AccumulateBitmapExpand(float* acc, ulong* words, int wordCount, byte* levels, float q)
    {
        var vq = Vector256.Create(q);
        byte* bits = (byte*)words;
        int bytes = wordCount * 8;
        byte* masks = ExpandMasks;
        for (int b = 0; b < bytes; b++)
        {
            int m = bits[b];
            var packed = Vector128.CreateScalarUnsafe(*(ulong*)levels).AsByte();
            var spread = Ssse3.Shuffle(packed, Sse2.LoadVector128(masks + m * 16));
            var f = Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(spread));
            float* a = acc + b * 8;
            Avx.Store(a, Fma.MultiplyAdd(f, vq, Avx.LoadVector256(a)));
            levels += BitOperations.PopCount((uint)m);
        }
    }

    /// <summary>Bitmap entry, one set bit at a time (for sparser bitmaps): acc[doc] += table[level].</summary>
    public static void AccumulateBitmapBits(float* acc, ulong* words, int wordCount, byte* levels, float* table)
    {
        for (int w = 0; w < wordCount; w++)
        {
            ulong bits = words[w];
            float* a = acc + (w << 6);
            while (bits != 0)
            {
                a[BitOperations.TrailingZeroCount(bits)] += table[*levels++];
                bits &= bits - 1;
            }
        }
    }
}
