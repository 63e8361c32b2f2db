using Microsoft.ML.OnnxRuntime;
using Shoal.Engine.Sparse;

namespace Shoal.Encoders.Tests;

public sealed class SpladeOnnxEncoderTests
{
    private const float Tolerance = 1e-4f;

    private static readonly Lazy<WordPieceTokenizer> Tokenizer = new(() => WordPieceTokenizer.FromVocabFile(TestPaths.VocabTxt));

    private static SpladeOnnxEncoder Create(string model, float threshold = 0, int topK = 0) =>
#pragma warning disable CA2000 // the encoder owns the session and disposes it
        new(OnnxSessionFactory.Create(TestPaths.Model(model)), Tokenizer.Value, threshold, topK);
#pragma warning restore CA2000

    [Fact]
    public void Top_terms_match_the_numpy_sidecar()
    {
        var sidecar = FixtureSidecar.Instance;
        var expected = sidecar.TopTerms("splade-tiny.onnx");
        using var encoder = Create("splade-tiny.onnx", topK: expected[0].Length);
        Assert.Equal(SpladeOutputMode.Logits, encoder.Mode);
        var result = encoder.EncodeTokens(sidecar.Batch(withTokenTypes: false));
        Assert.Equal(EncoderKind.Sparse, result.Kind);
        for (int b = 0; b < expected.Length; b++) AssertSameTerms(expected[b], result.Sparse![b]);
    }

    [Fact]
    public void Activation_and_max_pooling_match_a_hand_computation_from_the_logits()
    {
        var sidecar = FixtureSidecar.Instance;
        var batch = sidecar.Batch(withTokenTypes: false);
        using var session = new InferenceSession(TestPaths.Model("splade-tiny.onnx"));
        long[] shape = [batch.BatchSize, batch.SequenceLength];
        using var ids = OrtValue.CreateTensorValueFromMemory(batch.InputIds, shape);
        using var mask = OrtValue.CreateTensorValueFromMemory(batch.AttentionMask, shape);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, ["input_ids", "attention_mask"], [ids, mask], ["logits"]);
        float[] logits = outputs[0].GetTensorDataAsSpan<float>().ToArray();
        int seq = batch.SequenceLength, vocab = 30522;

        using var encoder = Create("splade-tiny.onnx");
        var result = encoder.EncodeTokens(batch);
        for (int b = 0; b < batch.BatchSize; b++)
        {
            // w[v] = max over unmasked tokens of log(1 + max(0, logit)), applied token by token.
            var expected = new SortedDictionary<int, float>();
            for (int v = 0; v < vocab; v++)
            {
                float w = 0;
                for (int s = 0; s < seq; s++)
                {
                    if (batch.AttentionMask[b * seq + s] == 0) continue;
                    w = Math.Max(w, MathF.Log(1 + Math.Max(0, logits[(b * seq + s) * vocab + v])));
                }
                if (w > 0) expected[v] = w;
            }
            var actual = result.Sparse![b];
            Assert.Equal(sidecar.PositiveTerms[b], expected.Count);
            Assert.Equal(expected.Keys, actual.Terms);
            Assert.Equal(expected.Values, actual.Weights);
        }

