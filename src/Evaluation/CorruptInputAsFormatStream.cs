namespace Shoal.Evaluation;

/// <summary>
/// A read-only pass-through over an input file's stream that reports damaged compressed data
/// (gzip's <see cref="InvalidDataException"/>) as the <see cref="FormatException"/> the text
/// readers (topics, qrels, runs) document, naming the file, so callers need to handle one error.
/// </summary>
internal sealed class CorruptInputAsFormatStream(Stream inner, string path) : Stream
{
    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        try
        {
            return inner.Read(buffer);
        }
        catch (InvalidDataException e)
        {
            throw new FormatException($"'{path}' is damaged: {e.Message}", e);
        }
    }

    public override void Flush()
    {
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
