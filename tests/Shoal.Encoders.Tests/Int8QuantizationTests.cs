using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Shoal.Encoders.Quantization;

namespace Shoal.Encoders.Tests;

/// <summary>
/// Shoal's own int8 quantiser: on a model built here (one MatMul by a constant, one Add), ONNX
/// Runtime runs the rewritten graph and gives the fp32 answer within the int8 error; fields the
/// rewrite does not touch survive; a model without a constant MatMul comes back byte for byte; the
/// real arctic-xs keeps its rankings in int8.
/// </summary>
public sealed class Int8QuantizationTests
{
    private const int K = 16, N = 8;

    /// <summary>Y = X·W + X·W (two MatMuls sharing X and W), with W deterministic; opset 13.</summary>
    private static byte[] TinyModel(bool constantWeight = true, int opset = 13)
    {
        var rng = new Random(7);
        var w = new float[K * N];
        for (int i = 0; i < w.Length; i++) w[i] = (float)((rng.NextDouble() * 2) - 1) * (1 + (i % N)); // columns of different ranges
        byte[] Tensor(string name, long[] dims, float[] values) => ProtoWire.Message(s =>
        {
            ProtoWire.WritePackedVarints(s, 1, dims);
            ProtoWire.WriteVarintField(s, 2, 1);
            ProtoWire.WriteStringField(s, 8, name);
            var raw = new byte[values.Length * 4];
            Buffer.BlockCopy(values, 0, raw, 0, raw.Length);
            ProtoWire.WriteBytesField(s, 9, raw);
        });
        byte[] Node(string op, string[] inputs, string output) => ProtoWire.Message(s =>
        {
            foreach (var i in inputs) ProtoWire.WriteStringField(s, 1, i);
            ProtoWire.WriteStringField(s, 2, output);
            ProtoWire.WriteStringField(s, 4, op);
        });
        byte[] ValueInfo(string name, int dims) => ProtoWire.Message(s =>
        {
            ProtoWire.WriteStringField(s, 1, name);
            ProtoWire.WriteBytesField(s, 2, ProtoWire.Message(t => ProtoWire.WriteBytesField(t, 1, ProtoWire.Message(tt => // type.tensor_type
            {
                ProtoWire.WriteVarintField(tt, 1, 1); // elem_type float
                ProtoWire.WriteBytesField(tt, 2, ProtoWire.Message(shape => // shape
                {
                    ProtoWire.WriteBytesField(shape, 1, ProtoWire.Message(d => ProtoWire.WriteStringField(d, 2, "batch"))); // dim_param
                    ProtoWire.WriteBytesField(shape, 1, ProtoWire.Message(d => ProtoWire.WriteVarintField(d, 1, (ulong)dims))); // dim_value
                }));
            }))));
        });
        string b = constantWeight ? "W" : "X2";
        var graph = ProtoWire.Message(s =>
        {
            ProtoWire.WriteBytesField(s, 1, Node("MatMul", ["X", b], "P"));
            ProtoWire.WriteBytesField(s, 1, Node("MatMul", ["X", b], "Q"));
            ProtoWire.WriteBytesField(s, 1, Node("Add", ["P", "Q"], "Y"));
            ProtoWire.WriteStringField(s, 2, "tiny");
            if (constantWeight) ProtoWire.WriteBytesField(s, 5, Tensor("W", [K, N], w));
            ProtoWire.WriteStringField(s, 10, "kept doc string");
            ProtoWire.WriteBytesField(s, 11, ValueInfo("X", K));
            if (!constantWeight) ProtoWire.WriteBytesField(s, 11, ValueInfo("X2", N));
            ProtoWire.WriteBytesField(s, 12, ValueInfo("Y", N));
        });
        return ProtoWire.Message(s =>
        {
            ProtoWire.WriteVarintField(s, 1, 8); // ir_version
            ProtoWire.WriteStringField(s, 2, "shoal-test");
            ProtoWire.WriteBytesField(s, 7, graph);
            ProtoWire.WriteBytesField(s, 8, ProtoWire.Message(o => ProtoWire.WriteVarintField(o, 2, (ulong)opset)));
        });
    }

    private static float[] Run(byte[] model, float[] x, int rows)
    {
        using var sessionOptions = OnnxSessionFactory.NewOptions(); // as the encoders make them: exact kernels on CPUs without VNNI
        using var session = new InferenceSession(model, sessionOptions);
        using var input = OrtValue.CreateTensorValueFromMemory(x, [rows, K]);
        using var options = new RunOptions();
        using var outputs = session.Run(options, new Dictionary<string, OrtValue> { ["X"] = input }, ["Y"]);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }

