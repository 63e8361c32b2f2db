using System.IO.Compression;
using Shoal.Engine.Ingest;

namespace Shoal.Engine.Indexing;

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
public sealed class CorpusChunkReader : IDisposable
{
    private readonly CountingStream _file;
    private readonly Utf8LineReader _lines;
    private readonly CorpusFormat _format;
    private bool _eof;

    private CorpusChunkReader(string path, CorpusFormat format)
    {
        Path = path;
        _format = format;
        var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        Length = file.Length;
        _file = new CountingStream(file);
        Span<byte> magic = stackalloc byte[2];
        int read = file.ReadAtLeast(magic, 2, throwOnEndOfStream: false);
        file.Position = 0;
        Stream stream = read == 2 && magic[0] == 0x1f && magic[1] == 0x8b ? new GZipStream(_file, CompressionMode.Decompress) : _file;
        _lines = new Utf8LineReader(stream);
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
        if (!File.Exists(path)) throw new FileNotFoundException($"Corpus file not found: '{path}'.", path);
        var reader = new CorpusChunkReader(path, format);
        try
        {
            while (reader._lines.LineNumber < linesDone)
            {
                if (!reader._lines.TryReadLine(out _))
                    throw new InvalidDataException($"Corpus '{path}' has only {reader._lines.LineNumber} lines; the checkpoint is at line {linesDone}. Was the file changed?");
            }
            return reader;
        }
        catch
        {
            reader.Dispose();
            throw;
        }
    }

    /// <summary>The source file.</summary>
    public string Path { get; }

    /// <summary>Size of the source file in bytes (compressed when gzip).</summary>
    public long Length { get; }

    /// <summary>Bytes of the source file read so far (compressed when gzip; includes read-ahead).</summary>
    public long BytesRead => Math.Min(_file.BytesRead, Length);

    /// <summary>Lines consumed so far (the checkpoint to reopen at).</summary>
    public long LinesDone => _lines.LineNumber;

    /// <summary>True once a read found no more lines (a chunk that ends exactly at the last line is followed by an empty one that says so).</summary>
    public bool EndOfInput => _eof;

    /// <summary>Reads the next <paramref name="maxLines"/> lines (fewer at the end of the input).</summary>
    /// <exception cref="InvalidDataException">The input is corrupt (e.g. a truncated gzip stream) or a line is overlong; the message names the line.</exception>
    public CorpusChunk ReadChunk(int maxLines, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLines, 1);
        long first = _lines.LineNumber + 1;
        var docs = new List<NumberedDocument>(Math.Min(maxLines, 1 << 16));
        var malformed = new List<MalformedLine>();
        long consumed = 0;
        while (consumed < maxLines && !_eof)
        {
            if ((consumed & 4095) == 0) cancellationToken.ThrowIfCancellationRequested();
            ReadOnlySpan<byte> line;
            try
            {
                if (!_lines.TryReadLine(out line))
                {
                    _eof = true;
                    break;
                }
            }
            catch (InvalidDataException e)
            {
                throw new InvalidDataException($"Corpus '{Path}' is unreadable at line {_lines.LineNumber + 1}: {e.Message}", e);
            }
            consumed++;
            if (CorpusLineParser.IsBlank(line)) continue;
            var doc = CorpusLineParser.TryParse(line, _format, out string? reason);
            if (doc is null) malformed.Add(new MalformedLine(_lines.LineNumber, reason!));
            else docs.Add(new NumberedDocument(_lines.LineNumber, doc));
        }
        return new CorpusChunk(first, consumed, docs, malformed, _eof);
    }

    /// <inheritdoc />
    public void Dispose() => _lines.Dispose();

    /// <summary>Counts the bytes read through it.</summary>
    private sealed class CountingStream(FileStream inner) : Stream
    {
        public long BytesRead { get; private set; }
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => inner.Length;
        public override long Position { get => BytesRead; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));
        public override int Read(Span<byte> buffer)
        {
            int n = inner.Read(buffer);
            BytesRead += n;
            return n;
        }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        protected override void Dispose(bool disposing)
        {
            if (disposing) inner.Dispose();
            base.Dispose(disposing);
        }
    }
}
