using System.Text.Json;

namespace Shoal.Engine.Ingest;

/// <summary>
/// Streams <see cref="SourceDocument"/>s out of a corpus file, one line at a time: the file is
/// never loaded whole, and gzip input (detected by its magic bytes, whatever the file name) is
/// decompressed on the fly. Blank (whitespace-only) lines are skipped. JSON lines are parsed with
/// <see cref="Utf8JsonReader"/> directly over the line's UTF-8 bytes.
/// </summary>
/// <remarks>
/// Formats (see <see cref="CorpusFormat"/>):
/// <list type="bullet">
/// <item><description><see cref="CorpusFormat.BeirJsonl"/>: <c>{"_id": "...", "title": "...", "text": "..."}</c>.
/// <c>"_id"</c> (string, or a JSON number taken verbatim) and <c>"text"</c> (string) are required;
/// <c>"title"</c> is optional (string or null); other properties are ignored.</description></item>
/// <item><description><see cref="CorpusFormat.MsMarcoV2Jsonl"/>: <c>{"pid": "...", "passage": "...", ...}</c>; no title.</description></item>
/// <item><description><see cref="CorpusFormat.Tsv"/>: <c>id&lt;TAB&gt;text</c>, or <c>id&lt;TAB&gt;title&lt;TAB&gt;text</c>
/// when a line has three columns; any other column count is an error.</description></item>
/// </list>
/// An empty title becomes <see langword="null"/>. Text may be empty. A malformed line (invalid JSON
/// or UTF-8, a non-object, a missing, empty or non-string id, missing or non-string text) throws
/// <see cref="CorpusFormatException"/> naming the file and the 1-based line number, when the
/// enumeration reaches that line; documents before it have already been yielded.
/// This is the whole-file view of the one corpus reader, <see cref="CorpusChunkReader"/> (which
/// indexing jobs read in checkpointed chunks): the first malformed line it reports is thrown here.
/// </remarks>
public static class CorpusReader
{
    /// <summary>
    /// Returns a lazy, single-pass sequence of the documents in <paramref name="path"/>. The file is
    /// opened when enumeration starts and closed when it ends or the enumerator is disposed; each
    /// enumeration reads the file again.
    /// </summary>
    /// <exception cref="FileNotFoundException">The file does not exist (thrown by this call, not deferred).</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="format"/> is not a defined value.</exception>
    /// <exception cref="CorpusFormatException">During enumeration, for a malformed line.</exception>
    public static IEnumerable<SourceDocument> Read(string path, CorpusFormat format)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!Enum.IsDefined(format))
        {
            throw new ArgumentOutOfRangeException(nameof(format), format, "Unknown corpus format.");
        }

        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Corpus file not found: '{path}'.", path);
        }

        return ReadLines(path, format);
    }

    /// <summary>True when the line holds only spaces, tabs, carriage returns or form/vertical feeds.</summary>
    internal static bool IsBlank(ReadOnlySpan<byte> line) => CorpusLineParser.IsBlank(line);

    /// <summary>Lines the view reads at a time.</summary>
    private const int ChunkLines = 1024;

    private static IEnumerable<SourceDocument> ReadLines(string path, CorpusFormat format)
    {
        using var reader = CorpusChunkReader.Open(path, format);
        while (!reader.EndOfInput)
        {
            CorpusChunk chunk;
            try
            {
                chunk = reader.ReadChunk(ChunkLines);
            }
            catch (InvalidDataException ex)
            {
                // The line after the last one read cannot be read; the inner exception says why.
                throw new CorpusFormatException(path, reader.LinesDone + 1, $"unreadable input ({ex.InnerException?.Message ?? ex.Message})", ex);
            }
            long stopAt = chunk.Malformed.Count > 0 ? chunk.Malformed[0].Line : long.MaxValue;
            foreach (var document in chunk.Documents)
            {
                if (document.Line > stopAt)
                {
                    break;
                }

                yield return document.Document;
            }

            if (chunk.Malformed.Count > 0)
            {
                throw new CorpusFormatException(path, stopAt, chunk.Malformed[0].Reason);
            }
        }
    }
}
