using Microsoft.Extensions.Configuration;
using Orleans.TestingHost;
using Shoal.Encoders;
using Shoal.Grains.Encoders;
using Shoal.Hosting;

namespace Shoal.Integration.Tests.Encoders;

/// <summary>Misconfigured encoders stop the silo from starting, with a message naming the encoder and the file.</summary>
public sealed class EncoderStartupTests
{
    [Fact]
    public async Task A_missing_model_file_fails_silo_startup_naming_the_encoder_and_the_file()
    {
        string missing = Path.Combine(Path.GetTempPath(), "shoal-no-such-dir", "missing-model.onnx");
        var e = await StartFailingAsync(new()
        {
            ["Shoal:Encoders:minilm:Kind"] = "dense",
            ["Shoal:Encoders:minilm:ModelPath"] = missing,
            ["Shoal:Encoders:minilm:VocabPath"] = EncoderFixtures.VocabTxt,
        });
        Assert.Contains("Encoder 'minilm'", e.Message, StringComparison.Ordinal);
        Assert.Contains("Shoal:Encoders:minilm", e.Message, StringComparison.Ordinal);
        Assert.Contains(missing, e.Message, StringComparison.Ordinal);
        Assert.Contains("does not exist", e.Message, StringComparison.Ordinal);
        Assert.Equal(missing, e.Path);
    }

