using System.Runtime.InteropServices;

namespace Shoal.Engine.Sparse;

/// <summary>
/// The postings of one term inside one doc-id range of 2^16 documents (16 bytes): where its encoded
/// block starts in <see cref="SparseSections.PostingData"/>, how many postings, which range, their
/// largest level (the block-max bound used to skip work) and the encoding.
/// </summary>
/// <remarks>
/// Encodings (<c>n</c> = documents in the range, <c>c</c> = postings; the block starts 8-byte aligned):
/// <list type="bullet">
/// <item><description><see cref="Sparse"/>: u16 doc offsets within the range [c], ascending, then u8 levels [c] (3 bytes a posting);</description></item>
/// <item><description><see cref="Bitmap"/>: u64 words [ceil(n / 64)], bit d set when doc d has the term, then u8 levels [c] in doc order;</description></item>
/// <item><description><see cref="Dense"/>: u8 levels [n], 0 where the doc lacks the term.</description></item>
/// </list>
/// The writer picks, per entry, dense when at least half the range has the term, bitmap when at
/// least 1/16 has, sparse otherwise (bitmap and dense are also the smaller encodings there).
/// </remarks>
[StructLayout(LayoutKind.Sequential, Pack = 8)]
internal struct SparseRangeEntry
{
    public const byte Sparse = 0;
    public const byte Bitmap = 1;
    public const byte Dense = 2;

    public long Offset;
    public int Count;
    public ushort Range;
    public byte MaxLevel;
    public byte Kind;

    /// <summary>Encoded size in bytes for <paramref name="kind"/> with <paramref name="count"/> postings in a range of <paramref name="docsInRange"/> docs.</summary>
    public static long Bytes(byte kind, int count, int docsInRange) => kind switch
    {
        Sparse => 3L * count,
        Bitmap => 8L * ((docsInRange + 63) / 64) + count,
        _ => docsInRange,
    };

    /// <summary>The encoding the writer chooses.</summary>
    public static byte Choose(int count, int docsInRange) =>
        2L * count >= docsInRange ? Dense : 16L * count >= docsInRange ? Bitmap : Sparse;
}