        // Padding does not leak: row 0 alone (no padding) gives the same vector as inside the padded batch.
        int length = batch.Lengths[0];
        var alone = encoder.EncodeTokens(TokenizedBatch.FromRows([batch.InputIds.Take(length).Select(v => (int)v).ToArray()])).Sparse![0];
        Assert.Equal(result.Sparse![0].Terms, alone.Terms);
        for (int i = 0; i < alone.Count; i++) Assert.True(Math.Abs(result.Sparse![0].Weights[i] - alone.Weights[i]) <= Tolerance);
    }

    [Fact]
    public void Threshold_and_top_k_keep_the_heaviest_terms()
    {
        var batch = FixtureSidecar.Instance.Batch(withTokenTypes: false);
        using var all = Create("splade-tiny.onnx");
        using var thresholded = Create("splade-tiny.onnx", threshold: 1.5f);
        using var top5 = Create("splade-tiny.onnx", topK: 5);
        var full = all.EncodeTokens(batch).Sparse!;
        var cut = thresholded.EncodeTokens(batch).Sparse!;
        var top = top5.EncodeTokens(batch).Sparse!;
        for (int b = 0; b < batch.BatchSize; b++)
        {
            var expectedCut = full[b].Terms.Zip(full[b].Weights).Where(p => p.Second >= 1.5f).ToList();
            Assert.Equal(expectedCut.Select(p => p.First), cut[b].Terms);
            Assert.Equal(5, top[b].Count);
            var heaviest = full[b].Terms.Zip(full[b].Weights).OrderByDescending(p => p.Second).ThenBy(p => p.First).Take(5).Select(p => p.First).Order();
            Assert.Equal(heaviest, top[b].Terms);
            top[b].Validate();
        }
    }

    [Fact]
    public void Models_that_output_id_weight_pairs_are_detected_and_agree_with_logits()
    {
        var sidecar = FixtureSidecar.Instance;
        var batch = sidecar.Batch(withTokenTypes: false);
        var expected = sidecar.TopTerms("splade-pairs-tiny.onnx");
        using var pairs = Create("splade-pairs-tiny.onnx");
        using var logits = Create("splade-tiny.onnx", topK: expected[0].Length);
        Assert.Equal(SpladeOutputMode.Pairs, pairs.Mode);
        Assert.Equal(["indices", "weights"], pairs.OutputNames);
        var fromPairs = pairs.EncodeTokens(batch).Sparse!;
        var fromLogits = logits.EncodeTokens(batch).Sparse!;
        for (int b = 0; b < batch.BatchSize; b++)
        {
            AssertSameTerms(expected[b], fromPairs[b]);
            Assert.Equal(fromLogits[b].Terms, fromPairs[b].Terms);
        }
    }

    [Fact]
    public async Task Texts_encode_through_the_tokenizer()
    {
        using var encoder = Create("splade-tiny.onnx", topK: 32);
        var batch = await encoder.EncodeAsync(["what is the weather in ny now", "hello world"], CancellationToken.None);
        Assert.Equal(2, batch.Count);
        Assert.All(batch.Sparse!, v => { Assert.Equal(32, v.Count); v.Validate(); });
        // Same ids in, same vector out, whatever else is in the batch.
        var alone = encoder.Encode(["hello world"]);
        Assert.Equal(alone.Sparse![0], batch.Sparse![1]);
    }

    [Fact]
    public void A_tokenizer_with_another_vocabulary_is_refused_at_construction()
    {
        string vocab = Path.Combine(Path.GetTempPath(), $"shoal-small-vocab-{Environment.ProcessId}.txt");
        File.WriteAllLines(vocab, ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello"]);
        try
        {
            var small = WordPieceTokenizer.FromVocabFile(vocab);
            using var session = OnnxSessionFactory.Create(TestPaths.Model("splade-tiny.onnx"));
            var e = Assert.Throws<EncoderConfigurationException>(() => new SpladeOnnxEncoder(session, small));
            Assert.Contains("30522", e.Message, StringComparison.Ordinal);
            Assert.Contains("6", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(vocab);
        }
    }

    private static void AssertSameTerms((int Id, float Weight)[] expected, SparseVector actual)
    {
        Assert.Equal(expected.Select(p => p.Id).Order(), actual.Terms);
        var byId = expected.ToDictionary(p => p.Id, p => p.Weight);
        for (int i = 0; i < actual.Count; i++)
            Assert.True(Math.Abs(byId[actual.Terms[i]] - actual.Weights[i]) <= Tolerance, $"term {actual.Terms[i]}: expected {byId[actual.Terms[i]]}, got {actual.Weights[i]}");
    }
}
