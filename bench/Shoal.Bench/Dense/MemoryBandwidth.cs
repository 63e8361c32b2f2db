using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Shoal.Bench.Dense;

/// <summary>
/// The machine's single-thread memory read bandwidth, measured in the same run: a SIMD sum (eight
/// 256-bit accumulators) over memory much larger than the caches, best of several passes — over a
/// freshly touched anonymous buffer and over page-cache memory (a mapped file), which on this kind of
/// VM reads faster; the benchmark compares against the larger of the two.
/// </summary>
internal static unsafe class MemoryBandwidth
{
    private static float s_sink;

    /// <summary>Best GB/s (1e9 bytes per second) over <paramref name="passes"/> sums of a <paramref name="bytes"/> buffer.</summary>
    public static double MeasureReadGbps(long bytes = 1L << 30, int passes = 6)
    {
        bytes &= ~255L;
        float* buffer = (float*)NativeMemory.AlignedAlloc((nuint)bytes, 4096);
        try
        {
            long floats = bytes / 4;
            for (long i = 0; i < floats; i += 1 << 20)
                new Span<float>(buffer + i, (int)Math.Min(1 << 20, floats - i)).Fill(1f);
            double best = 0;
            for (int p = 0; p < passes; p++)
            {
                long t0 = Stopwatch.GetTimestamp();
                s_sink += Sum(buffer, floats);
                double s = Stopwatch.GetElapsedTime(t0).TotalSeconds;
                best = Math.Max(best, bytes / s / 1e9);
            }
            return best;
        }
        finally
        {
            NativeMemory.AlignedFree(buffer);
        }
    }

    /// <summary>Best GB/s of SIMD sums over existing memory (e.g. a memory-mapped file already in the page cache).</summary>
    public static double MeasureReadGbps(ReadOnlySpan<float> data, int passes = 6)
    {
        long floats = data.Length & ~63L;
        double best = 0;
        fixed (float* p = data)
        {
            for (int i = 0; i < passes; i++)
            {
                long t0 = Stopwatch.GetTimestamp();
                s_sink += Sum(p, floats);
                best = Math.Max(best, floats * 4.0 / Stopwatch.GetElapsedTime(t0).TotalSeconds / 1e9);
            }
        }
        return best;
    }

    private static float Sum(float* p, long floats)
    {
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
        for (long i = 0; i < floats; i += 64)
        {
            a0 += Vector256.Load(p + i);
            a1 += Vector256.Load(p + i + 8);
            a2 += Vector256.Load(p + i + 16);
            a3 += Vector256.Load(p + i + 24);
            a4 += Vector256.Load(p + i + 32);
            a5 += Vector256.Load(p + i + 40);
            a6 += Vector256.Load(p + i + 48);
            a7 += Vector256.Load(p + i + 56);
        }
        return Vector256.Sum(((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)));
    }
}
