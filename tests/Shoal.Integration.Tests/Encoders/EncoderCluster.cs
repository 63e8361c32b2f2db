using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime;
using Orleans.TestingHost;
using Shoal.Encoders;
using Shoal.Grains.Encoders;
using Shoal.Hosting;

namespace Shoal.Integration.Tests.Encoders;

/// <summary>
/// Two silos, one with the encoder role: Silo_0 hosts the encoders (configured through
/// <c>Shoal:Encoders</c> configuration, plus one added in code), Silo_1 has none. Both call
/// AddShoal + AddShoalEncoderPools; the external client has AddShoalEncoderClient. Placement filters
/// are on (AssumeHomogenousSilosForTesting off), as in a real cluster.
/// </summary>
public sealed class EncoderCluster : IAsyncLifetime
{
    public const string EncoderSiloName = "Silo_0";

    public string Data { get; } = Directory.CreateTempSubdirectory("shoal-encoders-").FullName;

    public InProcessTestCluster Cluster { get; private set; } = null!;

    public SiloAddress EncoderSilo { get; private set; } = null!;

    public SiloAddress PlainSilo { get; private set; } = null!;

    /// <summary>The encoder configuration of the encoder silo, as configuration keys.</summary>
    public static Dictionary<string, string?> EncoderConfiguration => new()
    {
        ["Shoal:Encoders:dense:Kind"] = "dense",
        ["Shoal:Encoders:dense:ModelPath"] = EncoderFixtures.Model("dense-tiny.onnx"),
        ["Shoal:Encoders:dense:VocabPath"] = EncoderFixtures.VocabTxt,
        ["Shoal:Encoders:dense:MaxBatchSize"] = "32",
        ["Shoal:Encoders:dense:MaxBatchWait"] = "00:00:00.020",
        // Batches form by size or by the 20 ms wait only. (With the default adaptive early dispatch a
        // cold burst arriving over the network starts with small batches: 64 queries took ~21 runs here.)
        ["Shoal:Encoders:dense:EarlyDispatch"] = "false",
        ["Shoal:Encoders:splade:Kind"] = "splade",
        ["Shoal:Encoders:splade:ModelPath"] = EncoderFixtures.Model("splade-tiny.onnx"),
        ["Shoal:Encoders:splade:VocabPath"] = EncoderFixtures.VocabTxt,
        ["Shoal:Encoders:splade:SparseTopK"] = "32",
        ["Shoal:Encoders:idf:Kind"] = "inference-free",
        ["Shoal:Encoders:idf:TokenizerPath"] = EncoderFixtures.OpenSearchTokenizerJson,
        ["Shoal:Encoders:idf:IdfPath"] = EncoderFixtures.OpenSearchIdfJson,
        ["Shoal:Encoders:bm25:Kind"] = "bm25",
        // Room for 4 waiting texts only: document chunks (64 texts) must go through in waves.
        ["Shoal:Encoders:small-queue:Kind"] = "dense",
        ["Shoal:Encoders:small-queue:ModelPath"] = EncoderFixtures.Model("dense-tiny.onnx"),
        ["Shoal:Encoders:small-queue:VocabPath"] = EncoderFixtures.VocabTxt,
        ["Shoal:Encoders:small-queue:MaxBatchSize"] = "2",
        ["Shoal:Encoders:small-queue:QueueCapacity"] = "4",
    };

    /// <summary>
    /// A pool that holds requests for 3 s and refuses a fifth: four requests wait for companions
    /// (batch size 64, no early dispatch), the queue holds four.
    /// </summary>
    public static EncoderOptions TinyQueue => new()
    {
        Kind = EncoderKind.Dense,
        ModelPath = EncoderFixtures.Model("dense-tiny.onnx"),
        VocabPath = EncoderFixtures.VocabTxt,
        MaxBatchSize = 64,
        MaxBatchWait = TimeSpan.FromSeconds(3),
        EarlyDispatch = false,
        QueueCapacity = 4,
    };

    public async Task InitializeAsync()
    {
        var builder = new InProcessTestClusterBuilder(2);
        builder.Options.AssumeHomogenousSilosForTesting = false;
        string data = Data;
        builder.ConfigureSiloHost((options, host) =>
        {
            if (options.SiloName == EncoderSiloName) host.Configuration.AddInMemoryCollection(EncoderConfiguration);
        });
        builder.ConfigureSilo((options, silo) =>
        {
            silo.AddShoal(o =>
            {
                o.SnapshotDirectory = Path.Combine(data, "snapshots");
                o.AdditionalDataRoots = [Path.GetTempPath()]; // tests write sources to temporary directories
                o.CacheDirectory = Path.Combine(data, "cache");
                o.BuildDirectory = Path.Combine(data, "build");
            });
            silo.AddShoalEncoderPools(); // from configuration: encoders on Silo_0 only
            if (options.SiloName == EncoderSiloName) silo.AddShoalEncoderPools(o => o.Encoders["tiny-queue"] = TinyQueue); // and one in code
        });
        builder.ConfigureClient(client => client.AddShoalEncoderClient());
        Cluster = builder.Build();
        await Cluster.DeployAsync();
        await Cluster.WaitForClusterManifestToStabilizeAsync();
        var silos = Cluster.Silos.ToList();
        EncoderSilo = silos.Single(s => s.Name == EncoderSiloName).SiloAddress;
        PlainSilo = silos.Single(s => s.Name != EncoderSiloName).SiloAddress;
    }

    public async Task DisposeAsync()
    {
        await Cluster.StopAllSilosAsync();
        await Cluster.DisposeAsync();
        TempDirectory.Delete(Data);
    }

    /// <summary>The encoder client of a silo (grains on that silo get the same singleton).</summary>
    public IEncoderService ServiceOn(SiloAddress silo) => Cluster.GetSiloServiceProvider(silo).GetRequiredService<IEncoderService>();

    /// <summary>The encoder client of the external cluster client (as the gateway would use it).</summary>
    public IEncoderService ClientService => Cluster.Client.ServiceProvider.GetRequiredService<IEncoderService>();

    /// <summary>The pool registry of the encoder silo.</summary>
    public EncoderPoolRegistry EncoderRegistry => Cluster.GetSiloServiceProvider(EncoderSilo).GetRequiredService<EncoderPoolRegistry>();
}

/// <summary>The fixture models and shared tokenizer files.</summary>
internal static class EncoderFixtures
{
    public static string Model(string file) => Path.Combine(Paths.RepoRoot, "tests", "fixtures", "models", file);

    public static string VocabTxt => Paths.Shared("tokenizers", "bert-base-uncased-vocab.txt");

    public static string OpenSearchTokenizerJson => Paths.Shared("opensearch-idf", "tokenizer.json");

    public static string OpenSearchIdfJson => Paths.Shared("opensearch-idf", "idf.json");

    /// <summary>A direct (non-grain) encoder built from the same options as the fixture's encoder.</summary>
    public static ITextEncoder Direct(string name)
    {
        var options = new EncoderPoolsOptions().BindFrom(new ConfigurationBuilder().AddInMemoryCollection(EncoderCluster.EncoderConfiguration).Build());
        return EncoderFactory.Create(options.Encoders[name]);
    }
}
