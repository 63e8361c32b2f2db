using System.Buffers.Binary;
using System.IO.Compression;
using System.Runtime.InteropServices;
using System.Text;
using Shoal.Engine.Dense;
using Shoal.Engine.Sparse;

namespace Shoal.Engine.Ingest;

/// <summary>A learned-sparse document read from a source line (term ids of the index vocabulary, ascending), as jobs spill it.</summary>
public sealed record SparseSpillRecord(long Line, string Id, string? Text, int[] Terms, float[] Weights);

/// <summary>A dense vector read from a source line (or record), as jobs spill it.</summary>
public sealed record DenseSpillRecord(long Line, string Id, float[] Vector);

/// <summary>What a vector chunk reader read: the well-formed records and the malformed lines (or records) of a run of the source.</summary>
/// <typeparam name="T">The record type (<see cref="SparseSpillRecord"/> or <see cref="DenseSpillRecord"/>, numbered by their line or record).</typeparam>
/// <param name="FirstLine">1-based number of the chunk's first line (or record).</param>
/// <param name="Lines">Lines (or records) consumed, blank lines included.</param>
/// <param name="Records">Well-formed records, in source order.</param>
/// <param name="Malformed">Malformed lines (or records), in source order.</param>
/// <param name="EndOfInput">True when the source has no more lines (or records).</param>
public sealed record VectorChunk<T>(long FirstLine, long Lines, IReadOnlyList<T> Records, IReadOnlyList<MalformedLine> Malformed, bool EndOfInput);

/// <summary>
/// A source read in checkpointed chunks: its position is a number of lines (or, for a binary
/// file, records) consumed, and a reader opened at a position reads exactly what a reader that
/// got there by reading would read next.
/// </summary>
public interface IChunkSourceReader : IDisposable
{
    /// <summary>The source file.</summary>
    string Path { get; }

    /// <summary>Size of the file in bytes (compressed when gzip).</summary>
    long Length { get; }

    /// <summary>Bytes of the file read so far (compressed when gzip; includes read-ahead).</summary>
    long BytesRead { get; }

    /// <summary>Lines (or records) consumed so far: the position to reopen at.</summary>
    long LinesDone { get; }

    /// <summary>True once the source has no more lines (or records).</summary>
    bool EndOfInput { get; }
}

/// <summary>
/// Reads Anserini JSON vector lines (<c>{"id", "contents", "vector": {token: weight}}</c>, plain or
/// gzip) in chunks of a fixed number of lines, streaming, with the line rules of
/// <see cref="CorpusLineParser.TryParseSparse"/>: a malformed line (bad JSON, unknown token,
/// negative, NaN or infinite weight, repeated token, missing id or vector) is returned with its
/// number, not thrown.
/// </summary>
public sealed class SparseChunkReader : IChunkSourceReader
{
    private const string What = "Sparse vectors";
    private readonly ChunkedLineSource _source;
    private readonly SparseVocabulary _vocabulary;

    private SparseChunkReader(ChunkedLineSource source, SparseVocabulary vocabulary)
    {
        _source = source;
        _vocabulary = vocabulary;
    }

    /// <summary>Opens <paramref name="path"/> and skips its first <paramref name="linesDone"/> lines.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file ends before <paramref name="linesDone"/> lines, or is corrupt.</exception>
    public static SparseChunkReader Open(string path, SparseVocabulary vocabulary, long linesDone = 0)
    {
        ArgumentNullException.ThrowIfNull(vocabulary);
        return new SparseChunkReader(ChunkedLineSource.Open(path, linesDone, What), vocabulary);
    }

    /// <inheritdoc />
    public string Path => _source.Path;

    /// <inheritdoc />
    public long Length => _source.Length;

    /// <inheritdoc />
    public long BytesRead => _source.BytesRead;

    /// <inheritdoc />
    public long LinesDone => _source.LinesDone;

    /// <inheritdoc />
    public bool EndOfInput => _source.EndOfInput;

