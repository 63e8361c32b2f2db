using System.Buffers;
using System.Buffers.Binary;
using System.IO.Compression;
using System.Runtime.InteropServices;
using System.Text;
using Shoal.Engine.Sparse;

namespace Shoal.Engine.Ingest;

/// <summary>
/// SHOALSPV: a compact binary learned-sparse document source, the binary counterpart of Anserini
/// JSON vector lines for indexing jobs (plain or gzip). Reading it costs a copy per record instead
/// of a JSON parse and a token lookup per term. Little-endian:
/// <code>
/// header (16 bytes)
///   0   8  magic "SHOALSPV" (ASCII)
///   8   4  u32 format version = 1
///   12  4  u32 vocabulary size the term ids refer to (0 = not stated)
/// records, one after another until the end of the file:
///   u32      body length B in bytes (what follows, up to the next record)
///   u16      id length I; I bytes of UTF-8 id
///   u32      text length T (0xFFFFFFFF = no text); T bytes of UTF-8 text
///   u32      n, the number of entries
///   n x u32  term ids (line numbers of the vocabulary, strictly ascending)
///   n x f32  weights (finite, >= 0; a zero weight is dropped, as in JSON)
/// </code>
/// B must equal 2 + I + 4 + T + 4 + 8n. A record with a body that does not add up, or a file that
/// ends inside a record, is a damaged structure (<see cref="InvalidDataException"/>); a record
/// whose content breaks the vector rules (empty id, term id outside the vocabulary, ids not
/// ascending, negative or non-finite weight, invalid UTF-8) is malformed and returned with its
/// 1-based record number by <see cref="SparseBinaryChunkReader"/>, not thrown.
/// </summary>
public static class SparseBinaryFormat
{
    /// <summary>The magic bytes at offset 0.</summary>
    public static ReadOnlySpan<byte> Magic => "SHOALSPV"u8;

    /// <summary>Format version written and read.</summary>
    public const int Version = 1;

    /// <summary>Header size in bytes.</summary>
    public const int HeaderSize = 16;

    /// <summary>The text length that means "no text".</summary>
    public const uint NoText = uint.MaxValue;

    /// <summary>The name job status reports for this format.</summary>
    public const string FormatName = "shoalspv";

