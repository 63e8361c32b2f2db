using Shoal.Engine.Analysis;
using Shoal.Engine.Dense;
using Shoal.Engine.Snapshots;
using Shoal.Engine.Sparse;
using Shoal.Engine.Text;

namespace Shoal.Engine.Indexing;

/// <summary>
/// Every setting of an index build, in one place: which channels it has (bm25 text, learned
/// sparse, dense), their parameters and the shard layout. The defaults are defined here once
/// (the gateway, the wire requests of ingests and jobs and the manifest schema all take them from
/// here), <see cref="Validate"/> checks every setting once with the messages an HTTP 400 shows,
/// and the build options of each channel (<see cref="Plan"/>, <see cref="DenseOptions"/>,
/// <see cref="DenseSchema"/>) are made from it. Settings of a channel the specification does not
/// have are ignored (a text-only index does not check dense settings).
/// </summary>
public sealed record IndexSpecification
{
    /// <summary>Default BM25 k1 (Anserini's BEIR setting).</summary>
    public const double DefaultK1 = Bm25Parameters.DefaultK1;

    /// <summary>Default BM25 b (Anserini's BEIR setting).</summary>
    public const double DefaultB = Bm25Parameters.DefaultB;

    /// <summary>Default number of shards.</summary>
    public const int DefaultShards = 1;

    /// <summary>Default copies of each shard.</summary>
    public const int DefaultReplicas = 1;

    /// <summary>Most copies of each shard.</summary>
    public const int MaxReplicas = 8;

    /// <summary>Dense metric names.</summary>
    public const string MetricDot = "dot", MetricCosine = "cosine";

    /// <summary>Dense storage names.</summary>
    public const string StorageFp32 = "fp32", StorageFp16 = "fp16", StorageInt8 = "int8";

    /// <summary>Dense index names: an HNSW graph (approximate by default, exact on request) or flat (exact scans only).</summary>
    public const string AnnHnsw = "hnsw", AnnFlat = "flat";

    /// <summary>Default dense metric.</summary>
    public const string DefaultDenseMetric = MetricDot;

    /// <summary>Default dense storage.</summary>
    public const string DefaultDenseStorage = StorageFp32;

    /// <summary>Default dense index.</summary>
    public const string DefaultDenseIndex = AnnHnsw;

    /// <summary>Default HNSW links per node.</summary>
    public const int DefaultHnswM = HnswParameters.DefaultM;

    /// <summary>Default HNSW build beam width.</summary>
    public const int DefaultHnswEfConstruction = HnswParameters.DefaultEfConstruction;

    /// <summary>Accepted HNSW M.</summary>
    public const int MinHnswM = 2, MaxHnswM = 128;

    /// <summary>Accepted HNSW efConstruction.</summary>
    public const int MinHnswEfConstruction = 8, MaxHnswEfConstruction = 4096;

    /// <summary>Most dense dimensions.</summary>
    public const int MaxDenseDims = 65536;

    /// <summary>Number of shards.</summary>
    public int Shards { get; init; } = DefaultShards;

    /// <summary>Copies of each shard, served from different silos where possible.</summary>
    public int Replicas { get; init; } = DefaultReplicas;

    /// <summary>The index has a bm25 text channel.</summary>
    public bool Text { get; init; }

    /// <summary>BM25 k1.</summary>
    public double K1 { get; init; } = DefaultK1;

    /// <summary>BM25 b.</summary>
    public double B { get; init; } = DefaultB;

    /// <summary>Lucene's one-byte length encoding (every build uses it; published versions record it).</summary>
    public bool LuceneLengthNorm { get; init; } = true;

    /// <summary>The index has a learned-sparse channel.</summary>
    public bool Sparse { get; init; }

    /// <summary>Encoder of the sparse channel (queries and, without precomputed vectors, documents); null when none.</summary>
    public string? SparseEncoder { get; init; }

    /// <summary>Seismic static pruning: postings kept per term; null uses the builder's default.</summary>
    public int? SparsePostingsPerTerm { get; init; }

    /// <summary>The index has a dense channel.</summary>
    public bool Dense { get; init; }

    /// <summary>Encoder of the dense channel; null when none.</summary>
    public string? DenseEncoder { get; init; }

    /// <summary>Dense dimensions; null until known (from the encoder or the first vector).</summary>
    public int? DenseDims { get; init; }

    /// <summary>"dot" or "cosine".</summary>
    public string DenseMetric { get; init; } = DefaultDenseMetric;

    /// <summary>"fp32", "fp16" or "int8".</summary>
    public string DenseStorage { get; init; } = DefaultDenseStorage;

    /// <summary>"hnsw" or "flat".</summary>
    public string DenseIndex { get; init; } = DefaultDenseIndex;

    /// <summary>HNSW links per node.</summary>
    public int HnswM { get; init; } = DefaultHnswM;

    /// <summary>HNSW build beam width.</summary>
    public int HnswEfConstruction { get; init; } = DefaultHnswEfConstruction;

