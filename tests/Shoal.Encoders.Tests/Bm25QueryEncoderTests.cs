namespace Shoal.Encoders.Tests;

public sealed class Bm25QueryEncoderTests
{
    [Fact]
    public void Terms_are_analysed_and_counted_in_order_of_first_occurrence()
    {
        var encoder = new Bm25QueryEncoder();
        Assert.Equal(EncoderKind.Bm25, encoder.Kind);
        Assert.Equal("bm25:english", encoder.Name);
        var terms = encoder.Encode("The running dogs and the dog's barking dogs");
        Assert.Equal([new TermCount("run", 1), new TermCount("dog", 3), new TermCount("bark", 1)], terms);
    }

    [Fact]
    public async Task A_batch_holds_one_term_list_per_text()
    {
        var batch = await new Bm25QueryEncoder().EncodeAsync(["vitamin D deficiency", "the and of", ""], CancellationToken.None);
        Assert.Equal(EncoderKind.Bm25, batch.Kind);
        Assert.Equal(3, batch.Count);
        Assert.Equal(["vitamin", "d", "defici"], batch.Terms![0].Select(t => t.Term));
        Assert.Empty(batch.Terms![1]);
        Assert.Empty(batch.Terms![2]);
        Assert.Equal(EncoderKind.Bm25, batch[0].Kind);
    }
}
