namespace Shoal.Encoders.Tests;

public sealed class InferenceFreeSparseEncoderTests
{
    private static readonly Lazy<InferenceFreeSparseEncoder> Encoder = new(() =>
        InferenceFreeSparseEncoder.Load(WordPieceTokenizer.FromTokenizerJson(TestPaths.OpenSearchTokenizerJson), TestPaths.OpenSearchIdfJson));

    [Fact]
    public void Published_idf_values_are_reproduced()
    {
        var encoder = Encoder.Value;
        var vector = encoder.Encode("ny weather now");
        var tokenizer = encoder.Tokenizer;
        var byToken = vector.Terms.Zip(vector.Weights).ToDictionary(p => tokenizer.TokenOf(p.First), p => p.Second);
        Assert.Equal(3, byToken.Count);
        Assert.Equal(5.7729, byToken["ny"], 4);
        Assert.Equal(4.5684, byToken["weather"], 4);
        Assert.Equal(3.5895, byToken["now"], 4);
        Assert.Equal([2085, 4633, 6396], vector.Terms); // now, weather, ny: term ids are WordPiece ids, ascending
        vector.Validate();
    }

    [Fact]
    public void Each_distinct_token_counts_once_and_special_and_unknown_tokens_are_dropped()
    {
        var encoder = Encoder.Value;
        Assert.Equal(encoder.Encode("weather"), encoder.Encode("Weather weather WEATHER"));
        var withUnknown = encoder.Encode("😀 weather [SEP]");
        var tokens = withUnknown.Terms.Select(encoder.Tokenizer.TokenOf).ToList();
        Assert.Contains("weather", tokens);
        Assert.DoesNotContain("[UNK]", tokens);
        Assert.DoesNotContain(encoder.Tokenizer.SepId, withUnknown.Terms);
        Assert.Equal(0, encoder.Encode("").Count);
        // Sub-word pieces are terms of their own, weighted by their own entry.
        var pieces = encoder.Encode("unaffable");
        Assert.Equal(["##ble", "##ffa", "una"], pieces.Terms.Select(encoder.Tokenizer.TokenOf).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void A_token_missing_from_the_table_weighs_one()
    {
        var tokenizer = WordPieceTokenizer.FromVocabFile(TestPaths.VocabTxt);
        var encoder = new InferenceFreeSparseEncoder(tokenizer, new Dictionary<string, float> { ["weather"] = 4.5f });
        var vector = encoder.Encode("weather now");
        Assert.Equal([1.0f, 4.5f], vector.Weights); // now (2085) first: ascending ids
    }

    [Fact]
    public async Task Batch_encoding_is_per_text()
    {
        var batch = await Encoder.Value.EncodeAsync(["ny weather now", "", "now"], CancellationToken.None);
        Assert.Equal(EncoderKind.Sparse, batch.Kind);
        Assert.Equal([3, 0, 1], batch.Sparse!.Select(v => v.Count));
    }

    [Fact]
    public void A_missing_idf_file_is_a_configuration_error()
    {
        var tokenizer = WordPieceTokenizer.FromVocabFile(TestPaths.VocabTxt);
        string path = Path.Combine(Path.GetTempPath(), "shoal-no-idf.json");
        var e = Assert.Throws<EncoderConfigurationException>(() => InferenceFreeSparseEncoder.Load(tokenizer, path));
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
    }
}
