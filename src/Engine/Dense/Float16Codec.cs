using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Shoal.Engine.Dense;

/// <summary>
/// Rows of IEEE binary16. The writer never stores subnormals, infinities or NaN, so a half is
/// widened exactly by moving its sign, exponent and mantissa into float32 position and scaling by
/// 2^112 (the exponent bias difference): sign-extend to 32 bits, shift left 13, clear bits 28..30.
/// </summary>
internal readonly unsafe struct Float16Codec : IRowCodec
{
    private const int BitMask = unchecked((int)0x8FFFFFFF);
    private const float Scale = 5.192296858534828e33f; // 2^112

    public static int ElementSize => 2;

    public static bool Scaled => false;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load8(byte* row, nint i)
    {
        var w = Avx2.ConvertToVector256Int32((short*)row + i);
        var bits = Avx2.And(Avx2.ShiftLeftLogical(w, 13), Vector256.Create(BitMask));
        return Avx.Multiply(bits.AsSingle(), Vector256.Create(Scale));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Load1(byte* row, nint i) => (float)((Half*)row)[i];
}
