using System.Buffers.Binary;
using System.Text;

namespace Shoal.Engine.Tests.Robustness;

/// <summary>
/// A mutation corpus built from one valid input: every truncation length class, single bit flips,
/// bytes overwritten with 0x00/0xFF, 32-bit length fields replaced by huge or negative values,
/// duplicated and deleted spans, and invalid UTF-8 inserted. Deterministic for a seed, so a
/// failure names the seed that reproduces it.
/// </summary>
internal static class Mutations
{
    /// <summary>Values that break length and count fields: 2^31-1, 2^31, 2^32-1, -1, 2^30 and a few near the input size.</summary>
    public static readonly uint[] HugeLengths = [int.MaxValue, 0x8000_0000u, uint.MaxValue, 0x4000_0000u, 0x0100_0000u, 0xFFFF_FFFEu];

    /// <summary>Byte sequences that are not UTF-8: a lone continuation byte, an overlong encoding, a surrogate, a truncated sequence, 0xFF.</summary>
    public static readonly byte[][] InvalidUtf8 = [[0x80], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xE2, 0x82], [0xFF], [0xF4, 0x90, 0x80, 0x80]];

    /// <summary>One mutant of <paramref name="valid"/> chosen by <paramref name="seed"/>.</summary>
    public static byte[] Mutate(byte[] valid, int seed)
    {
        var rng = new Random(seed);
        var data = (byte[])valid.Clone();
        if (data.Length == 0) return [(byte)rng.Next(256)];
        int at = rng.Next(data.Length);
        switch (rng.Next(8))
        {
            case 0: // truncation
                return data[..rng.Next(data.Length)];
            case 1: // one bit flipped
                data[at] ^= (byte)(1 << rng.Next(8));
                return data;
            case 2: // a run of bytes set to 0x00 or 0xFF
                byte fill = rng.Next(2) == 0 ? (byte)0 : (byte)0xFF;
                for (int i = at; i < Math.Min(data.Length, at + 1 + rng.Next(8)); i++) data[i] = fill;
                return data;
            case 3: // a 32-bit field replaced by a huge length (aligned to 4, where binary formats keep their fields)
                int field = Math.Max(0, Math.Min(data.Length - 4, at & ~3));
                if (data.Length >= 4) BinaryPrimitives.WriteUInt32LittleEndian(data.AsSpan(field), HugeLengths[rng.Next(HugeLengths.Length)]);
                return data;
            case 4: // a span deleted
                int len = 1 + rng.Next(Math.Min(16, data.Length - at));
                return [.. data[..at], .. data[(at + len)..]];
            case 5: // a span duplicated
                int dup = 1 + rng.Next(Math.Min(16, data.Length - at));
                return [.. data[..(at + dup)], .. data[at..]];
            case 6: // invalid UTF-8 inserted
                return [.. data[..at], .. InvalidUtf8[rng.Next(InvalidUtf8.Length)], .. data[at..]];
            default: // a few random bytes
                for (int i = 0; i < 1 + rng.Next(4); i++) data[rng.Next(data.Length)] = (byte)rng.Next(256);
                return data;
        }
    }

    /// <summary>Text mutants for line formats: the byte mutants plus values that break number parsing.</summary>
    public static byte[] MutateText(string valid, int seed)
    {
        var rng = new Random(seed ^ 0x5A5A);
        if (rng.Next(4) != 0) return Mutate(Encoding.UTF8.GetBytes(valid), seed);
        string[] poison = ["NaN", "Infinity", "-Infinity", "1e999", "-1e999", "1e-999", "null", "[]", "{}", "\"\"", "18446744073709551616", "0x1F", "\u0000", "\t"];
        // Replace one number or string token with a poison value.
        var parts = valid.Split([',', ':', ' ', '\t'], StringSplitOptions.None);
        if (parts.Length == 0) return Encoding.UTF8.GetBytes(poison[rng.Next(poison.Length)]);
        int i = rng.Next(parts.Length);
        string target = parts[i].Trim('[', ']', '{', '}');
        string mutated = target.Length == 0 ? valid : ReplaceFirst(valid, target, poison[rng.Next(poison.Length)]);
        return Encoding.UTF8.GetBytes(mutated);
    }

    /// <summary>JSON nested <paramref name="depth"/> levels deep (arrays or objects).</summary>
    public static string DeepJson(int depth, bool objects) =>
        objects ? string.Concat(Enumerable.Repeat("{\"a\":", depth)) + "1" + new string('}', depth)
                : new string('[', depth) + "1" + new string(']', depth);

    private static string ReplaceFirst(string s, string what, string with)
    {
        int i = s.IndexOf(what, StringComparison.Ordinal);
        return i < 0 ? s : string.Concat(s.AsSpan(0, i), with, s.AsSpan(i + what.Length));
    }
}
