
namespace Shoal.Engine.Ingest;

/// <summary>A corpus line that could not be read as a document: its 1-based line number and why.</summary>
/// <param name="Line">1-based line number in the (decompressed) source.</param>
/// <param name="Reason">What is wrong with it.</param>
public readonly record struct MalformedLine(long Line, string Reason);

/// <summary>A document of a chunk with the line it came from (its position in source order).</summary>
/// <param name="Line">1-based line number; later lines replace earlier ones with the same id.</param>
/// <param name="Document">The parsed document.</param>
public readonly record struct NumberedDocument(long Line, SourceDocument Document);

/// <summary>What <see cref="CorpusChunkReader.ReadChunk"/> read: documents and malformed lines of a run of source lines.</summary>
/// <param name="FirstLine">1-based number of the chunk's first line.</param>
/// <param name="Lines">Lines consumed (documents, malformed and blank lines).</param>
/// <param name="Documents">Well-formed documents, in line order.</param>
/// <param name="Malformed">Malformed lines, in line order.</param>
/// <param name="EndOfInput">True when the source has no more lines.</param>
public sealed record CorpusChunk(long FirstLine, long Lines, IReadOnlyList<NumberedDocument> Documents, IReadOnlyList<MalformedLine> Malformed, bool EndOfInput);

/// <summary>
/// Reads a text corpus (BEIR jsonl, TSV or MS MARCO v2 passage jsonl, plain or gzip, detected by
/// magic bytes) in chunks of a fixed number of lines, streaming: only one chunk is in memory.
/// Chunk boundaries depend only on line numbers, so a chunk re-read after a restart (opened with
/// the number of lines already consumed) yields exactly the same documents. Malformed lines do not
/// stop the reader; they are returned with their line numbers and the caller decides.
/// </summary>
public sealed class CorpusChunkReader : IChunkSourceReader
{
    private const string What = "Corpus";
    private readonly ChunkedLineSource _source;
    private readonly CorpusFormat _format;

    private CorpusChunkReader(ChunkedLineSource source, CorpusFormat format)
    {
        _source = source;
        _format = format;
    }

    /// <summary>
    /// Opens <paramref name="path"/> and skips its first <paramref name="linesDone"/> lines (without
    /// parsing them), so reading resumes right after a checkpoint.
    /// </summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file ends before <paramref name="linesDone"/> lines, or is corrupt.</exception>
    public static CorpusChunkReader Open(string path, CorpusFormat format, long linesDone = 0)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentOutOfRangeException.ThrowIfNegative(linesDone);
        if (!Enum.IsDefined(format)) throw new ArgumentOutOfRangeException(nameof(format), format, "Unknown corpus format.");
        return new CorpusChunkReader(ChunkedLineSource.Open(path, linesDone, What), format);
    }

    /// <summary>The source file.</summary>
    public string Path => _source.Path;

    /// <summary>Size of the source file in bytes (compressed when gzip).</summary>
    public long Length => _source.Length;

    /// <summary>Bytes of the source file read so far (compressed when gzip; includes read-ahead).</summary>
    public long BytesRead => _source.BytesRead;

    /// <summary>Lines consumed so far (the checkpoint to reopen at).</summary>
    public long LinesDone => _source.LinesDone;

    /// <summary>True once a read found no more lines (a chunk that ends exactly at the last line is followed by an empty one that says so).</summary>
    public bool EndOfInput => _source.EndOfInput;

    /// <summary>Reads the next <paramref name="maxLines"/> lines (fewer at the end of the input).</summary>
    /// <exception cref="InvalidDataException">The input is corrupt (e.g. a truncated gzip stream) or a line is overlong; the message names the line.</exception>
    public CorpusChunk ReadChunk(int maxLines, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLines, 1);
        long first = _source.LinesDone + 1;
        var docs = new List<NumberedDocument>(Math.Min(maxLines, 1 << 16));
        var malformed = new List<MalformedLine>();
        var format = _format;
        long consumed = _source.Read(maxLines, (line, number) =>
        {
            var doc = CorpusLineParser.TryParse(line, format, out string? reason);
            if (doc is null) malformed.Add(new MalformedLine(number, reason!));
            else docs.Add(new NumberedDocument(number, doc));
        }, What, cancellationToken);
        return new CorpusChunk(first, consumed, docs, malformed, _source.EndOfInput);
    }

    /// <inheritdoc />
    public void Dispose() => _source.Dispose();
}
