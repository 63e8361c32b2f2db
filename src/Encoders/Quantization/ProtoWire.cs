using System.Buffers.Binary;
using System.Text;

namespace Shoal.Encoders.Quantization;

/// <summary>One field of a protocol-buffers message: its number, wire type and value.</summary>
/// <param name="Number">The field number.</param>
/// <param name="WireType">0 varint, 1 fixed 64-bit, 2 length-delimited, 5 fixed 32-bit.</param>
/// <param name="Varint">The value of a varint field.</param>
/// <param name="Bytes">The bytes of a length-delimited or fixed field.</param>
internal readonly record struct ProtoField(int Number, int WireType, ulong Varint, ReadOnlyMemory<byte> Bytes)
{
    /// <summary>A length-delimited field read as UTF-8 text.</summary>
    public string Text => Encoding.UTF8.GetString(Bytes.Span);
}

/// <summary>
/// The protocol-buffers wire format, as far as an ONNX model rewrite needs it: a message read as its
/// list of fields (unknown ones kept as they are) and written back field by field.
/// </summary>
internal static class ProtoWire
{
    /// <summary>The fields of a message, in order.</summary>
    /// <exception cref="InvalidDataException">The bytes are not a well-formed message.</exception>
    public static List<ProtoField> Read(ReadOnlyMemory<byte> message)
    {
        var fields = new List<ProtoField>();
        var span = message.Span;
        int i = 0;
        while (i < span.Length)
        {
            ulong key = ReadVarint(span, ref i);
            int number = (int)(key >> 3), wire = (int)(key & 7);
            if (number <= 0) throw new InvalidDataException($"Field number {number} at byte {i}.");
            switch (wire)
            {
                case 0:
                    fields.Add(new ProtoField(number, wire, ReadVarint(span, ref i), ReadOnlyMemory<byte>.Empty));
                    break;
                case 1:
                    Need(span, i, 8);
                    fields.Add(new ProtoField(number, wire, 0, message.Slice(i, 8)));
                    i += 8;
                    break;
                case 2:
                    ulong length = ReadVarint(span, ref i);
                    if (length > (ulong)(span.Length - i)) throw new InvalidDataException($"Field {number} claims {length} bytes; {span.Length - i} are left.");
                    fields.Add(new ProtoField(number, wire, 0, message.Slice(i, (int)length)));
                    i += (int)length;
                    break;
                case 5:
                    Need(span, i, 4);
                    fields.Add(new ProtoField(number, wire, 0, message.Slice(i, 4)));
                    i += 4;
                    break;
                default:
                    throw new InvalidDataException($"Wire type {wire} (field {number}) is not supported.");
            }
        }
        return fields;
    }

    /// <summary>The varints packed in a length-delimited field (a packed repeated int64).</summary>
    public static List<long> PackedVarints(ReadOnlySpan<byte> bytes)
    {
        var values = new List<long>();
        int i = 0;
        while (i < bytes.Length) values.Add((long)ReadVarint(bytes, ref i));
        return values;
    }

    private static void Need(ReadOnlySpan<byte> span, int at, int count)
    {
        if (span.Length - at < count) throw new InvalidDataException($"Message ends inside a fixed field at byte {at}.");
    }

    private static ulong ReadVarint(ReadOnlySpan<byte> span, ref int i)
    {
        ulong value = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            if (i >= span.Length) throw new InvalidDataException("Message ends inside a varint.");
            byte b = span[i++];
            value |= (ulong)(b & 0x7f) << shift;
            if (b < 0x80) return value;
        }
        throw new InvalidDataException("Varint longer than 10 bytes.");
    }

    /// <summary>Writes a field as it was read.</summary>
    public static void Write(Stream output, ProtoField field)
    {
        switch (field.WireType)
        {
            case 0:
                WriteVarintField(output, field.Number, field.Varint);
                break;
            case 2:
                WriteBytesField(output, field.Number, field.Bytes.Span);
                break;
            default:
                WriteVarint(output, ((ulong)field.Number << 3) | (uint)field.WireType);
                output.Write(field.Bytes.Span);
                break;
        }
    }

    /// <summary>Writes a varint field.</summary>
    public static void WriteVarintField(Stream output, int number, ulong value)
    {
        WriteVarint(output, (ulong)number << 3);
        WriteVarint(output, value);
    }

    /// <summary>Writes a length-delimited field.</summary>
    public static void WriteBytesField(Stream output, int number, ReadOnlySpan<byte> value)
    {
        WriteVarint(output, ((ulong)number << 3) | 2);
        WriteVarint(output, (ulong)value.Length);
        output.Write(value);
    }

    /// <summary>Writes a string field (UTF-8).</summary>
    public static void WriteStringField(Stream output, int number, string value) => WriteBytesField(output, number, Encoding.UTF8.GetBytes(value));

    /// <summary>Writes a packed repeated varint field.</summary>
    public static void WritePackedVarints(Stream output, int number, IEnumerable<long> values)
    {
        using var packed = new MemoryStream();
        foreach (long v in values) WriteVarint(packed, (ulong)v);
        WriteBytesField(output, number, packed.ToArray());
    }

    /// <summary>A message built by <paramref name="write"/>, as bytes.</summary>
    public static byte[] Message(Action<Stream> write)
    {
        ArgumentNullException.ThrowIfNull(write);
        using var stream = new MemoryStream();
        write(stream);
        return stream.ToArray();
    }

    /// <summary>Little-endian floats of a raw_data field.</summary>
    public static float[] Floats(ReadOnlySpan<byte> raw)
    {
        var values = new float[raw.Length / 4];
        for (int i = 0; i < values.Length; i++) values[i] = BinaryPrimitives.ReadSingleLittleEndian(raw.Slice(i * 4, 4));
        return values;
    }

    private static void WriteVarint(Stream output, ulong value)
    {
        Span<byte> buffer = stackalloc byte[10];
        int n = 0;
        while (value >= 0x80)
        {
            buffer[n++] = (byte)(value | 0x80);
            value >>= 7;
        }
        buffer[n++] = (byte)value;
        output.Write(buffer[..n]);
    }
}
