namespace Shoal.Engine.Ingest;

/// <summary>
/// Reads a stream line by line as raw UTF-8 bytes into a reusable buffer, so callers can parse
/// each line (JSON or TSV) without first materialising it as a <see cref="string"/>.
/// Lines end at <c>\n</c>; a trailing <c>\r</c> is removed; a UTF-8 byte order mark at the start
/// of the stream is skipped; a final line without a terminator is returned. Not thread-safe.
/// </summary>
internal sealed class Utf8LineReader : IDisposable
{
    /// <summary>Default upper bound on one line's length (256 MiB), guarding against non-line input.</summary>
    public const int DefaultMaxLineBytes = 1 << 28;

    private const int InitialBufferSize = 1 << 16;

    private readonly Stream _stream;
    private readonly int _maxLineBytes;
    private byte[] _buffer;
    private int _start;
    private int _scan;
    private int _end;
    private bool _eof;
    private long _lineNumber;

    /// <summary>Creates a reader over <paramref name="stream"/>, which it owns and disposes.</summary>
    public Utf8LineReader(Stream stream, int maxLineBytes = DefaultMaxLineBytes)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLineBytes, 1);
        _stream = stream;
        _maxLineBytes = maxLineBytes;
        _buffer = new byte[Math.Min(InitialBufferSize, Math.Max(maxLineBytes, 16))];
    }

    /// <summary>1-based number of the line most recently returned (0 before the first).</summary>
    public long LineNumber => _lineNumber;

    /// <summary>
    /// Reads the next line. The returned span is valid only until the next call.
    /// </summary>
    /// <returns><see langword="false"/> at end of input.</returns>
    /// <exception cref="InvalidDataException">The line is longer than the configured maximum, or the
    /// underlying (e.g. gzip) stream is corrupt.</exception>
    public bool TryReadLine(out ReadOnlySpan<byte> line)
    {
        while (true)
        {
            int index = _buffer.AsSpan(_scan, _end - _scan).IndexOf((byte)'\n');
            if (index >= 0)
            {
                int lineEnd = _scan + index;
                line = Finish(_buffer.AsSpan(_start, lineEnd - _start));
                _start = _scan = lineEnd + 1;
                return true;
            }

            _scan = _end;
            if (_eof)
            {
                if (_start < _end)
                {
                    line = Finish(_buffer.AsSpan(_start, _end - _start));
                    _start = _scan = _end;
                    return true;
                }

                line = default;
                return false;
            }

            Fill();
        }
    }

    /// <inheritdoc />
    public void Dispose() => _stream.Dispose();

    private ReadOnlySpan<byte> Finish(ReadOnlySpan<byte> line)
    {
        _lineNumber++;
        if (line.Length > 0 && line[^1] == (byte)'\r')
        {
            line = line[..^1];
        }

        if (_lineNumber == 1 && line.StartsWith("\uFEFF"u8))
        {
            line = line[3..];
        }

        return line;
    }

    private void Fill()
    {
        if (_start > 0)
        {
            int pending = _end - _start;
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, pending);
            _scan -= _start;
            _end = pending;
            _start = 0;
        }

        if (_end == _buffer.Length)
        {
            if (_buffer.Length >= _maxLineBytes)
            {
                throw new InvalidDataException($"line is longer than the maximum of {_maxLineBytes} bytes");
            }

            Array.Resize(ref _buffer, (int)Math.Min((long)_buffer.Length * 2, _maxLineBytes));
        }

        int read = _stream.Read(_buffer, _end, _buffer.Length - _end);
        if (read == 0)
        {
            _eof = true;
        }
        else
        {
            _end += read;
        }
    }
}
