using System.Runtime.Intrinsics;

namespace Shoal.Engine.Dense;

/// <summary>
/// Reads elements of a stored vector row as float32. Implemented by structs so that generic kernels
/// are specialised (and the loads inlined) per storage type by the JIT.
/// </summary>
internal unsafe interface IRowCodec
{
    /// <summary>Bytes per stored element.</summary>
    static abstract int ElementSize { get; }

    /// <summary>True when a row carries a float32 scale that multiplies its raw dot product (int8).</summary>
    static abstract bool Scaled { get; }

    /// <summary>Elements <c>i .. i+7</c> of <paramref name="row"/> as floats (AVX2 only).</summary>
    static abstract Vector256<float> Load8(byte* row, nint i);

    /// <summary>Element <paramref name="i"/> of <paramref name="row"/> as a float.</summary>
    static abstract float Load1(byte* row, nint i);
}
