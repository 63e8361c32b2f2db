using Shoal.Engine.Sparse;

namespace Shoal.Engine.Tests.Sparse;

public sealed class SparseVocabularyTests
{
    private static readonly Lazy<SparseVocabulary> Bert = new(() => SparseVocabulary.Load(TestData.Require("tokenizers/bert-base-uncased-vocab.txt")));

    [Fact]
    public void Loads_the_bert_vocabulary_with_line_index_ids()
    {
        var vocab = Bert.Value;
        Assert.Equal(30522, vocab.Count);
        Assert.Equal("[PAD]", vocab.TokenOf(0));
        Assert.True(vocab.TryGetId("[CLS]", out int cls));
        Assert.Equal(101, cls);
        Assert.True(vocab.TryGetId("brother", out int brother));
        Assert.Equal("brother", vocab.TokenOf(brother));
        Assert.True(vocab.TryGetId("##ing", out _));
        Assert.False(vocab.TryGetId("Brother", out _));
        Assert.Throws<ArgumentOutOfRangeException>(() => vocab.TokenOf(30522));
    }

    [Fact]
    public void Encode_maps_tokens_and_drops_zero_weights()
    {
        var vocab = Bert.Value;
        var v = vocab.Encode([new("the", 0.5f), new("cat", 2f), new("dog", 0f)]);
        Assert.Equal(2, v.Count);
        vocab.TryGetId("cat", out int cat);
        Assert.Contains(cat, v.Terms);
        Assert.Equal(2f, v.Weights[Array.IndexOf(v.Terms, cat)]);
    }

    [Fact]
    public void Encode_rejects_an_unknown_token_naming_it()
    {
        var ex = Assert.Throws<SparseVectorException>(() => Bert.Value.Encode([new("the", 1f), new("zzqqxxnotatoken", 1f)]));
        Assert.Contains("'zzqqxxnotatoken'", ex.Message);
        Assert.Contains("not in the vocabulary", ex.Message);
    }

    [Theory]
    [InlineData(-0.5f, "negative")]
    [InlineData(float.NaN, "NaN")]
    [InlineData(float.PositiveInfinity, "infinite")]
    [InlineData(float.NegativeInfinity, "infinite")]
    public void Encode_rejects_bad_weights_naming_the_token(float weight, string what)
    {
        var ex = Assert.Throws<SparseVectorException>(() => Bert.Value.Encode([new("the", 1f), new("cat", weight)]));
        Assert.Contains("'cat'", ex.Message);
        Assert.Contains(what, ex.Message);
    }

    [Fact]
    public void Encode_rejects_a_repeated_token()
    {
        var ex = Assert.Throws<SparseVectorException>(() => Bert.Value.Encode([new("cat", 1f), new("cat", 2f)]));
        Assert.Contains("'cat'", ex.Message);
    }
}