    /// <summary>The header of a file whose term ids refer to a vocabulary of <paramref name="vocabularySize"/> tokens (0: not stated).</summary>
    public static byte[] Header(int vocabularySize)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(vocabularySize);
        var h = new byte[HeaderSize];
        Magic.CopyTo(h);
        BinaryPrimitives.WriteUInt32LittleEndian(h.AsSpan(8), Version);
        BinaryPrimitives.WriteUInt32LittleEndian(h.AsSpan(12), (uint)vocabularySize);
        return h;
    }

    /// <summary>Appends one record to <paramref name="output"/>; terms must be ascending (the reader checks the rules).</summary>
    /// <exception cref="ArgumentException">Term and weight counts differ, or the id is longer than 65,535 UTF-8 bytes.</exception>
    public static void WriteRecord(IBufferWriter<byte> output, string id, string? text, ReadOnlySpan<int> terms, ReadOnlySpan<float> weights)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(id);
        if (terms.Length != weights.Length) throw new ArgumentException($"{terms.Length} term ids but {weights.Length} weights.", nameof(weights));
        int idBytes = Encoding.UTF8.GetByteCount(id);
        if (idBytes > ushort.MaxValue) throw new ArgumentException($"Id is {idBytes} UTF-8 bytes; at most {ushort.MaxValue}.", nameof(id));
        int textBytes = text is null ? 0 : Encoding.UTF8.GetByteCount(text);
        long body = 2L + idBytes + 4 + textBytes + 4 + 8L * terms.Length;
        if (body > int.MaxValue - 4) throw new ArgumentException("Record is larger than 2 GB.", nameof(text));
        var span = output.GetSpan((int)body + 4);
        BinaryPrimitives.WriteUInt32LittleEndian(span, (uint)body);
        BinaryPrimitives.WriteUInt16LittleEndian(span[4..], (ushort)idBytes);
        int at = 6 + Encoding.UTF8.GetBytes(id, span[6..]);
        BinaryPrimitives.WriteUInt32LittleEndian(span[at..], text is null ? NoText : (uint)textBytes);
        at += 4;
        if (text is not null) at += Encoding.UTF8.GetBytes(text, span[at..]);
        BinaryPrimitives.WriteUInt32LittleEndian(span[at..], (uint)terms.Length);
        at += 4;
        var termBytes = span.Slice(at, 4 * terms.Length);
        var weightBytes = span.Slice(at + 4 * terms.Length, 4 * weights.Length);
        if (BitConverter.IsLittleEndian)
        {
            MemoryMarshal.AsBytes(terms).CopyTo(termBytes);
            MemoryMarshal.AsBytes(weights).CopyTo(weightBytes);
        }
        else
        {
            for (int i = 0; i < terms.Length; i++)
            {
                BinaryPrimitives.WriteInt32LittleEndian(termBytes[(4 * i)..], terms[i]);
                BinaryPrimitives.WriteSingleLittleEndian(weightBytes[(4 * i)..], weights[i]);
            }
        }
        output.Advance((int)body + 4);
    }

    /// <summary>Writes <paramref name="documents"/> to a new SHOALSPV file at <paramref name="path"/>.</summary>
    public static void Write(string path, IEnumerable<SparseDocument> documents, int vocabularySize)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(documents);
        using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
        file.Write(Header(vocabularySize));
        var buffer = new ArrayBufferWriter<byte>(1 << 16);
        foreach (var d in documents)
        {
            WriteRecord(buffer, d.Id, d.Text, d.Vector.Terms ?? [], d.Vector.Weights ?? []);
            if (buffer.WrittenCount < 1 << 20) continue;
            file.Write(buffer.WrittenSpan);
            buffer.ResetWrittenCount();
        }
        file.Write(buffer.WrittenSpan);
    }

    /// <summary>True when the content (decompressed when gzip) starts with the SHOALSPV magic.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    public static bool IsBinary(string path)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 4096);
        Span<byte> two = stackalloc byte[2];
        bool gzip = file.ReadAtLeast(two, 2, throwOnEndOfStream: false) == 2 && two[0] == 0x1f && two[1] == 0x8b;
        file.Position = 0;
        using Stream s = gzip ? new GZipStream(file, CompressionMode.Decompress, leaveOpen: true) : file;
        Span<byte> magic = stackalloc byte[8];
        try
        {
            return s.ReadAtLeast(magic, 8, throwOnEndOfStream: false) == 8 && magic.SequenceEqual(Magic);
        }
        catch (InvalidDataException)
        {
            return false;
        }
    }
}

