using Shoal.Engine.Analysis;
using Shoal.Engine.Dense;
using Shoal.Engine.Indexing;
using Shoal.Engine.Snapshots;
using Shoal.Engine.Sparse;
using Shoal.Engine.Text;

namespace Shoal.Engine.Tests.Indexing;

public sealed class IndexSpecificationTests
{
    private static SparseVocabulary Vocabulary { get; } = SparseVocabulary.Load(TestData.Require("tokenizers/bert-base-uncased-vocab.txt"));

    [Fact]
    public void An_index_without_settings_gets_the_published_baseline_defaults()
    {
        var spec = new IndexSpecification { Text = true, Dense = true, DenseDims = 8 }.Validate(maxShards: 64);
        Assert.Equal((1, 1, 0.9, 0.4), (spec.Shards, spec.Replicas, spec.K1, spec.B));
        Assert.Equal(("dot", "fp32", "hnsw", 16, 200), (spec.DenseMetric, spec.DenseStorage, spec.DenseIndex, spec.HnswM, spec.HnswEfConstruction));
        // The manifest schema and the engine's parameter records agree with the specification's defaults.
        Assert.Equal(new TextChannelSchema(), spec.TextSchema(EnglishAnalyzer.Instance));
        Assert.Equal(new DenseChannelSchema(8), spec.DenseSchema(8));
        Assert.Equal(Bm25Parameters.Default, spec.Bm25);
    }

    private static readonly Dictionary<string, IndexSpecification> Bad = new(StringComparer.Ordinal)
    {
        ["shards 0"] = new() { Text = true, Shards = 0 },
        ["shards 65"] = new() { Text = true, Shards = 65 },
        ["replicas 9"] = new() { Text = true, Replicas = 9 },
        ["k1 -1"] = new() { Text = true, K1 = -1 },
        ["b 2"] = new() { Text = true, B = 2 },
        ["postings 0"] = new() { Sparse = true, SparsePostingsPerTerm = 0 },
        ["metric l2"] = new() { Dense = true, DenseMetric = "l2" },
        ["storage bf16"] = new() { Dense = true, DenseStorage = "bf16" },
        ["index ivf"] = new() { Dense = true, DenseIndex = "ivf" },
        ["m 1"] = new() { Dense = true, HnswM = 1 },
        ["ef 5000"] = new() { Dense = true, HnswEfConstruction = 5000 },
        ["dims 0"] = new() { Dense = true, DenseDims = 0 },
    };

    public static TheoryData<string, string> BadSettings => new()
    {
        { "shards 0", "shards must be between 1 and 64 (got 0)." },
        { "shards 65", "shards must be between 1 and 64 (got 65)." },
        { "replicas 9", "replicas must be between 1 and 8 (got 9)." },
        { "k1 -1", "BM25 k1 must be a finite number >= 0 (got -1)." },
        { "b 2", "BM25 b must be between 0 and 1 (got 2)." },
        { "postings 0", "sparsePostingsPerTerm must be at least 1 (got 0)." },
        { "metric l2", "denseMetric must be 'dot' or 'cosine' (got 'l2')." },
        { "storage bf16", "denseStorage must be 'fp32', 'fp16' or 'int8' (got 'bf16')." },
        { "index ivf", "denseIndex must be 'hnsw' or 'flat' (got 'ivf')." },
        { "m 1", "hnswM must be between 2 and 128 (got 1)." },
        { "ef 5000", "hnswEfConstruction must be between 8 and 4096 (got 5000)." },
        { "dims 0", "denseDims must be between 1 and 65536 (got 0)." },
    };

    [Theory]
    [MemberData(nameof(BadSettings))]
    public void A_bad_setting_is_refused_with_a_message_naming_it_and_its_range(string setting, string message)
    {
        var e = Assert.Throws<ArgumentException>(() => Bad[setting].Validate(maxShards: 64));
        Assert.Equal(message, e.Message);
    }

    [Fact]
    public void Settings_of_a_channel_the_index_does_not_have_are_not_checked()
    {
        var spec = new IndexSpecification { Text = true, DenseMetric = "l2", HnswM = 0, DenseDims = -3 }.Validate(maxShards: 4);
        var plan = spec.Plan(vocabulary: null);
        Assert.Null(plan.Dense);
        Assert.Null(plan.SparseVocabulary);
        Assert.Equal(spec.Bm25, plan.Text);
    }

    [Fact]
    public void The_plan_carries_every_channel_setting_into_the_build_options()
    {
        var spec = new IndexSpecification
        {
            Shards = 3,
            Text = true,
            K1 = 1.2,
            B = 0.75,
            Sparse = true,
            SparsePostingsPerTerm = 99,
            Dense = true,
            DenseMetric = "cosine",
            DenseStorage = "int8",
            DenseIndex = "flat",
            HnswM = 8,
            HnswEfConstruction = 50,
        }.Validate(maxShards: 8);
        var plan = spec.Plan(Vocabulary, denseDims: 12);
        plan.Validate();
        Assert.Equal(3, plan.Shards);
        Assert.Equal(new Bm25Parameters(1.2, 0.75), plan.Text);
        Assert.Same(Vocabulary, plan.SparseVocabulary);
        Assert.Equal(99, plan.SparseOptions.PostingsPerTerm);
        Assert.Equal((12, DenseMetric.Cosine, DenseStorage.Int8, false), (plan.Dense!.Dims, plan.Dense.Metric, plan.Dense.Storage, plan.Dense.BuildAnnIndex));
        Assert.Equal(new HnswParameters(8, 50), plan.Dense.Hnsw);
    }

    [Fact]
    public void A_published_schema_gives_back_the_specification_it_was_built_with()
    {
        var spec = new IndexSpecification
        {
            Shards = 2,
            Replicas = 3,
            Text = true,
            K1 = 1.1,
            B = 0.3,
            Sparse = true,
            SparseEncoder = "splade",
            Dense = true,
            DenseEncoder = "minilm",
            DenseDims = 16,
            DenseMetric = "cosine",
            DenseStorage = "fp16",
            HnswM = 24,
            HnswEfConstruction = 300,
        };
        var schema = new IndexSchema(spec.TextSchema(EnglishAnalyzer.Instance), new SparseChannelSchema("k", "x", Vocabulary.Count, 2f, "splade"), spec.DenseSchema(16));
        Assert.Equal(spec, IndexSpecification.Of(schema, shards: 2, replicas: 3));
    }

    [Fact]
    public void A_sparse_channel_without_a_vocabulary_or_a_dense_channel_without_dimensions_has_no_plan()
    {
        Assert.Contains("vocabulary", Assert.Throws<ArgumentException>(() => new IndexSpecification { Sparse = true }.Plan(null)).Message, StringComparison.Ordinal);
        Assert.Contains("dimensions", Assert.Throws<ArgumentException>(() => new IndexSpecification { Dense = true }.Plan(null)).Message, StringComparison.Ordinal);
    }
}
