using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Shoal.Engine.Ingest;

namespace Shoal.Engine.Dense;

/// <summary>
/// Reads dense vectors with their ids from a file in one of two formats, detected from the content
/// (never the name), either of them optionally gzip-compressed (detected by the magic bytes <c>1f 8b</c>):
/// <list type="bullet">
/// <item><b>JSON lines</b>: one object per line with an id under <c>"id"</c>, <c>"docid"</c>, <c>"_id"</c>
/// or <c>"qid"</c> (a string or a number; the first one present is used) and <c>"vector"</c>, an array of
/// numbers. Other fields (e.g. Anserini's <c>"contents"</c>) are ignored; blank lines are skipped.</item>
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
        var buffer = new List<float>(1024);
        int dims = expectedDims ?? 0;
        while (NextJson(lines, path, buffer, ref dims, out string id, out float[] vector))
            yield return (id, vector);
    }

    private static bool NextJson(Utf8LineReader lines, string path, List<float> buffer, ref int dims, out string id, out float[] vector)
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
            if (line.Trim(" \t"u8).IsEmpty) continue;
            long lineNo = lines.LineNumber;
            (id, vector) = ParseJsonLine(path, lineNo, line, buffer);
            if (dims == 0) dims = vector.Length;
            else if (vector.Length != dims)
                throw new DenseVectorException(path, lineNo, $"vector has {vector.Length} dimensions, expected {dims}");
            return true;
        }
    }

    private static (string, float[]) ParseJsonLine(string path, long lineNo, ReadOnlySpan<byte> line, List<float> buffer)
    {
        string? id = null;
        bool sawVector = false;
        buffer.Clear();
        try
        {
            var reader = new Utf8JsonReader(line, isFinalBlock: true, state: default);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
                throw new DenseVectorException(path, lineNo, "expected a JSON object");
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("vector"u8))
                {
                    reader.Read();
                    if (reader.TokenType != JsonTokenType.StartArray)
                        throw new DenseVectorException(path, lineNo, "\"vector\" is not an array of numbers");
                    while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                        buffer.Add(ReadComponent(ref reader, path, lineNo, buffer.Count));
                    sawVector = true;
                }
                else if (reader.ValueTextEquals("id"u8) || reader.ValueTextEquals("docid"u8) ||
                         reader.ValueTextEquals("_id"u8) || reader.ValueTextEquals("qid"u8))
                {
                    reader.Read();
                    string? value = reader.TokenType switch
                    {
                        JsonTokenType.String => reader.GetString(),
                        JsonTokenType.Number => Encoding.UTF8.GetString(reader.ValueSpan),
                        _ => throw new DenseVectorException(path, lineNo, "the id is neither a string nor a number"),
                    };
                    id ??= value;
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }
        }
        catch (JsonException e)
        {
            bool nonFinite = line.IndexOf("NaN"u8) >= 0 || line.IndexOf("Infinity"u8) >= 0;
            throw new DenseVectorException(path, lineNo,
                nonFinite ? "vector contains NaN or Infinity (components must be finite)" : $"malformed JSON: {e.Message}", e);
        }
        if (string.IsNullOrEmpty(id)) throw new DenseVectorException(path, lineNo, "missing or empty id (expected \"id\", \"docid\", \"_id\" or \"qid\")");
        if (!sawVector) throw new DenseVectorException(path, lineNo, "missing \"vector\"");
        if (buffer.Count == 0) throw new DenseVectorException(path, lineNo, "\"vector\" is empty");
        return (id, buffer.ToArray());
    }

    private static float ReadComponent(ref Utf8JsonReader reader, string path, long lineNo, int index)
    {
        if (reader.TokenType == JsonTokenType.Number)
        {
            if (!reader.TryGetDouble(out double d))
                throw new DenseVectorException(path, lineNo, $"component {index} ({Encoding.UTF8.GetString(reader.ValueSpan)}) is not a finite number");
            float f = (float)d;
            if (!float.IsFinite(f))
                throw new DenseVectorException(path, lineNo, $"component {index} ({d}) is outside the float32 range (infinite)");
            return f;
        }
        if (reader.TokenType == JsonTokenType.String)
        {
            string s = reader.GetString() ?? "";
            if (s.Contains("nan", StringComparison.OrdinalIgnoreCase) || s.Contains("inf", StringComparison.OrdinalIgnoreCase))
                throw new DenseVectorException(path, lineNo, $"component {index} is \"{s}\" (NaN or infinite; components must be finite)");
        }
        throw new DenseVectorException(path, lineNo, $"component {index} is not a number");
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
        var idBlock = new byte[checked((int)h.IdsLength)];
        ReadExactly(stream, idBlock, path, 1);
        ReadExactly(stream, new byte[h.RowsOffset - h.IdsOffset - h.IdsLength], path, 1);
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

    private static string ReadId(byte[] block, ref int pos, string path, long record)
    {
        if (pos + 4 > block.Length) throw new DenseVectorException(path, record, "ids block ends early", unit: "record");
        int len = (int)BinaryPrimitives.ReadUInt32LittleEndian(block.AsSpan(pos));
        pos += 4;
        if (len <= 0 || len > block.Length - pos) throw new DenseVectorException(path, record, $"id length {len} is invalid", unit: "record");
        string id = Encoding.UTF8.GetString(block, pos, len);
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
