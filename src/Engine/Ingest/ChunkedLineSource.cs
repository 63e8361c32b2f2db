using System.IO.Compression;

namespace Shoal.Engine.Ingest;

/// <summary>
/// The streaming core of the chunk readers: a file opened for sequential reading (gzip detected by
/// its magic bytes), read line by line, whose first lines can be skipped without parsing to resume
/// after a checkpoint, and which counts the bytes read from the file (compressed bytes for gzip).
/// </summary>
internal sealed class ChunkedLineSource : IDisposable
{
    private readonly CountingStream _file;
    private readonly Utf8LineReader _lines;

    private ChunkedLineSource(string path)
    {
        Path = path;
        var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        Length = file.Length;
        _file = new CountingStream(file);
        Span<byte> magic = stackalloc byte[2];
        int read = file.ReadAtLeast(magic, 2, throwOnEndOfStream: false);
        file.Position = 0;
        Stream stream = read == 2 && magic[0] == 0x1f && magic[1] == 0x8b ? new GZipStream(_file, CompressionMode.Decompress) : _file;
        _lines = new Utf8LineReader(stream);
    }

    /// <summary>Opens <paramref name="path"/> and skips its first <paramref name="linesDone"/> lines.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file ends before <paramref name="linesDone"/> lines, or is corrupt.</exception>
    public static ChunkedLineSource Open(string path, long linesDone, string what)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentOutOfRangeException.ThrowIfNegative(linesDone);
        if (!File.Exists(path)) throw new FileNotFoundException($"{what} file not found: '{path}'.", path);
        var source = new ChunkedLineSource(path);
        try
        {
            while (source._lines.LineNumber < linesDone)
            {
                if (!source._lines.TryReadLine(out _))
                    throw new InvalidDataException($"{what} '{path}' has only {source._lines.LineNumber} lines; the checkpoint is at line {linesDone}. Was the file changed?");
            }
            return source;
        }
        catch
        {
            source.Dispose();
            throw;
        }
    }

    /// <summary>The file.</summary>
    public string Path { get; }

    /// <summary>Size of the file in bytes.</summary>
    public long Length { get; }

    /// <summary>Bytes of the file read so far (includes read-ahead).</summary>
    public long BytesRead => Math.Min(_file.BytesRead, Length);

    /// <summary>Lines consumed so far.</summary>
    public long LinesDone => _lines.LineNumber;

    /// <summary>True once a read found no more lines.</summary>
    public bool EndOfInput { get; private set; }

    /// <summary>
    /// Reads up to <paramref name="maxLines"/> lines, handing each non-blank one with its 1-based
    /// number to <paramref name="onLine"/>; returns the number of lines consumed (blank ones included).
    /// </summary>
    /// <exception cref="InvalidDataException">Corrupt input or an overlong line; the message names the line, the inner exception says what is wrong with it.</exception>
    public long Read(int maxLines, LineHandler onLine, string what, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLines, 1);
        long consumed = 0;
        while (consumed < maxLines && !EndOfInput)
        {
            if ((consumed & 4095) == 0) cancellationToken.ThrowIfCancellationRequested();
            ReadOnlySpan<byte> line;
            try
            {
                if (!_lines.TryReadLine(out line))
                {
                    EndOfInput = true;
                    break;
                }
            }
            catch (InvalidDataException e)
            {
                throw new InvalidDataException($"{what} '{Path}' is unreadable at line {_lines.LineNumber + 1}: {e.Message}", e);
            }
            consumed++;
            if (CorpusLineParser.IsBlank(line)) continue;
            onLine(line, _lines.LineNumber);
        }
        return consumed;
    }

    /// <inheritdoc />
    public void Dispose() => _lines.Dispose();

    /// <summary>Receives one non-blank line and its 1-based number.</summary>
    public delegate void LineHandler(ReadOnlySpan<byte> line, long lineNumber);

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
