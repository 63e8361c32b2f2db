using Shoal.Engine.Dense;

namespace Shoal.Engine.Ingest;

/// <summary>
/// Reads dense vectors with their ids from a file in one of two formats, detected from the content
/// (never the name), either of them optionally gzip-compressed (detected by the magic bytes <c>1f 8b</c>):
/// <list type="bullet">
/// <item><b>JSON lines</b>: one object per line with an id under <c>"id"</c>, <c>"docid"</c>, <c>"_id"</c>
/// or <c>"qid"</c> (a string or a number; the first one present is used) and <c>"vector"</c>, an array of
/// numbers. Other fields (e.g. Anserini's <c>"contents"</c>) are ignored; blank lines are skipped;
/// content after the object is an error. The line rules are <see cref="CorpusLineParser.TryParseDense"/>'s.</item>
/// <item><b>SHOALVEC binary</b> (<see cref="DenseVectorFile"/>).</item>
/// </list>
/// Every vector must have the expected number of dimensions (or, when none is given, the number of
/// the first vector) and only finite components; a value outside the float32 range counts as infinite.
/// Any violation throws <see cref="DenseVectorException"/> naming the file and the 1-based line
/// (jsonl) or record (binary). Reading is lazy and streaming.
/// </summary>
/// <remarks>
/// This is the whole-file view of the one dense source reader, <see cref="DenseChunkReader"/>
/// (which indexing jobs read in checkpointed chunks): the first malformed line or record it reports
/// is thrown here, after the vectors before it.
/// </remarks>
public static class DenseVectorReader
{
    /// <summary>Lines (records) the view reads at a time.</summary>
    private const int ChunkLines = 1024;

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
        return ReadChunks(path, expectedDims ?? 0);
    }

    private static IEnumerable<(string, float[])> ReadChunks(string path, int dims)
    {
        using var reader = DenseChunkReader.Open(path, dims);
        string unit = reader.Binary ? "record" : "line";
        while (!reader.EndOfInput)
        {
            VectorChunk<DenseSpillRecord> chunk;
            try
            {
                chunk = reader.ReadChunk(ChunkLines);
            }
            catch (InvalidDataException e)
            {
                // The line after the last one read cannot be read; the inner exception says why.
                throw new DenseVectorException(path, reader.LinesDone + 1, e.InnerException?.Message ?? e.Message, e);
            }
            long stopAt = chunk.Malformed.Count > 0 ? chunk.Malformed[0].Line : long.MaxValue;
            foreach (var r in chunk.Records)
            {
                if (r.Line > stopAt) break;
                yield return (r.Id, r.Vector);
            }
            if (chunk.Malformed.Count > 0) throw new DenseVectorException(path, stopAt, chunk.Malformed[0].Reason, unit: unit);
        }
    }
}