    /// <summary>Reads the next <paramref name="maxLines"/> lines (fewer at the end of the input).</summary>
    /// <exception cref="InvalidDataException">Corrupt input or an overlong line; the message names the line.</exception>
    public VectorChunk<SparseSpillRecord> ReadChunk(int maxLines, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLines, 1);
        long first = _source.LinesDone + 1;
        var records = new List<SparseSpillRecord>(Math.Min(maxLines, 1 << 16));
        var malformed = new List<MalformedLine>();
        var vocabulary = _vocabulary;
        long consumed = _source.Read(maxLines, (line, number) =>
        {
            var doc = CorpusLineParser.TryParseSparse(line, vocabulary, out string? reason);
            if (doc is null) malformed.Add(new MalformedLine(number, reason!));
            else records.Add(new SparseSpillRecord(number, doc.Id, doc.Text, doc.Vector.Terms ?? [], doc.Vector.Weights ?? []));
        }, What, cancellationToken);
        return new VectorChunk<SparseSpillRecord>(first, consumed, records, malformed, _source.EndOfInput);
    }

    /// <inheritdoc />
    public void Dispose() => _source.Dispose();
}

/// <summary>
/// Reads dense vectors in chunks, streaming (the one dense source reader; <see cref="DenseVectorReader"/> is its whole-file view), from either format
/// (detected from the content, plain or gzip): JSON lines <c>{"id", "vector": [...]}</c>, chunked by
/// lines, with the line rules of <see cref="CorpusLineParser.TryParseDense"/> (a malformed line is
/// returned with its number, not thrown), or the SHOALVEC binary format, chunked by records (a
/// record with a non-finite component is returned as malformed with its record number; a damaged
/// file structure throws <see cref="DenseVectorException"/>).
/// </summary>
public abstract class DenseChunkReader : IChunkSourceReader
{
    private protected DenseChunkReader(string path) => Path = path;

