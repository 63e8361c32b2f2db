using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;

namespace Shoal.Engine.Updates;

/// <summary>
/// The binary form of an <see cref="UpdateBatch"/> in the update log: magic "SHUPD1", a format
/// byte, sequence, timestamp and operation count, then per operation a flags byte and its
/// length-prefixed fields (UTF-8 strings, little-endian int32/float32 arrays), and last the
/// XXH3-64 of everything before it, so a torn or altered object is detected, never applied.
/// </summary>
public static class UpdateBatchCodec
{
    private static readonly byte[] Magic = "SHUPD1"u8.ToArray();
    private const byte Format = 1;
    private const byte FlagDelete = 1, FlagTitle = 2, FlagText = 4, FlagSparse = 8, FlagDense = 16;
    private static readonly UTF8Encoding Utf8 = new(false, throwOnInvalidBytes: true);

    /// <summary>Serialises a batch.</summary>
    public static byte[] Encode(UpdateBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var w = new ArrayBufferWriterLite(256 + 64 * batch.Updates.Count);
        w.Write(Magic);
        w.WriteByte(Format);
        w.WriteInt64(batch.Sequence);
        w.WriteInt64(batch.CreatedUtc.UtcTicks);
        w.WriteInt32(batch.Updates.Count);
        foreach (var u in batch.Updates)
        {
            byte flags = (byte)((u.Delete ? FlagDelete : 0) | (u.Title is null ? 0 : FlagTitle) | (u.Text is null ? 0 : FlagText)
                | (u.SparseTerms is null ? 0 : FlagSparse) | (u.Dense is null ? 0 : FlagDense));
            w.WriteByte(flags);
            w.WriteString(u.Id);
            if (u.Title is not null) w.WriteString(u.Title);
            if (u.Text is not null) w.WriteString(u.Text);
            if (u.SparseTerms is not null)
            {
                var weights = u.SparseWeights ?? throw new ArgumentException($"Document '{u.Id}' has sparse terms without weights.");
                if (weights.Length != u.SparseTerms.Length) throw new ArgumentException($"Document '{u.Id}': sparse terms and weights differ in length.");
                w.WriteInt32(u.SparseTerms.Length);
                foreach (int t in u.SparseTerms) w.WriteInt32(t);
                foreach (float x in weights) w.WriteSingle(x);
            }
            if (u.Dense is not null)
            {
                w.WriteInt32(u.Dense.Length);
                foreach (float x in u.Dense) w.WriteSingle(x);
            }
        }
        w.WriteUInt64(XxHash3.HashToUInt64(w.Written));
        return w.Written.ToArray();
    }

    /// <summary>Parses a batch; any damage is an <see cref="InvalidDataException"/> naming <paramref name="source"/>.</summary>
    public static UpdateBatch Decode(ReadOnlySpan<byte> data, string source)
    {
        string Fail(string what) => throw new InvalidDataException($"Update batch '{source}' is invalid: {what}.");
        if (data.Length < Magic.Length + 1 + 8 + 8 + 4 + 8) Fail($"{data.Length} bytes is too short");
        if (!data[..Magic.Length].SequenceEqual(Magic)) Fail("it does not start with SHUPD1");
        var body = data[..^8];
        ulong expected = BinaryPrimitives.ReadUInt64LittleEndian(data[^8..]);
        if (XxHash3.HashToUInt64(body) != expected) Fail("its checksum does not match (torn or altered)");
        var r = new Reader(body[Magic.Length..], source);
        if (r.Byte() != Format) Fail("unknown format");
        long sequence = r.Int64();
        long ticks = r.Int64();
        if (ticks < DateTimeOffset.MinValue.UtcTicks || ticks > DateTimeOffset.MaxValue.UtcTicks) Fail("bad timestamp");
        int count = r.Count(1);
        var updates = new DocumentUpdate[count];
        for (int i = 0; i < count; i++)
        {
            byte flags = r.Byte();
            if ((flags & ~(FlagDelete | FlagTitle | FlagText | FlagSparse | FlagDense)) != 0) Fail($"operation {i} has unknown flags");
            string id = r.String();
            string? title = (flags & FlagTitle) != 0 ? r.String() : null;
            string? text = (flags & FlagText) != 0 ? r.String() : null;
            int[]? terms = null;
            float[]? weights = null;
            if ((flags & FlagSparse) != 0)
            {
                int n = r.Count(8);
                terms = new int[n];
                weights = new float[n];
                for (int j = 0; j < n; j++) terms[j] = r.Int32();
                for (int j = 0; j < n; j++) weights[j] = r.Single();
            }
            float[]? dense = null;
            if ((flags & FlagDense) != 0)
            {
                int n = r.Count(4);
                dense = new float[n];
                for (int j = 0; j < n; j++) dense[j] = r.Single();
            }
            updates[i] = new DocumentUpdate { Id = id, Delete = (flags & FlagDelete) != 0, Title = title, Text = text, SparseTerms = terms, SparseWeights = weights, Dense = dense };
        }
        if (!r.AtEnd) Fail("trailing bytes");
        return new UpdateBatch(sequence, new DateTimeOffset(ticks, TimeSpan.Zero), updates);
    }