/// <summary>
/// Reads a SHOALSPV file (<see cref="SparseBinaryFormat"/>, plain or gzip) in chunks of a fixed
/// number of records, streaming; positions count records, so a reader opened at a position reads
/// exactly what one that got there by reading would read next. A malformed record is returned with
/// its number, not thrown; a damaged structure throws <see cref="InvalidDataException"/>.
/// </summary>
public sealed class SparseBinaryChunkReader : IChunkSourceReader
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
    private readonly FileStream _file;
    private readonly Stream _stream;
    private readonly int _vocabularySize;
    private byte[] _body = new byte[4096];
    private long _done;
    private bool _end;
    private int _pending = -1;

    private SparseBinaryChunkReader(string path, int vocabularySize)
    {
        Path = path;
        _vocabularySize = vocabularySize;
        _file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        Span<byte> two = stackalloc byte[2];
        bool gzip = _file.ReadAtLeast(two, 2, throwOnEndOfStream: false) == 2 && two[0] == 0x1f && two[1] == 0x8b;
        _file.Position = 0;
        _stream = new BufferedStream(gzip ? new GZipStream(_file, CompressionMode.Decompress, leaveOpen: true) : _file, 1 << 20);
    }

    /// <summary>Opens <paramref name="path"/> for <paramref name="vocabulary"/> and skips its first <paramref name="recordsDone"/> records.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">Not a SHOALSPV file, of another vocabulary size, damaged, or shorter than <paramref name="recordsDone"/> records.</exception>
    public static SparseBinaryChunkReader Open(string path, SparseVocabulary vocabulary, long recordsDone = 0)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(vocabulary);
        ArgumentOutOfRangeException.ThrowIfNegative(recordsDone);
        if (!File.Exists(path)) throw new FileNotFoundException($"Sparse vectors file not found: '{path}'.", path);
        var reader = new SparseBinaryChunkReader(path, vocabulary.Count);
        try
        {
            reader.ReadHeader();
            while (reader._done < recordsDone)
            {
                if (reader.NextBody(reader._done + 1) < 0)
                    throw new InvalidDataException($"Sparse vectors '{path}' have only {reader._done} records; the checkpoint is at record {recordsDone}. Was the file changed?");
                reader._done++;
            }
            return reader;
        }
        catch
        {
            reader.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public string Path { get; }

    /// <inheritdoc />
    public long Length => _file.Length;

    /// <inheritdoc />
    public long BytesRead => Math.Min(_file.Position, _file.Length);

    /// <inheritdoc />
    public long LinesDone => _done;

    /// <inheritdoc />
    public bool EndOfInput => _end;

    /// <summary>Reads the next <paramref name="maxRecords"/> records (fewer at the end of the file).</summary>
    /// <exception cref="InvalidDataException">A damaged structure; the message names the record.</exception>
    public VectorChunk<SparseSpillRecord> ReadChunk(int maxRecords, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRecords, 1);
        long first = _done + 1;
        var records = new List<SparseSpillRecord>(Math.Min(maxRecords, 1 << 16));
        var malformed = new List<MalformedLine>();
        long consumed = 0;
        while (consumed < maxRecords && !_end)
        {
            if ((consumed & 1023) == 0) cancellationToken.ThrowIfCancellationRequested();
            long number = _done + 1;
            int length = NextBody(number);
            if (length < 0) break;
            _done++;
            consumed++;
            var record = Parse(_body.AsSpan(0, length), number, out string? reason);
            if (record is null) malformed.Add(new MalformedLine(number, reason!));
            else records.Add(record);
        }
        if (!_end) Peek();
        return new VectorChunk<SparseSpillRecord>(first, consumed, records, malformed, _end);
    }

    private void ReadHeader()
    {
        Span<byte> header = stackalloc byte[SparseBinaryFormat.HeaderSize];
        if (Fill(header) != header.Length || !header[..8].SequenceEqual(SparseBinaryFormat.Magic))
            throw new InvalidDataException($"'{Path}' is not a SHOALSPV sparse vector file (bad magic).");
        uint version = BinaryPrimitives.ReadUInt32LittleEndian(header[8..]);
        if (version != SparseBinaryFormat.Version)
            throw new InvalidDataException($"'{Path}' is SHOALSPV version {version}; this reader knows version {SparseBinaryFormat.Version}.");
        uint vocabulary = BinaryPrimitives.ReadUInt32LittleEndian(header[12..]);
        if (vocabulary != 0 && vocabulary != _vocabularySize)
            throw new InvalidDataException($"'{Path}' holds term ids of a vocabulary of {vocabulary} tokens; the index's vocabulary has {_vocabularySize}.");
        Peek();
    }

    // Sets _end when no byte follows; otherwise the byte read is kept for the next record.
    private void Peek()
    {
        if (_end || _pending >= 0) return;
        int next = ReadByteCounted();
        if (next < 0) _end = true;
        else _pending = next;
    }

    private int ReadByteCounted()
    {
        try
        {
            return _stream.ReadByte();
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"Sparse vectors '{Path}': corrupt gzip data after record {_done} ({e.Message}).", e);
        }
    }

    private int Fill(Span<byte> buffer)
    {
        int at = 0;
        if (_pending >= 0 && buffer.Length > 0)
        {
            buffer[0] = (byte)_pending;
            _pending = -1;
            at = 1;
        }
        try
        {
            return at + _stream.ReadAtLeast(buffer[at..], buffer.Length - at, throwOnEndOfStream: false);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"Sparse vectors '{Path}': corrupt gzip data after record {_done} ({e.Message}).", e);
        }
    }

    // Reads the next record's body into _body; -1 at the end of the file.
    private int NextBody(long number)
    {
        if (_end) return -1;
        Span<byte> prefix = stackalloc byte[4];
        int got = Fill(prefix);
        if (got == 0)
        {
            _end = true;
            return -1;
        }
        if (got < 4) throw Damaged(number, "the file ends inside the record's length (truncated)");
        uint length = BinaryPrimitives.ReadUInt32LittleEndian(prefix);
        if (length < 10 || length > int.MaxValue / 2) throw Damaged(number, $"record length {length} is invalid");
        if (_body.Length < length) _body = new byte[Math.Max((int)length, _body.Length * 2)];
        if (Fill(_body.AsSpan(0, (int)length)) != length) throw Damaged(number, "the file ends inside the record (truncated)");
        return (int)length;
    }

    private InvalidDataException Damaged(long number, string what) =>
        new($"Sparse vectors '{Path}', record {number}: {what}.");

    private SparseSpillRecord? Parse(ReadOnlySpan<byte> body, long number, out string? reason)
    {
        reason = null;
        int idLength = BinaryPrimitives.ReadUInt16LittleEndian(body);
        if (2 + idLength + 4 > body.Length) throw Damaged(number, "the id runs past the record");
        var idBytes = body.Slice(2, idLength);
        int at = 2 + idLength;
        uint textLength = BinaryPrimitives.ReadUInt32LittleEndian(body[at..]);
        at += 4;
        ReadOnlySpan<byte> textBytes = default;
        bool hasText = textLength != SparseBinaryFormat.NoText;
        if (hasText)
        {
            if (textLength > (uint)(body.Length - at - 4)) throw Damaged(number, "the text runs past the record");
            textBytes = body.Slice(at, (int)textLength);
            at += (int)textLength;
        }
        if (at + 4 > body.Length) throw Damaged(number, "the entry count runs past the record");
        uint n = BinaryPrimitives.ReadUInt32LittleEndian(body[at..]);
        at += 4;
        if ((ulong)body.Length - (ulong)at != 8UL * n) throw Damaged(number, $"{n} entries do not fill the record's {body.Length - at} remaining bytes");
        var termBytes = body.Slice(at, 4 * (int)n);
        var weightBytes = body.Slice(at + 4 * (int)n, 4 * (int)n);

        string id, text;
        try
        {
            id = StrictUtf8.GetString(idBytes);
            text = hasText ? StrictUtf8.GetString(textBytes) : "";
        }
        catch (DecoderFallbackException)
        {
            reason = "id or text is not valid UTF-8";
            return null;
        }
        if (string.IsNullOrWhiteSpace(id))
        {
            reason = "empty document id";
            return null;
        }

        int kept = 0;
        var terms = new int[n];
        var weights = new float[n];
        int previous = -1;
        for (int i = 0; i < n; i++)
        {
            int t = BinaryPrimitives.ReadInt32LittleEndian(termBytes[(4 * i)..]);
            float w = BinaryPrimitives.ReadSingleLittleEndian(weightBytes[(4 * i)..]);
            if (t < 0 || t >= _vocabularySize) reason = $"term id {(uint)t} is outside the vocabulary of {_vocabularySize} tokens";
            else if (t <= previous) reason = t == previous ? $"term id {t} occurs more than once" : $"term ids are not ascending ({previous} before {t})";
            else if (!float.IsFinite(w)) reason = $"term id {t} has a non-finite weight";
            else if (w < 0) reason = $"term id {t} has negative weight {w.ToString(System.Globalization.CultureInfo.InvariantCulture)}";
            if (reason is not null) return null;
            previous = t;
            if (w == 0) continue;
            terms[kept] = t;
            weights[kept++] = w;
        }
        if (kept < n)
        {
            Array.Resize(ref terms, kept);
            Array.Resize(ref weights, kept);
        }
        return new SparseSpillRecord(number, id, hasText ? text : null, terms, weights);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _stream.Dispose();
        _file.Dispose();
    }
}
