using Shoal.Engine.Snapshots;
using Shoal.Engine.Updates;
using Xunit;

namespace Shoal.Engine.Tests.Updates;

public sealed class UpdateBatchCodecTests
{
    private static UpdateBatch Sample() => new(42, new DateTimeOffset(2026, 11, 23, 10, 0, 0, TimeSpan.Zero),
    [
        new DocumentUpdate { Id = "a", Title = "Tïtle ✓", Text = "", SparseTerms = [5, 1], SparseWeights = [0.25f, 3f], Dense = [1f, -0f, float.Epsilon] },
        new DocumentUpdate { Id = "b", Delete = true },
        new DocumentUpdate { Id = "c", Text = "only text" },
    ]);

    [Fact]
    public void A_batch_round_trips_exactly()
    {
        var batch = Sample();
        var decoded = UpdateBatchCodec.Decode(UpdateBatchCodec.Encode(batch), "test");
        Assert.Equal(batch.Sequence, decoded.Sequence);
        Assert.Equal(batch.CreatedUtc, decoded.CreatedUtc);
        Assert.Equal(3, decoded.Updates.Count);
        var a = decoded.Updates[0];
        Assert.Equal(("a", "Tïtle ✓", "", false), (a.Id, a.Title, a.Text, a.Delete));
        Assert.Equal([5, 1], a.SparseTerms!);
        Assert.Equal([0.25f, 3f], a.SparseWeights!);
        Assert.Equal(batch.Updates[0].Dense!.Select(BitConverter.SingleToInt32Bits), a.Dense!.Select(BitConverter.SingleToInt32Bits));
        Assert.True(decoded.Updates[1].Delete);
        Assert.Null(decoded.Updates[1].Text);
        Assert.Equal("only text", decoded.Updates[2].Text);
        Assert.Null(decoded.Updates[2].Title);
        Assert.Null(decoded.Updates[2].Dense);
    }

    [Fact]
    public void Every_truncation_and_every_flipped_bit_is_an_error_naming_the_source()
    {
        var bytes = UpdateBatchCodec.Encode(Sample());
        for (int n = 0; n < bytes.Length; n++)
        {
            var e = Assert.Throws<InvalidDataException>(() => UpdateBatchCodec.Decode(bytes.AsSpan(0, n), "log/7.upd"));
            Assert.Contains("log/7.upd", e.Message);
        }
        for (int i = 0; i < bytes.Length; i++)
        {
            for (int bit = 0; bit < 8; bit += 3)
            {
                var copy = (byte[])bytes.Clone();
                copy[i] ^= (byte)(1 << bit);
                Assert.Throws<InvalidDataException>(() => UpdateBatchCodec.Decode(copy, "log/7.upd"));
            }
        }
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("x", "no text")]
    public void Validation_names_the_document_and_the_rule(string id, string expected)
    {
        var schema = new IndexSchema(new TextChannelSchema());
        Assert.Contains(expected, UpdateValidation.Check(new DocumentUpdate { Id = id }, schema));
    }

    [Fact]
    public void Validation_checks_every_channel()
    {
        var schema = new IndexSchema(new TextChannelSchema(), new SparseChannelSchema("v", "0", 10, 2f), new DenseChannelSchema(3, "cosine"));
        DocumentUpdate Good() => new() { Id = "d", Text = "t", SparseTerms = [1, 2], SparseWeights = [1f, 0f], Dense = [1f, 0f, 0f] };
        Assert.Null(UpdateValidation.Check(Good(), schema));
        Assert.Null(UpdateValidation.Check(new DocumentUpdate { Id = "d", Delete = true }, schema));
        Assert.Contains("takes only the id", UpdateValidation.Check(new DocumentUpdate { Id = "d", Delete = true, Text = "x" }, schema));
        Assert.Contains("outside the vocabulary", UpdateValidation.Check(Good() with { SparseTerms = [1, 10] }, schema));
        Assert.Contains("appears twice", UpdateValidation.Check(Good() with { SparseTerms = [1, 1] }, schema));
        Assert.Contains("not a finite non-negative", UpdateValidation.Check(Good() with { SparseWeights = [1f, -1f] }, schema));
        Assert.Contains("differ in length", UpdateValidation.Check(Good() with { SparseWeights = [1f] }, schema));
        Assert.Contains("no sparse vector", UpdateValidation.Check(Good() with { SparseTerms = null, SparseWeights = null }, schema));
        Assert.Contains("3", UpdateValidation.Check(Good() with { Dense = [1f, 2f] }, schema));
        Assert.Contains("NaN", UpdateValidation.Check(Good() with { Dense = [1f, float.NaN, 0f] }, schema));
        Assert.Contains("all zeros", UpdateValidation.Check(Good() with { Dense = [0f, 0f, 0f] }, schema));
        Assert.Contains("control", UpdateValidation.Check(Good() with { Id = "a\nb" }, schema));
        Assert.Contains("at most 512", UpdateValidation.Check(Good() with { Id = new string('x', 513) }, schema));
        var textOnly = new IndexSchema(new TextChannelSchema());
        Assert.Contains("no dense channel", UpdateValidation.Check(new DocumentUpdate { Id = "d", Text = "t", Dense = [1f] }, textOnly));
        Assert.Contains("no sparse channel", UpdateValidation.Check(new DocumentUpdate { Id = "d", Text = "t", SparseTerms = [1], SparseWeights = [1f] }, textOnly));
    }
}
