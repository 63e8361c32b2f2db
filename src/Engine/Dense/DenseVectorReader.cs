using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using Shoal.Engine.Indexing;
using Shoal.Engine.Ingest;

namespace Shoal.Engine.Dense;

/// <summary>
/// Reads dense vectors with their ids from a file in one of two formats, detected from the content
/// (never the name), either of them optionally gzip-compressed (detected by the magic bytes <c>1f 8b</c>):
/// <list type="bullet">
/// <item><b>JSON lines</b>: one object per line with an id under <c>"id"</c>, <c>"docid"</c>, <c>"_id"</c>
/// or <c>"qid"</c> (a string or a number; the first one present is used) and <c>"vector"</c>, an array of
/// numbers. Other fields (e.g. Anserini's <c>"contents"</c>) are ignored; blank lines are skipped;
/// content after the object is an error. The line rules are <see cref="CorpusLineParser.TryParseDense"/>'s,
/// the ones indexing jobs apply: a line either path rejects, the other rejects with the same reason.</item>
/// <item><b>SHOALVEC binary</b> (<see cref="DenseVectorFile"/>).</item>
/// </list>
/// Every vector must have the expected number of dimensions (or, when none is given, the number of
/// the first vector) and only finite components; a value outside the float32 range counts as infinite.
/// Any violation throws <see cref="DenseVectorException"/> naming the file and the 1-based line
/// (jsonl) or record (binary). Reading is lazy and streaming: one vector is materialised at a time.
/// </summary>
public static class DenseVectorReader
{
    /// <summary>
    /// Enumerates (id, vector) pairs of <paramref name="path"/>. The file's existence is checked
    /// immediately; format errors surface during enumeration.
    /// </summary>
    /// <param name="path">A jsonl or SHOALVEC file, optionally gzip-compressed.</param>
    /// <param name="expectedDims">Required dimension; <see langword="null"/> takes it from the first vector.</param>
    public static IEnumerable<(string Id, float[] Vector)> Read(string path, int? expectedDims)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (expectedDims is < 1) throw new ArgumentOutOfRangeException(nameof(expectedDims), expectedDims, "Dimensions must be positive.");
        if (!File.Exists(path)) throw new FileNotFoundException($"Vector file not found: '{path}'.", path);
        return IsBinaryContent(path, out bool compressed) ? ReadBinary(path, expectedDims, compressed) : ReadJsonLines(path, expectedDims);
    }

    private static bool IsBinaryContent(string path, out bool compressed)
    {
        using (var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 16))
        {
            Span<byte> two = stackalloc byte[2];
            compressed = f.ReadAtLeast(two, 2, throwOnEndOfStream: false) == 2 && two[0] == 0x1f && two[1] == 0x8b;
        }
        using var s = InputStreams.Open(path);
        Span<byte> magic = stackalloc byte[8];
        try
        {
            return s.ReadAtLeast(magic, 8, throwOnEndOfStream: false) == 8 && BinaryPrimitives.ReadUInt64LittleEndian(magic) == DenseVectorFile.Magic;
        }
        catch (InvalidDataException e)
        {
            throw new DenseVectorException(path, 0, $"corrupt gzip data: {e.Message}", e);
        }
    }

    // ---- JSON lines ---------------------------------------------------------------------------

    private static IEnumerable<(string, float[])> ReadJsonLines(string path, int? expectedDims)
    {
        using var lines = new Utf8LineReader(InputStreams.Open(path));
        int dims = expectedDims ?? 0;
        while (NextJson(lines, path, ref dims, out string id, out float[] vector))
            yield return (id, vector);
    }

    /// <summary>
    /// The next non-blank line as a vector, by <see cref="CorpusLineParser.TryParseDense"/> (the rules
    /// indexing jobs apply too); the first vector fixes <paramref name="dims"/> when it is 0.
    /// </summary>
    private static bool NextJson(Utf8LineReader lines, string path, ref int dims, out string id, out float[] vector)
    {
        while (true)
        {
            ReadOnlySpan<byte> line;
            try
            {
                if (!lines.TryReadLine(out line))
                {
                    id = "";
                    vector = [];
                    return false;
                }
            }
            catch (InvalidDataException e)
            {
                throw new DenseVectorException(path, lines.LineNumber + 1, e.Message, e);
            }
            if (CorpusLineParser.IsBlank(line)) continue;
            (id, vector) = CorpusLineParser.TryParseDense(line, dims, out string? reason)
                ?? throw new DenseVectorException(path, lines.LineNumber, reason!);
            if (dims == 0) dims = vector.Length;
            return true;
        }
    }

    // ---- SHOALVEC binary ------------------------------------------------------------------------

    private static IEnumerable<(string, float[])> ReadBinary(string path, int? expectedDims, bool compressed)
    {
        using var stream = InputStreams.Open(path);
        var header = new byte[DenseVectorFile.HeaderSize];
        ReadExactly(stream, header, path, 0);
        var h = DenseVectorFile.ParseHeader(path, header, compressed ? -1 : new FileInfo(path).Length);
        if (expectedDims is int want && want != h.Dims)
            throw new DenseVectorException(path, 0, $"vectors have {h.Dims} dimensions, expected {want}");
        // A compressed file's size does not bound the header's lengths, so the id block and the padding
        // are read in bounded steps: a damaged header fails at the end of the data, not in an allocation.
        if (h.IdsLength > Array.MaxLength || h.IdsLength < 5L * h.Count)
            throw new DenseVectorException(path, 0, $"the ids block of {h.IdsLength} bytes cannot hold {h.Count} ids");
        var idBlock = ReadBlock(stream, h.IdsLength, path);
        Skip(stream, h.RowsOffset - h.IdsOffset - h.IdsLength, path);
        int pos = 0;
        for (long r = 0; r < h.Count; r++)
        {
            string id = ReadId(idBlock, ref pos, path, r + 1);
            var vector = new float[h.Dims];
            ReadExactly(stream, MemoryMarshal.AsBytes(vector.AsSpan()), path, r + 1);
            if (!DenseKernels.AllFinite(vector, out int bad))
                throw new DenseVectorException(path, r + 1, $"component {bad} is NaN or infinite", unit: "record");
            yield return (id, vector);
        }
        if (stream.ReadByte() >= 0) throw new DenseVectorException(path, 0, "data continues after the last row described by the header");
    }

    private const int StepBytes = 1 << 20;

    private static byte[] ReadBlock(Stream stream, long length, string path)
    {
        if (length <= StepBytes)
        {
            var small = new byte[length];
            ReadExactly(stream, small, path, 1);
            return small;
        }
        using var block = new MemoryStream();
        var step = new byte[StepBytes];
        for (long left = length; left > 0; left -= StepBytes)
        {
            int n = (int)Math.Min(StepBytes, left);
            ReadExactly(stream, step.AsSpan(0, n), path, 1);
            block.Write(step, 0, n);
        }
        return block.ToArray();
    }

    private static void Skip(Stream stream, long length, string path)
    {
        var step = new byte[(int)Math.Min(StepBytes, Math.Max(1, length))];
        for (long left = length; left > 0; left -= step.Length)
            ReadExactly(stream, step.AsSpan(0, (int)Math.Min(step.Length, left)), path, 1);
    }

    private static readonly UTF8Encoding StrictUtf8 = new(false, throwOnInvalidBytes: true);

    private static string ReadId(byte[] block, ref int pos, string path, long record)
    {
        if (pos + 4 > block.Length) throw new DenseVectorException(path, record, "ids block ends early", unit: "record");
        int len = (int)BinaryPrimitives.ReadUInt32LittleEndian(block.AsSpan(pos));
        pos += 4;
        if (len <= 0 || len > block.Length - pos) throw new DenseVectorException(path, record, $"id length {len} is invalid", unit: "record");
        string id;
        try
        {
            id = StrictUtf8.GetString(block, pos, len);
        }
        catch (DecoderFallbackException)
        {
            throw new DenseVectorException(path, record, "id is not valid UTF-8", unit: "record");
        }
        pos += len;
        return id;
    }

    private static void ReadExactly(Stream stream, Span<byte> buffer, string path, long record)
    {
        try
        {
            if (stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false) != buffer.Length)
                throw new DenseVectorException(path, record, "file ends early (truncated)", unit: "record");
        }
        catch (InvalidDataException e)
        {
            throw new DenseVectorException(path, record, $"corrupt gzip data: {e.Message}", e, unit: "record");
        }
    }
}
