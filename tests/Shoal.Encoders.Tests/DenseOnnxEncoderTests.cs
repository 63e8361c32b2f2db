using Microsoft.ML.OnnxRuntime;

namespace Shoal.Encoders.Tests;

public sealed class DenseOnnxEncoderTests
{
    private const float Tolerance = 1e-4f;

    private static DenseOnnxEncoder Create(PoolingMode pooling, bool normalize) =>
#pragma warning disable CA2000 // the encoder owns the session and disposes it
        new(OnnxSessionFactory.Create(TestPaths.Model("dense-tiny.onnx")), WordPieceTokenizer.FromVocabFile(TestPaths.VocabTxt), pooling, normalize);
#pragma warning restore CA2000

    [Theory]
    [InlineData(PoolingMode.Mean, false, "mean")]
    [InlineData(PoolingMode.Mean, true, "mean_normalized")]
    [InlineData(PoolingMode.Cls, false, "cls")]
    [InlineData(PoolingMode.Cls, true, "cls_normalized")]
    public void Pooled_vectors_match_the_numpy_sidecar(PoolingMode pooling, bool normalize, string key)
    {
        using var encoder = Create(pooling, normalize);
        var sidecar = FixtureSidecar.Instance;
        var result = encoder.EncodeTokens(sidecar.Batch());
        var expected = sidecar.Dense(key);
        Assert.Equal(EncoderKind.Dense, result.Kind);
        Assert.Equal(expected.Length, result.Count);
        Assert.Equal(8, result.Dimensions);
        for (int b = 0; b < expected.Length; b++) AssertClose(expected[b], result.DenseRow(b));
    }

    [Fact]
    public void Model_output_matches_numpy_and_mean_pooling_matches_a_hand_computation()
    {
        var sidecar = FixtureSidecar.Instance;
        var batch = sidecar.Batch();

        // The raw model output, straight from ONNX Runtime.
        using var session = new InferenceSession(TestPaths.Model("dense-tiny.onnx"));
        long[] shape = [batch.BatchSize, batch.SequenceLength];
        using var ids = OrtValue.CreateTensorValueFromMemory(batch.InputIds, shape);
        using var mask = OrtValue.CreateTensorValueFromMemory(batch.AttentionMask, shape);
        using var types = OrtValue.CreateTensorValueFromMemory(batch.TokenTypeIds, shape);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, ["input_ids", "attention_mask", "token_type_ids"], [ids, mask, types], ["last_hidden_state"]);
        float[] hidden = outputs[0].GetTensorDataAsSpan<float>().ToArray();
        int seq = batch.SequenceLength, dims = 8;
        var numpy = sidecar.LastHiddenState;
        for (int b = 0; b < batch.BatchSize; b++)
            for (int s = 0; s < seq; s++)
                AssertClose(numpy[b][s], hidden.AsSpan((b * seq + s) * dims, dims));

        // Mean over the tokens whose mask is 1 (padding excluded), then L2 normalisation, by hand.
        using var encoder = Create(PoolingMode.Mean, normalize: true);
        var result = encoder.EncodeTokens(batch);
        for (int b = 0; b < batch.BatchSize; b++)
        {
            var expected = new float[dims];
            int n = 0;
            for (int s = 0; s < seq; s++)
            {
                if (batch.AttentionMask[b * seq + s] == 0) continue;
                n++;
                for (int d = 0; d < dims; d++) expected[d] += hidden[(b * seq + s) * dims + d];
            }
            float norm = MathF.Sqrt(expected.Sum(v => (v / n) * (v / n)));
            for (int d = 0; d < dims; d++) expected[d] = expected[d] / n / norm;
            AssertClose(expected, result.DenseRow(b));
            Assert.Equal(1.0, Math.Sqrt(result.DenseRow(b).ToArray().Sum(v => (double)v * v)), 5);
        }
    }

    [Fact]
    public void Token_type_ids_are_detected_and_fed()
    {
        using var encoder = Create(PoolingMode.Mean, false);
        Assert.True(encoder.UsesTokenTypeIds);
        Assert.Equal("last_hidden_state", encoder.OutputName);
        Assert.Equal("cpu", encoder.ExecutionProvider);
        // The sidecar's second row has segment-B tokens: its vector differs from the all-zero-type one.
        var withTypes = encoder.EncodeTokens(FixtureSidecar.Instance.Batch(withTokenTypes: true));
        var withoutTypes = encoder.EncodeTokens(FixtureSidecar.Instance.Batch(withTokenTypes: false));
        Assert.True(withTypes.DenseRow(0).SequenceEqual(withoutTypes.DenseRow(0)));
        Assert.False(withTypes.DenseRow(1).SequenceEqual(withoutTypes.DenseRow(1)));
    }

    [Fact]
    public void A_text_encodes_the_same_alone_and_in_a_padded_batch()
    {
        using var encoder = Create(PoolingMode.Mean, true);
        string[] texts = ["vitamin d deficiency and bone fractures", "coffee", "Café naïve résumé", ""];
        var batch = encoder.Encode(texts);
        Assert.Equal(texts.Length, batch.Count);
        Assert.Equal(1, encoder.SessionRuns);
        for (int i = 0; i < texts.Length; i++)
        {
            var alone = encoder.Encode([texts[i]]);
            AssertClose(alone.DenseRow(0).ToArray(), batch.DenseRow(i));
        }
        // Context matters: the same token in different texts gets different vectors.
        Assert.False(batch.DenseRow(0).SequenceEqual(batch.DenseRow(1)));
    }

    [Fact]
    public async Task EncodeAsync_returns_the_same_as_Encode_and_an_empty_list_gives_an_empty_batch()
    {
        using var encoder = Create(PoolingMode.Cls, true);
        var sync = encoder.Encode(["sparse retrieval"]);
        var async = await encoder.EncodeAsync(["sparse retrieval"], CancellationToken.None);
        Assert.True(sync.DenseRow(0).SequenceEqual(async.DenseRow(0)));
        var empty = await encoder.EncodeAsync([], CancellationToken.None);
        Assert.Equal(0, empty.Count);
        Assert.Equal(EncoderKind.Dense, empty.Kind);
    }

    internal static void AssertClose(IReadOnlyList<float> expected, ReadOnlySpan<float> actual)
    {
        Assert.Equal(expected.Count, actual.Length);
        for (int i = 0; i < actual.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= Tolerance, $"element {i}: expected {expected[i]}, got {actual[i]}");
    }
}
