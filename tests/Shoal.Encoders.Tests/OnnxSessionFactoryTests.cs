using Microsoft.Extensions.Logging;

namespace Shoal.Encoders.Tests;

public sealed class OnnxSessionFactoryTests
{
    [Fact]
    public void A_missing_model_file_is_a_configuration_error_naming_it()
    {
        string path = Path.Combine(TestPaths.Models, "no-such-model.onnx");
        var e = Assert.Throws<EncoderConfigurationException>(() => OnnxSessionFactory.Create(path));
        Assert.Equal(path, e.Path);
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        Assert.Contains("does not exist", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_file_that_is_not_an_onnx_model_is_a_configuration_error_naming_it()
    {
        string path = Path.Combine(Path.GetTempPath(), $"shoal-not-a-model-{Environment.ProcessId}.onnx");
        File.WriteAllText(path, "this is not a protobuf");
        try
        {
            var e = Assert.Throws<EncoderConfigurationException>(() => OnnxSessionFactory.Create(path));
            Assert.Contains(path, e.Message, StringComparison.Ordinal);
            Assert.Contains("cannot be loaded", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Wrong_input_names_are_refused_at_construction_with_expected_and_found()
    {
        var tokenizer = WordPieceTokenizer.FromVocabFile(TestPaths.VocabTxt);
        string path = TestPaths.Model("bad-inputs.onnx");
        using var session = OnnxSessionFactory.Create(path);
        var e = Assert.Throws<EncoderConfigurationException>(() => new DenseOnnxEncoder(session, tokenizer));
        Assert.Equal(path, e.Path);
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        Assert.Contains("input_ids", e.Message, StringComparison.Ordinal);       // expected
        Assert.Contains("ids (Int64", e.Message, StringComparison.Ordinal);      // found
        Assert.Contains("mask (Int64", e.Message, StringComparison.Ordinal);
        Assert.Throws<EncoderConfigurationException>(() => new SpladeOnnxEncoder(session, tokenizer));
    }

    [Fact]
    public void A_dense_model_read_as_splade_is_refused_for_its_output()
    {
        var tokenizer = WordPieceTokenizer.FromVocabFile(TestPaths.VocabTxt);
        using var session = OnnxSessionFactory.Create(TestPaths.Model("dense-tiny.onnx"));
        var e = Assert.Throws<EncoderConfigurationException>(() => new SpladeOnnxEncoder(session, tokenizer));
        Assert.Contains("last_hidden_state", e.Message, StringComparison.Ordinal);
        Assert.Contains("30522", e.Message, StringComparison.Ordinal);
    }

    [CpuFlavourFact]
    public void Cuda_falls_back_to_cpu_with_a_warning_on_the_cpu_build()
    {
        var logger = new CapturingLogger();
        using var session = OnnxSessionFactory.Create(TestPaths.Model("dense-tiny.onnx"), "CUDA", deviceId: 0, logger: logger);
        Assert.Equal("cpu", session.ExecutionProvider);
        var warning = Assert.Single(logger.Entries, e => e.Level == LogLevel.Warning);
        Assert.Contains("CUDA", warning.Message, StringComparison.Ordinal);
        Assert.Contains("dense-tiny.onnx", warning.Message, StringComparison.Ordinal);
    }

    [CpuFlavourFact]
    public void Cuda_required_throws_instead_of_falling_back()
    {
        var e = Assert.Throws<EncoderConfigurationException>(() =>
            OnnxSessionFactory.Create(TestPaths.Model("dense-tiny.onnx"), "cuda-required", deviceId: 1));
        Assert.Contains("cuda-required", e.Message, StringComparison.Ordinal);
        Assert.Contains("device 1", e.Message, StringComparison.Ordinal);
        Assert.Contains("-p:ShoalOnnxRuntime=Gpu", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unknown_execution_provider_is_a_configuration_error()
    {
        var e = Assert.Throws<EncoderConfigurationException>(() => OnnxSessionFactory.Create(TestPaths.Model("dense-tiny.onnx"), "tpu"));
        Assert.Contains("'tpu'", e.Message, StringComparison.Ordinal);
        Assert.Contains("cuda-required", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_factory_builds_each_kind_from_options()
    {
        using var dense = (DenseOnnxEncoder)EncoderFactory.Create(new EncoderOptions
        {
            Kind = EncoderKind.Dense, ModelPath = TestPaths.Model("dense-tiny.onnx"), TokenizerPath = TestPaths.OpenSearchTokenizerJson, Pooling = PoolingMode.Cls,
        });
        Assert.Equal(PoolingMode.Cls, dense.Pooling);
        Assert.Equal("dense-tiny.onnx", dense.Name);
        using var splade = (SpladeOnnxEncoder)EncoderFactory.Create(new EncoderOptions
        {
            Kind = EncoderKind.Sparse, ModelPath = TestPaths.Model("splade-tiny.onnx"), VocabPath = TestPaths.VocabTxt, SparseTopK = 10,
        });
        Assert.Equal(10, splade.TopK);
        var free = EncoderFactory.Create(new EncoderOptions { Kind = EncoderKind.Sparse, IdfPath = TestPaths.OpenSearchIdfJson, TokenizerPath = TestPaths.OpenSearchTokenizerJson });
        Assert.IsType<InferenceFreeSparseEncoder>(free);
        Assert.IsType<Bm25QueryEncoder>(EncoderFactory.Create(new EncoderOptions { Kind = EncoderKind.Bm25 }));

        var noTokenizer = Assert.Throws<EncoderConfigurationException>(() => EncoderFactory.Create(new EncoderOptions { ModelPath = TestPaths.Model("dense-tiny.onnx") }));
        Assert.Contains("TokenizerPath", noTokenizer.Message, StringComparison.Ordinal);
        var nothing = Assert.Throws<EncoderConfigurationException>(() => EncoderFactory.Create(new EncoderOptions { Kind = EncoderKind.Sparse, VocabPath = TestPaths.VocabTxt }));
        Assert.Contains("IdfPath", nothing.Message, StringComparison.Ordinal);
    }
}
