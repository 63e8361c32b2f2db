using System.Buffers.Binary;

namespace Shoal.Engine.Dense;

/// <summary>
/// Shoal's binary dense-vector file ("SHOALVEC", version 1): ids plus float32 rows, readable by
/// <see cref="Ingest.DenseVectorReader"/>, mappable with <see cref="MappedDenseVectors"/> and by numpy
/// (<c>np.memmap(path, '&lt;f4', 'r', offset=rows_offset, shape=(count, dims))</c>).
/// </summary>
/// <remarks>
/// Little-endian throughout:
/// <code>
/// [0..8)    magic "SHOALVEC" (ASCII)
/// [8..12)   u32 format version = 1
/// [12..16)  u32 dims
/// [16..24)  u64 count (rows)
/// [24..32)  u64 ids offset (= 64)
/// [32..40)  u64 ids length in bytes
/// [40..48)  u64 rows offset (a multiple of 64, at or after the end of the ids)
/// [48..64)  reserved, zero
/// ids       count records: u32 byte length, then that many bytes of UTF-8 (non-empty)
/// padding   zeros up to the rows offset
/// rows      count x dims float32, row-major; the file ends exactly after the last row
/// </code>
/// Every component must be finite. A gzip-compressed copy is also accepted by <see cref="Ingest.DenseVectorReader"/>.
/// </remarks>
public static class DenseVectorFile
{
    /// <summary>"SHOALVEC" read as a little-endian u64.</summary>
    public const ulong Magic = 0x4345564C414F4853UL;

    /// <summary>The format version written and read.</summary>
    public const uint Version = 1;

    /// <summary>Size of the fixed header.</summary>
    public const int HeaderSize = 64;

    /// <summary>Alignment of the rows.</summary>
    public const int RowAlignment = 64;

    /// <summary>Writes <paramref name="ids"/> and their row-major <paramref name="vectors"/> (count x dims) to <paramref name="path"/>.</summary>
    public static void Write(string path, IReadOnlyList<string> ids, ReadOnlySpan<float> vectors, int dims)
    {
        ArgumentNullException.ThrowIfNull(ids);
        if ((long)ids.Count * dims != vectors.Length)
            throw new ArgumentException($"{vectors.Length} floats given for {ids.Count} ids of {dims} dimensions.", nameof(vectors));
        using var writer = new DenseVectorFileWriter(path, ids, dims);
        writer.Append(vectors);
        writer.Complete();
    }

    /// <summary>True when <paramref name="path"/> starts with the (uncompressed) binary magic.</summary>
    public static bool IsBinary(string path)
    {
        using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1);
        Span<byte> magic = stackalloc byte[8];
        return f.ReadAtLeast(magic, 8, throwOnEndOfStream: false) == 8 && BinaryPrimitives.ReadUInt64LittleEndian(magic) == Magic;
    }

    /// <summary>The parsed fixed header.</summary>
    internal readonly record struct Header(int Dims, long Count, long IdsOffset, long IdsLength, long RowsOffset);

    /// <summary>Parses and checks a header; <paramref name="fileLength"/> (when known, else -1) must match exactly.</summary>
    internal static Header ParseHeader(string path, ReadOnlySpan<byte> h, long fileLength)
    {
        if (h.Length < HeaderSize) throw new DenseVectorException(path, 0, "file is shorter than the 64-byte header (truncated?)");
        if (BinaryPrimitives.ReadUInt64LittleEndian(h) != Magic) throw new DenseVectorException(path, 0, "bad magic (not a SHOALVEC file)");
        uint version = BinaryPrimitives.ReadUInt32LittleEndian(h[8..]);
        if (version != Version) throw new DenseVectorException(path, 0, $"format version {version} is not supported (this build reads {Version})");
        uint dims = BinaryPrimitives.ReadUInt32LittleEndian(h[12..]);
        ulong count = BinaryPrimitives.ReadUInt64LittleEndian(h[16..]);
        ulong idsOffset = BinaryPrimitives.ReadUInt64LittleEndian(h[24..]);
        ulong idsLength = BinaryPrimitives.ReadUInt64LittleEndian(h[32..]);
        ulong rowsOffset = BinaryPrimitives.ReadUInt64LittleEndian(h[40..]);
        if (dims < 1 || dims > 65536) throw new DenseVectorException(path, 0, $"header says {dims} dimensions (must be 1..65536)");
        if (count > int.MaxValue) throw new DenseVectorException(path, 0, $"header says {count} rows (more than {int.MaxValue})");
        if (idsOffset != HeaderSize || idsLength > long.MaxValue / 2 || rowsOffset < idsOffset + idsLength || rowsOffset % RowAlignment != 0)
            throw new DenseVectorException(path, 0, "header offsets are inconsistent");
        long expected = (long)rowsOffset + (long)count * dims * sizeof(float);
        if (fileLength >= 0 && fileLength != expected)
            throw new DenseVectorException(path, 0, $"file is {fileLength} bytes but the header describes {expected} (truncated or damaged)");
        return new Header((int)dims, (long)count, (long)idsOffset, (long)idsLength, (long)rowsOffset);
    }
}