    private ref struct Reader(ReadOnlySpan<byte> data, string source)
    {
        private ReadOnlySpan<byte> _data = data;
        private readonly string _source = source;

        public readonly bool AtEnd => _data.IsEmpty;

        private ReadOnlySpan<byte> Take(int n)
        {
            if (n < 0 || n > _data.Length) throw new InvalidDataException($"Update batch '{_source}' is invalid: it is truncated.");
            var s = _data[..n];
            _data = _data[n..];
            return s;
        }

        public byte Byte() => Take(1)[0];
        public int Int32() => BinaryPrimitives.ReadInt32LittleEndian(Take(4));
        public long Int64() => BinaryPrimitives.ReadInt64LittleEndian(Take(8));
        public float Single() => BinaryPrimitives.ReadSingleLittleEndian(Take(4));

        /// <summary>A count whose items take at least <paramref name="minBytes"/> each: never more than the bytes left allow.</summary>
        public int Count(int minBytes)
        {
            int n = Int32();
            if (n < 0 || (long)n * minBytes > _data.Length) throw new InvalidDataException($"Update batch '{_source}' is invalid: a count of {n} exceeds the data.");
            return n;
        }

        public string String()
        {
            int n = Count(1);
            try
            {
                return Utf8.GetString(Take(n));
            }
            catch (DecoderFallbackException)
            {
                throw new InvalidDataException($"Update batch '{_source}' is invalid: a string is not UTF-8.");
            }
        }
    }

    /// <summary>A growable byte buffer with little-endian writers.</summary>
    private sealed class ArrayBufferWriterLite(int capacity)
    {
        private byte[] _buffer = new byte[Math.Max(64, capacity)];
        private int _length;

        public ReadOnlySpan<byte> Written => _buffer.AsSpan(0, _length);

        private Span<byte> Grow(int n)
        {
            if (_length + n > _buffer.Length) Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _length + n));
            var s = _buffer.AsSpan(_length, n);
            _length += n;
            return s;
        }

        public void Write(ReadOnlySpan<byte> bytes) => bytes.CopyTo(Grow(bytes.Length));
        public void WriteByte(byte b) => Grow(1)[0] = b;
        public void WriteInt32(int v) => BinaryPrimitives.WriteInt32LittleEndian(Grow(4), v);
        public void WriteInt64(long v) => BinaryPrimitives.WriteInt64LittleEndian(Grow(8), v);
        public void WriteUInt64(ulong v) => BinaryPrimitives.WriteUInt64LittleEndian(Grow(8), v);
        public void WriteSingle(float v) => BinaryPrimitives.WriteSingleLittleEndian(Grow(4), v);

        public void WriteString(string s)
        {
            int n = Utf8.GetByteCount(s);
            WriteInt32(n);
            Utf8.GetBytes(s, Grow(n));
        }
    }
}