    /// <summary>
    /// Checks every setting (those of absent channels are ignored) and returns this specification;
    /// an <see cref="ArgumentException"/> names the first setting that is wrong and what it must be.
    /// </summary>
    /// <param name="maxShards">The cluster's most shards per index.</param>
    public IndexSpecification Validate(int maxShards)
    {
        if (Shards < 1 || Shards > maxShards) throw new ArgumentException($"shards must be between 1 and {maxShards} (got {Shards}).");
        if (Replicas < 1 || Replicas > MaxReplicas) throw new ArgumentException($"replicas must be between 1 and {MaxReplicas} (got {Replicas}).");
        if (Text) Bm25.Validate();
        if (SparsePostingsPerTerm is < 1) throw new ArgumentException($"sparsePostingsPerTerm must be at least 1 (got {SparsePostingsPerTerm}).");
        if (Dense)
        {
            _ = ParseMetric(DenseMetric);
            _ = ParseStorage(DenseStorage);
            if (DenseIndex is not (AnnHnsw or AnnFlat)) throw new ArgumentException($"denseIndex must be '{AnnHnsw}' or '{AnnFlat}' (got '{DenseIndex}').");
            if (HnswM < MinHnswM || HnswM > MaxHnswM) throw new ArgumentException($"hnswM must be between {MinHnswM} and {MaxHnswM} (got {HnswM}).");
            if (HnswEfConstruction < MinHnswEfConstruction || HnswEfConstruction > MaxHnswEfConstruction)
                throw new ArgumentException($"hnswEfConstruction must be between {MinHnswEfConstruction} and {MaxHnswEfConstruction} (got {HnswEfConstruction}).");
            if (DenseDims is < 1 or > MaxDenseDims) throw new ArgumentException($"denseDims must be between 1 and {MaxDenseDims} (got {DenseDims}).");
        }
        return this;
    }

    /// <summary>The BM25 parameters of the text channel.</summary>
    public Bm25Parameters Bm25 => new(K1, B, LuceneLengthNorm);

    /// <summary>A dense metric by name; an <see cref="ArgumentException"/> for any other name.</summary>
    public static DenseMetric ParseMetric(string? name) => name switch
    {
        MetricDot => Shoal.Engine.Dense.DenseMetric.Dot,
        MetricCosine => Shoal.Engine.Dense.DenseMetric.Cosine,
        _ => throw new ArgumentException($"denseMetric must be '{MetricDot}' or '{MetricCosine}' (got '{name}')."),
    };

    /// <summary>A dense storage by name; an <see cref="ArgumentException"/> for any other name.</summary>
    public static DenseStorage ParseStorage(string? name) => name switch
    {
        StorageFp32 => Shoal.Engine.Dense.DenseStorage.Float32,
        StorageFp16 => Shoal.Engine.Dense.DenseStorage.Float16,
        StorageInt8 => Shoal.Engine.Dense.DenseStorage.Int8,
        _ => throw new ArgumentException($"denseStorage must be '{StorageFp32}', '{StorageFp16}' or '{StorageInt8}' (got '{name}')."),
    };

    /// <summary>The sparse build knobs (the quantisation scale is set by the build from the whole index).</summary>
    public SparseBuildOptions SparseOptions =>
        SparsePostingsPerTerm is { } ppt ? new SparseBuildOptions(1f) { PostingsPerTerm = ppt } : new SparseBuildOptions(1f);

    /// <summary>The dense build options for vectors of <paramref name="dims"/> dimensions.</summary>
    public DenseBuildOptions DenseOptions(int dims) =>
        new(dims, ParseMetric(DenseMetric), ParseStorage(DenseStorage), new HnswParameters(HnswM, HnswEfConstruction))
        {
            BuildAnnIndex = DenseIndex == AnnHnsw,
        };

    /// <summary>The dense channel as the manifest records it.</summary>
    public DenseChannelSchema DenseSchema(int dims) =>
        new(dims, DenseMetric, DenseStorage, DenseIndex, HnswM, HnswEfConstruction, DenseEncoder);

    /// <summary>The text channel as the manifest records it (null without one).</summary>
    public TextChannelSchema? TextSchema(ITextAnalyzer analyzer)
    {
        ArgumentNullException.ThrowIfNull(analyzer);
        return Text ? new TextChannelSchema(analyzer.Name, K1, B, LuceneLengthNorm) : null;
    }

    /// <summary>
    /// The build plan: bm25 with the text channel, sparse over <paramref name="vocabulary"/> (required
    /// with a sparse channel), dense with <paramref name="denseDims"/> dimensions (or <see cref="DenseDims"/>).
    /// </summary>
    public IndexBuildPlan Plan(SparseVocabulary? vocabulary, int? denseDims = null, ITextAnalyzer? analyzer = null)
    {
        if (Sparse && vocabulary is null) throw new ArgumentException("The sparse channel needs a vocabulary.");
        int? dims = denseDims ?? DenseDims;
        if (Dense && dims is null) throw new ArgumentException("The dense channel's dimensions are not known.");
        return new IndexBuildPlan
        {
            Shards = Shards,
            Text = Text ? Bm25 : null,
            Analyzer = analyzer ?? EnglishAnalyzer.Instance,
            SparseVocabulary = Sparse ? vocabulary : null,
            SparseOptions = SparseOptions,
            Dense = Dense ? DenseOptions(dims!.Value) : null,
        };
    }

    /// <summary>The specification a published schema was built with (the sparse pruning it does not record is the default).</summary>
    public static IndexSpecification Of(IndexSchema schema, int shards, int replicas = DefaultReplicas)
    {
        ArgumentNullException.ThrowIfNull(schema);
        var spec = new IndexSpecification { Shards = shards, Replicas = replicas };
        if (schema.Text is { } t) spec = spec with { Text = true, K1 = t.K1, B = t.B, LuceneLengthNorm = t.LuceneLengthNorm };
        if (schema.Sparse is { } s) spec = spec with { Sparse = true, SparseEncoder = s.Encoder };
        if (schema.Dense is { } d)
        {
            spec = spec with
            {
                Dense = true,
                DenseEncoder = d.Encoder,
                DenseDims = d.Dims,
                DenseMetric = d.Metric,
                DenseStorage = d.Storage,
                DenseIndex = d.Index,
                HnswM = d.M,
                HnswEfConstruction = d.EfConstruction,
            };
        }
        return spec;
    }
}
