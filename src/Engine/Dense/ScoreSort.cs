using System.Runtime.CompilerServices;

namespace Shoal.Engine.Dense;

/// <summary>Allocation-free sorting of (score, doc) pairs into Shoal's ranking order: score descending, then doc ascending.</summary>
internal static class ScoreSort
{
    /// <summary>
    /// Sorts <paramref name="scores"/> and <paramref name="docs"/> together; <paramref name="keys"/> is
    /// scratch of at least the same length. Each pair becomes one 64-bit key whose ascending order is the
    /// ranking order (an order-preserving map of the float, inverted, above the doc id).
    /// </summary>
    public static void Descending(Span<float> scores, Span<int> docs, Span<ulong> keys)
    {
        int n = scores.Length;
        keys = keys[..n];
        for (int i = 0; i < n; i++) keys[i] = ((ulong)~Ordered(scores[i]) << 32) | (uint)docs[i];
        keys.Sort();
        for (int i = 0; i < n; i++)
        {
            docs[i] = (int)(uint)keys[i];
            scores[i] = FromOrdered(~(uint)(keys[i] >> 32));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Ordered(float f)
    {
        uint b = BitConverter.SingleToUInt32Bits(f + 0f); // -0 becomes +0
        return (b & 0x80000000u) != 0 ? ~b : b | 0x80000000u;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float FromOrdered(uint o) =>
        BitConverter.UInt32BitsToSingle((o & 0x80000000u) != 0 ? o & 0x7FFFFFFFu : ~o);
}