    [Fact]
    public void A_constant_matmul_runs_in_int8_and_gives_the_fp32_answer_within_the_quantisation_error()
    {
        byte[] fp32 = TinyModel();
        var result = OnnxInt8Quantizer.Quantize(fp32);
        Assert.Equal(2, result.MatMulsQuantized);
        Assert.Equal(0, result.MatMulsKept);
        Assert.Equal(K * N * 4, result.WeightBytesBefore); // the shared weight quantised once
        Assert.Equal((K * N) + (N * 5), result.WeightBytesAfter);

        var rng = new Random(11);
        const int rows = 5;
        var x = Enumerable.Range(0, rows * K).Select(_ => (float)((rng.NextDouble() * 2) - 1)).ToArray();
        var expected = Run(fp32, x, rows);
        var actual = Run(result.Model, x, rows);
        double scale = expected.Max(Math.Abs);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 0.03 * scale, $"output {i}: fp32 {expected[i]}, int8 {actual[i]}");
        Assert.NotEqual(expected, actual); // it really ran in int8

        // Only the weight changed form: the doc string and producer survive, the fp32 W is gone.
        var graph = ProtoWire.Read(ProtoWire.Read(result.Model).Single(f => f.Number == 7).Bytes);
        Assert.Contains(graph, f => f.Number == 10 && f.Text == "kept doc string");
        Assert.Contains(ProtoWire.Read(result.Model), f => f.Number == 2 && f.Text == "shoal-test");
        var names = graph.Where(f => f.Number == 5).Select(f => ProtoWire.Read(f.Bytes).Single(x => x.Number == 8).Text).ToArray();
        Assert.Equal(["W_quantized", "W_scale", "W_zero_point"], names);
        Assert.Single(graph, f => f.Number == 1 && ProtoWire.Read(f.Bytes).Any(x => x.Number == 4 && x.Text == "DynamicQuantizeLinear"));
    }

    [Fact]
    public void A_model_without_a_constant_matmul_comes_back_byte_for_byte()
    {
        byte[] model = TinyModel(constantWeight: false);
        var result = OnnxInt8Quantizer.Quantize(model);
        Assert.Equal(0, result.MatMulsQuantized);
        Assert.Equal(2, result.MatMulsKept);
        Assert.Equal(model, result.Model);
    }

    [Fact]
    public void Models_it_cannot_quantise_are_refused_with_the_reason()
    {
        var old = Assert.Throws<InvalidDataException>(() => OnnxInt8Quantizer.Quantize(TinyModel(opset: 9)));
        Assert.Contains("opset 9", old.Message, StringComparison.Ordinal);
        var notOnnx = Assert.Throws<InvalidDataException>(() => OnnxInt8Quantizer.Quantize("not a model at all"u8.ToArray()));
        Assert.NotEmpty(notOnnx.Message);
    }

    [Fact]
    public void The_fixture_encoder_quantised_stays_close_to_its_fp32_vectors()
    {
        string dir = Path.Combine(Path.GetTempPath(), "shoal-int8-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            string int8 = Path.Combine(dir, "model.onnx");
            var result = OnnxInt8Quantizer.QuantizeFile(TestPaths.Model("dense-tiny.onnx"), int8);
            Assert.Equal(3, result.MatMulsQuantized);
            using var fp32 = EncoderFactory.Create(new EncoderOptions { Kind = EncoderKind.Dense, ModelPath = TestPaths.Model("dense-tiny.onnx"), VocabPath = TestPaths.VocabTxt }) as DenseOnnxEncoder;
            using var quantised = EncoderFactory.Create(new EncoderOptions { Kind = EncoderKind.Dense, ModelPath = int8, VocabPath = TestPaths.VocabTxt }) as DenseOnnxEncoder;
            string[] texts = ["protein folding in yeast", "a much longer passage about the genetics of rare variants and their penetrance"];
            var a = fp32!.Encode(texts);
            var b = quantised!.Encode(texts);
            for (int i = 0; i < texts.Length; i++)
            {
                var x = a.DenseRow(i).ToArray();
                var y = b.DenseRow(i).ToArray();
                double dot = 0, nx = 0, ny = 0;
                for (int d = 0; d < x.Length; d++)
                {
                    dot += x[d] * y[d];
                    nx += x[d] * x[d];
                    ny += y[d] * y[d];
                }
                Assert.True(dot / Math.Sqrt(nx * ny) > 0.99, $"text {i}: cosine {dot / Math.Sqrt(nx * ny)}");
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Loading_the_int8_model_says_exactly_when_the_cpu_lacks_vnni()
    {
        var logger = new CapturingLogger();
        using (EncoderFactory.Create(new EncoderOptions { Kind = EncoderKind.Dense, Model = "arctic-xs-int8" }, logger) as IDisposable) { }
        bool warned = logger.Entries.Any(e => e.Level == LogLevel.Information && e.Message.Contains("without VNNI", StringComparison.Ordinal));
        Assert.Equal(!EncoderFactory.CpuHasVnni(), warned);

        var fp32 = new CapturingLogger();
        using (EncoderFactory.Create(new EncoderOptions { Kind = EncoderKind.Dense, Model = "arctic-xs" }, fp32) as IDisposable) { }
        Assert.DoesNotContain(fp32.Entries, e => e.Message.Contains("VNNI", StringComparison.Ordinal));
    }
}