    [Fact]
    public async Task A_model_with_the_wrong_input_names_fails_silo_startup()
    {
        string model = EncoderFixtures.Model("bad-inputs.onnx");
        var e = await StartFailingAsync(new()
        {
            ["Shoal:Encoders:broken:Kind"] = "splade",
            ["Shoal:Encoders:broken:ModelPath"] = model,
            ["Shoal:Encoders:broken:VocabPath"] = EncoderFixtures.VocabTxt,
        });
        Assert.Contains("Encoder 'broken'", e.Message, StringComparison.Ordinal);
        Assert.Contains(model, e.Message, StringComparison.Ordinal);
        Assert.Contains("input_ids", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_encoder_role_without_encoders_fails_silo_startup()
    {
        var e = await StartFailingAsync(new() { ["Shoal:Roles"] = "encoder" });
        Assert.Contains("Shoal:Roles", e.Message, StringComparison.Ordinal);
        Assert.Contains("no encoder is configured", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Configuration_binds_kinds_aliases_and_roles_and_rejects_typos_naming_the_encoder()
    {
        var options = Bind(new()
        {
            ["Shoal:Roles"] = "encoder, shard",
            ["Shoal:Encoders:a:Kind"] = "Dense",
            ["Shoal:Encoders:a:ModelPath"] = "m.onnx",
            ["Shoal:Encoders:a:TokenizerPath"] = "t.json",
            ["Shoal:Encoders:a:Pooling"] = "cls",
            ["Shoal:Encoders:a:Normalize"] = "false",
            ["Shoal:Encoders:a:MaxSequenceLength"] = "128",
            ["Shoal:Encoders:a:ExecutionProvider"] = "cuda",
            ["Shoal:Encoders:a:MaxBatchSize"] = "16",
            ["Shoal:Encoders:a:MaxBatchWait"] = "00:00:00.005",
            ["Shoal:Encoders:a:QueueCapacity"] = "100",
            ["Shoal:Encoders:b:Kind"] = "splade",
            ["Shoal:Encoders:b:ModelPath"] = "s.onnx",
            ["Shoal:Encoders:c:Kind"] = "inference-free",
            ["Shoal:Encoders:c:IdfPath"] = "idf.json",
            ["Shoal:Encoders:d:Kind"] = "BM25",
        });
        Assert.Equal(["encoder", "shard"], options.Roles);
        Assert.True(options.HoldsEncoderRole);
        var a = options.Encoders["a"];
        Assert.Equal(("a", EncoderKind.Dense, PoolingMode.Cls, false, 128, "cuda", 16, TimeSpan.FromMilliseconds(5), 100),
            (a.Name, a.Kind, a.Pooling, a.Normalize, a.MaxSequenceLength, a.ExecutionProvider, a.MaxBatchSize, a.MaxBatchWait, a.QueueCapacity));
        Assert.Equal(EncoderKind.Sparse, options.Encoders["b"].Kind);
        Assert.Equal(EncoderKind.Sparse, options.Encoders["c"].Kind);
        Assert.Equal(EncoderKind.Bm25, options.Encoders["d"].Kind);

        var typo = Assert.Throws<EncoderConfigurationException>(() => Bind(new() { ["Shoal:Encoders:x:Kind"] = "dense", ["Shoal:Encoders:x:ModelPth"] = "m.onnx" }));
        Assert.Contains("Encoder 'x'", typo.Message, StringComparison.Ordinal);
        Assert.Contains("ModelPth", typo.Message, StringComparison.Ordinal);
        var kind = Assert.Throws<EncoderConfigurationException>(() => Bind(new() { ["Shoal:Encoders:x:Kind"] = "colbert" }));
        Assert.Contains("unknown Kind 'colbert'", kind.Message, StringComparison.Ordinal);
        Assert.Throws<EncoderConfigurationException>(() => Bind(new() { ["Shoal:Encoders:x:Kind"] = "splade" })); // no model
        Assert.Throws<EncoderConfigurationException>(() => Bind(new() { ["Shoal:Encoders:x:Kind"] = "dense", ["Shoal:Encoders:x:MaxBatchSize"] = "many" }));
        var badName = Bind(new() { ["Shoal:Encoders:a b:Kind"] = "bm25" });
        Assert.Contains("'a b'", Assert.Throws<EncoderConfigurationException>(badName.Validate).Message, StringComparison.Ordinal);
        var badBatch = Bind(new() { ["Shoal:Encoders:z:Kind"] = "bm25", ["Shoal:Encoders:z:QueueCapacity"] = "0" });
        Assert.Contains("Encoder 'z'", Assert.Throws<EncoderConfigurationException>(badBatch.Validate).Message, StringComparison.Ordinal);

        // Roles: derived from the encoders unless set.
        Assert.False(new EncoderPoolsOptions().HoldsEncoderRole);
        Assert.True(Bind(new() { ["Shoal:Encoders:d:Kind"] = "bm25" }).HoldsEncoderRole);
        Assert.False(Bind(new() { ["Shoal:Encoders:d:Kind"] = "bm25", ["Shoal:Roles:0"] = "shard" }).HoldsEncoderRole);
        // Published roles: data on every silo (each hosts shard replicas), then the configured or derived ones.
        Assert.Equal(["data"], new EncoderPoolsOptions().EffectiveRoles);
        Assert.Equal(["data", "encoder"], Bind(new() { ["Shoal:Encoders:d:Kind"] = "bm25" }).EffectiveRoles);
        Assert.Equal(["data", "encoder", "shard"], options.EffectiveRoles);
        Assert.Equal(["data", "encoder"], Bind(new() { ["Shoal:Encoders:d:Kind"] = "bm25", ["Shoal:Roles"] = "Data, encoder" }).EffectiveRoles);
    }

    private static EncoderPoolsOptions Bind(Dictionary<string, string?> values) =>
        new EncoderPoolsOptions().BindFrom(new ConfigurationBuilder().AddInMemoryCollection(values).Build());

    private static async Task<EncoderConfigurationException> StartFailingAsync(Dictionary<string, string?> configuration)
    {
        var builder = new InProcessTestClusterBuilder(1);
        builder.Options.InitializeClientOnDeploy = false;
        string data = Directory.CreateTempSubdirectory("shoal-encoders-bad-").FullName;
        builder.ConfigureSiloHost((_, host) => host.Configuration.AddInMemoryCollection(configuration));
        builder.ConfigureSilo((_, silo) => silo.AddShoal(o => o.SnapshotDirectory = Path.Combine(data, "snapshots")).AddShoalEncoderPools());
        await using var cluster = builder.Build();
        try
        {
            var e = await Assert.ThrowsAnyAsync<Exception>(cluster.DeployAsync);
            for (var inner = e; inner is not null; inner = inner.InnerException)
            {
                if (inner is EncoderConfigurationException config) return config;
            }
            throw new Xunit.Sdk.XunitException($"Silo startup failed with {e.GetType().Name}, not EncoderConfigurationException: {e}");
        }
        finally
        {
            TempDirectory.Delete(data);
        }
    }
}
