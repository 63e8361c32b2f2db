namespace Shoal.Engine.Text;

/// <summary>
/// Lucene's one-byte document-length encoding (SmallFloat "int4" with 24 exact small values):
/// lengths below 24 are kept exactly; larger ones keep their top four significant bits.
/// BM25 scores from Lucene and Anserini are computed on the decoded (rounded) length, so
/// Shoal reproduces their rankings only if it rounds the same way.
/// </summary>
public static class LuceneLengthEncoding
{
    // The int4 code of int.MaxValue is 231, which leaves 24 byte values for exact small lengths.
    private const int ExactValues = 24;
    private static readonly int[] DecodeTable = BuildTable();

    /// <summary>Encodes a non-negative length into one byte.</summary>
    public static byte Encode(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        return length < ExactValues ? (byte)length : (byte)(ExactValues + EncodeInt4(length - ExactValues));
    }

    /// <summary>Decodes a byte back to the (rounded-down) length it stands for.</summary>
    public static int Decode(byte code) => DecodeTable[code];

    // Keeps the 4 most significant bits; the leading 1 is implicit and the shift is stored above it.
    private static int EncodeInt4(long value)
    {
        int bits = 64 - System.Numerics.BitOperations.LeadingZeroCount((ulong)value);
        if (bits < 4) return (int)value;
        int shift = bits - 4;
        int mantissa = (int)(value >> shift) & 0x07;
        return mantissa | ((shift + 1) << 3);
    }

    private static long DecodeInt4(int code)
    {
        long mantissa = code & 0x07;
        int shift = (code >> 3) - 1;
        return shift == -1 ? mantissa : (mantissa | 0x08) << shift;
    }

    private static int[] BuildTable()
    {
        var table = new int[256];
        for (int i = 0; i < 256; i++)
            table[i] = i < ExactValues ? i : (int)Math.Min(int.MaxValue, ExactValues + DecodeInt4(i - ExactValues));
        return table;
    }
}
