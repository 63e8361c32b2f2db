using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Shoal.Engine.Dense;

/// <summary>Rows of signed 8-bit codes; the row's scale is applied to the dot product afterwards.</summary>
internal readonly unsafe struct Int8Codec : IRowCodec
{
    public static int ElementSize => 1;

    public static bool Scaled => true;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load8(byte* row, nint i) =>
        Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32((sbyte*)row + i));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Load1(byte* row, nint i) => ((sbyte*)row)[i];
}
