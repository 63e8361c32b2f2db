using System.Buffers.Binary;
using System.IO.Hashing;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Shoal.Engine.Snapshots;
using Shoal.Engine.Updates;

namespace Shoal.Engine.Tests.Robustness;

/// <summary>The update-batch codec (bytes read back from the update log in the snapshot store) under generated and mutated input.</summary>
public sealed class UpdateBatchPropertyTests
{
    private static UpdateBatch Batch(long sequence, (string Id, bool Delete, string? Text, float[]? Dense)[] ops) =>
        new(sequence, new DateTimeOffset(2026, 12, 4, 0, 0, 0, TimeSpan.Zero),
            [.. ops.Select(o => new DocumentUpdate { Id = o.Id, Delete = o.Delete, Text = o.Delete ? null : o.Text, Dense = o.Delete ? null : o.Dense })]);

    [Property(MaxTest = 200)]
    public bool Any_batch_round_trips_bit_for_bit(long sequence, NonNull<string>[] ids, string?[] texts, float[][] dense)
    {
        var ops = ids.Select((id, i) => (id.Get, i % 3 == 0, texts.Length > 0 ? texts[i % texts.Length] : null,
            dense.Length > 0 ? dense[i % dense.Length] : null)).ToArray();
        // Lone surrogates are not encodable as UTF-8: the encoder refuses them, which is the defined behaviour.
        if (ops.Any(o => !IsScalarText(o.Item1) || o.Item3 is { } t && !IsScalarText(t))) return true;
        var batch = Batch(sequence, ops);
        var bytes = UpdateBatchCodec.Encode(batch);
        var back = UpdateBatchCodec.Decode(bytes, "prop");
        return back.Sequence == sequence && back.Updates.Count == ops.Length
            && UpdateBatchCodec.Encode(back).AsSpan().SequenceEqual(bytes);
    }

    [Property(MaxTest = 300)]
    public void Arbitrary_bytes_decode_or_fail_with_InvalidDataException(byte[] data)
    {
        try
        {
            UpdateBatchCodec.Decode(data, "prop");
        }
        catch (InvalidDataException)
        {
        }
    }

    [Fact]
    public void Mutants_of_a_valid_batch_decode_or_fail_with_InvalidDataException()
    {
        var valid = UpdateBatchCodec.Encode(Batch(7, [("a", false, "tides and the moon", [1f, 2f]), ("b", true, null, null), ("ç✓", false, "x", null)]));
        for (int seed = 0; seed < 1500; seed++)
        {
            var mutant = Mutations.Mutate(valid, seed);
            var ex = Record.Exception(() => UpdateBatchCodec.Decode(mutant, "mutant"));
            Assert.True(ex is null or InvalidDataException, $"seed {seed}: {ex}");
            // With the checksum recomputed the structure itself is checked: lengths, counts, flags, UTF-8.
            var resealed = Reseal(mutant);
            ex = Record.Exception(() => UpdateBatchCodec.Decode(resealed, "resealed"));
            Assert.True(ex is null or InvalidDataException, $"seed {seed} (resealed): {ex}");
        }
    }

    [Fact]
    public void A_huge_count_with_a_valid_checksum_is_refused_without_allocating_it()
    {
        var valid = UpdateBatchCodec.Encode(Batch(1, [("a", false, "text", [1f, 2f, 3f])]));
        // The operation count sits after magic (6), format (1), sequence (8) and timestamp (8).
        foreach (uint huge in Mutations.HugeLengths)
        {
            var data = (byte[])valid.Clone();
            BinaryPrimitives.WriteUInt32LittleEndian(data.AsSpan(23), huge);
            long before = GC.GetAllocatedBytesForCurrentThread();
            Assert.Throws<InvalidDataException>(() => UpdateBatchCodec.Decode(Reseal(data), "huge"));
            Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20, $"count {huge} allocated {GC.GetAllocatedBytesForCurrentThread() - before} bytes");
        }
    }

    /// <summary>Recomputes the trailing XXH3 so a mutant passes the checksum and reaches the parser.</summary>
    internal static byte[] Reseal(byte[] data)
    {
        if (data.Length < 8) return data;
        var copy = (byte[])data.Clone();
        BinaryPrimitives.WriteUInt64LittleEndian(copy.AsSpan(copy.Length - 8), XxHash3.HashToUInt64(copy.AsSpan(0, copy.Length - 8)));
        return copy;
    }

    private static bool IsScalarText(string s)
    {
        for (int i = 0; i < s.Length; i++)
        {
            if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1])) { i++; continue; }
            if (char.IsSurrogate(s[i])) return false;
        }
        return true;
    }
}