    /// <summary>
    /// Opens <paramref name="path"/> at position <paramref name="done"/> (lines for jsonl, records
    /// for SHOALVEC). <paramref name="dims"/> is the required dimension, or 0 to take it from the
    /// first well-formed vector (jsonl) or the header (binary).
    /// </summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="DenseVectorException">A binary file whose header is damaged or has other dimensions.</exception>
    /// <exception cref="InvalidDataException">The file ends before the position, or is corrupt.</exception>
    public static DenseChunkReader Open(string path, int dims = 0, long done = 0)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentOutOfRangeException.ThrowIfNegative(dims);
        ArgumentOutOfRangeException.ThrowIfNegative(done);
        if (!File.Exists(path)) throw new FileNotFoundException($"Dense vectors file not found: '{path}'.", path);
        return IsBinary(path, out bool gzip) ? new ShoalVecReader(path, gzip, dims, done) : new JsonLinesReader(path, dims, done);
    }

    /// <summary>True when the content (decompressed when gzip) starts with the SHOALVEC magic.</summary>
    public static bool IsBinary(string path, out bool gzip)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 4096);
        Span<byte> two = stackalloc byte[2];
        gzip = file.ReadAtLeast(two, 2, throwOnEndOfStream: false) == 2 && two[0] == 0x1f && two[1] == 0x8b;
        file.Position = 0;
        using Stream s = gzip ? new GZipStream(file, CompressionMode.Decompress, leaveOpen: true) : file;
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

    /// <inheritdoc />
    public string Path { get; }

    /// <summary>True for a SHOALVEC file (positions count records), false for JSON lines (positions count lines).</summary>
    public abstract bool Binary { get; }

    /// <summary>The dimension of the vectors: as required, from the header, or from the first well-formed vector read (0 until then).</summary>
    public abstract int Dims { get; }

    /// <inheritdoc />
    public abstract long Length { get; }

    /// <inheritdoc />
    public abstract long BytesRead { get; }

    /// <inheritdoc />
    public abstract long LinesDone { get; }

    /// <inheritdoc />
    public abstract bool EndOfInput { get; }

    /// <summary>Reads the next <paramref name="max"/> lines (jsonl) or records (binary), fewer at the end.</summary>
    /// <exception cref="InvalidDataException">Corrupt input; the message names the line or record.</exception>
    public abstract VectorChunk<DenseSpillRecord> ReadChunk(int max, CancellationToken cancellationToken = default);

    /// <inheritdoc />
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases the files.</summary>
    protected abstract void Dispose(bool disposing);

    private sealed class JsonLinesReader : DenseChunkReader
    {
        private const string What = "Dense vectors";
        private readonly ChunkedLineSource _source;
        private int _dims;

        public JsonLinesReader(string path, int dims, long done) : base(path)
        {
            _source = ChunkedLineSource.Open(path, done, What);
            _dims = dims;
        }

        public override bool Binary => false;
        public override int Dims => _dims;
        public override long Length => _source.Length;
        public override long BytesRead => _source.BytesRead;
        public override long LinesDone => _source.LinesDone;
        public override bool EndOfInput => _source.EndOfInput;

        public override VectorChunk<DenseSpillRecord> ReadChunk(int max, CancellationToken cancellationToken = default)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(max, 1);
            long first = _source.LinesDone + 1;
            var records = new List<DenseSpillRecord>(Math.Min(max, 1 << 16));
            var malformed = new List<MalformedLine>();
            long consumed = _source.Read(max, (line, number) =>
            {
                var parsed = CorpusLineParser.TryParseDense(line, _dims, out string? reason);
                if (parsed is not { } v)
                {
                    malformed.Add(new MalformedLine(number, reason!));
                    return;
                }
                if (_dims == 0) _dims = v.Vector.Length;
                records.Add(new DenseSpillRecord(number, v.Id, v.Vector));
            }, What, cancellationToken);
            return new VectorChunk<DenseSpillRecord>(first, consumed, records, malformed, _source.EndOfInput);
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) _source.Dispose();
        }
    }

    /// <summary>
    /// SHOALVEC: the ids block precedes the rows, so two streams walk the file in step: one over the
    /// ids, one over the rows (a plain file seeks to a position; a gzip file is decompressed up to it).
    /// </summary>
    private sealed class ShoalVecReader : DenseChunkReader
    {
        private readonly FileStream _idsFile;
        private readonly FileStream _rowsFile;
        private readonly Stream _ids;
        private readonly Stream _rows;
        private readonly DenseVectorFile.Header _header;
        private static readonly UTF8Encoding StrictUtf8 = new(false, throwOnInvalidBytes: true);
        private readonly byte[] _idBuffer = new byte[256];
        private long _done;
        private long _idsRead;

        public ShoalVecReader(string path, bool gzip, int dims, long done) : base(path)
        {
            _idsFile = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
            _rowsFile = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
            _ids = gzip ? new GZipStream(_idsFile, CompressionMode.Decompress) : _idsFile;
            _rows = gzip ? new GZipStream(_rowsFile, CompressionMode.Decompress) : _rowsFile;
            try
            {
                var header = new byte[DenseVectorFile.HeaderSize];
                ReadExactly(_ids, header, 0);
                _header = DenseVectorFile.ParseHeader(path, header, gzip ? -1 : _idsFile.Length);
                if (dims > 0 && dims != _header.Dims)
                    throw new DenseVectorException(path, 0, $"vectors have {_header.Dims} dimensions, expected {dims}");
                if (_header.IdsLength > Array.MaxLength || _header.IdsLength < 5L * _header.Count)
                    throw new DenseVectorException(path, 0, $"the ids block of {_header.IdsLength} bytes cannot hold {_header.Count} ids");
                if (done > _header.Count)
                    throw new InvalidDataException($"Dense vectors '{path}' have only {_header.Count} records; the checkpoint is at record {done}. Was the file changed?");
                Skip(_ids, _header.IdsOffset - DenseVectorFile.HeaderSize, 0);
                for (long r = 0; r < done; r++) ReadId(r + 1);
                long rowBytes = (long)_header.Dims * sizeof(float);
                if (gzip) Skip(_rows, _header.RowsOffset + done * rowBytes, done);
                else _rowsFile.Position = _header.RowsOffset + done * rowBytes;
                _done = done;
            }
            catch
            {
                Dispose(true);
                throw;
            }
        }

        public override bool Binary => true;
        public override int Dims => _header.Dims;
        public override long Length => _rowsFile.Length;
        public override long BytesRead => Math.Min(_rowsFile.Position, Length);
        public override long LinesDone => _done;
        public override bool EndOfInput => _done >= _header.Count;

        public override VectorChunk<DenseSpillRecord> ReadChunk(int max, CancellationToken cancellationToken = default)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(max, 1);
            long first = _done + 1;
            var records = new List<DenseSpillRecord>((int)Math.Min(max, Math.Min(1 << 16, _header.Count - _done)));
            var malformed = new List<MalformedLine>();
            long consumed = 0;
            while (consumed < max && _done < _header.Count)
            {
                if ((consumed & 1023) == 0) cancellationToken.ThrowIfCancellationRequested();
                long record = _done + 1;
                string? id = ReadId(record);
                var vector = new float[_header.Dims];
                ReadExactly(_rows, MemoryMarshal.AsBytes(vector.AsSpan()), record);
                _done++;
                consumed++;
                if (id is null) malformed.Add(new MalformedLine(record, "id is not valid UTF-8"));
                else if (!DenseKernels.AllFinite(vector, out int bad)) malformed.Add(new MalformedLine(record, $"component {bad} is NaN or infinite"));
                else records.Add(new DenseSpillRecord(record, id, vector));
            }
            if (EndOfInput && _rows.ReadByte() >= 0)
                throw new DenseVectorException(Path, 0, "data continues after the last row described by the header");
            return new VectorChunk<DenseSpillRecord>(first, consumed, records, malformed, EndOfInput);
        }

        /// <summary>The next id; null when its bytes are not valid UTF-8 (the record is malformed, the ids stay in step).</summary>
        private string? ReadId(long record)
        {
            Span<byte> len = stackalloc byte[4];
            if (_idsRead + 4 > _header.IdsLength) throw new DenseVectorException(Path, record, "ids block ends early", unit: "record");
            ReadExactly(_ids, len, record);
            int n = (int)BinaryPrimitives.ReadUInt32LittleEndian(len);
            _idsRead += 4;
            if (n <= 0 || n > _header.IdsLength - _idsRead) throw new DenseVectorException(Path, record, $"id length {n} is invalid", unit: "record");
            var buffer = n <= _idBuffer.Length ? _idBuffer : new byte[n];
            ReadExactly(_ids, buffer.AsSpan(0, n), record);
            _idsRead += n;
            try
            {
                return StrictUtf8.GetString(buffer, 0, n);
            }
            catch (DecoderFallbackException)
            {
                return null;
            }
        }

        private void ReadExactly(Stream stream, Span<byte> buffer, long record)
        {
            try
            {
                if (stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false) != buffer.Length)
                    throw new DenseVectorException(Path, record, "file ends early (truncated)", unit: "record");
            }
            catch (InvalidDataException e)
            {
                throw new DenseVectorException(Path, record, $"corrupt gzip data: {e.Message}", e, unit: "record");
            }
        }

        private void Skip(Stream stream, long bytes, long record)
        {
            var scratch = new byte[1 << 16];
            while (bytes > 0)
            {
                int n = (int)Math.Min(bytes, scratch.Length);
                ReadExactly(stream, scratch.AsSpan(0, n), record);
                bytes -= n;
            }
        }

        protected override void Dispose(bool disposing)
        {
            if (!disposing) return;
            _ids.Dispose();
            _rows.Dispose();
            _idsFile.Dispose();
            _rowsFile.Dispose();
        }
    }
}
