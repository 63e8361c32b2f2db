namespace Shoal.Client;

/// <summary>
/// A search. <paramref name="Text"/> goes to <see cref="Channels"/> (default: every channel of the
/// index that takes text: bm25, and sparse/dense channels that have an encoder). <see cref="Bm25"/>,
/// <see cref="Sparse"/> and <see cref="Dense"/> set per-channel depth and knobs and may carry their
/// own query (a vector, or text); a search over several channels is fused (<see cref="Fusion"/>,
/// reciprocal rank fusion with k = 60 by default).
/// </summary>
/// <param name="Text">Query text.</param>
/// <param name="K">Number of hits (1..1000).</param>
/// <param name="DeadlineMs">Per-request deadline; shards that miss it are reported in <see cref="SearchResults.Coverage"/>.</param>
/// <param name="IncludeStored">Return title and snippet with each hit.</param>
public sealed record SearchQuery(string? Text = null, int K = 10, int? DeadlineMs = null, bool IncludeStored = true)
{
    /// <summary>Channels the text goes to ("bm25", "sparse", "dense"); null means all that take text.</summary>
    public IReadOnlyList<string>? Channels { get; init; }

    /// <summary>The bm25 channel.</summary>
    public Bm25Query? Bm25 { get; init; }

    /// <summary>The learned-sparse channel.</summary>
    public SparseQuery? Sparse { get; init; }

    /// <summary>The dense channel.</summary>
    public DenseQuery? Dense { get; init; }

    /// <summary>How channels are fused.</summary>
    public FusionOptions? Fusion { get; init; }
}

/// <summary>The bm25 channel of a search: its own text and depth.</summary>
public sealed record Bm25Query(string? Text = null, int? K = null);

/// <summary>
/// The learned-sparse channel of a search: <see cref="Vector"/> (token weights over the index
/// vocabulary), or <see cref="TermIds"/> with <see cref="Weights"/>, or <see cref="Text"/> for the
/// index's sparse encoder. Approximate (Seismic) unless <see cref="Exact"/>.
/// </summary>
public sealed record SparseQuery
{
    /// <summary>Token → weight.</summary>
    public IReadOnlyDictionary<string, float>? Vector { get; init; }

    /// <summary>Term ids of the index vocabulary (with <see cref="Weights"/>).</summary>
    public IReadOnlyList<int>? TermIds { get; init; }

    /// <summary>Weights of <see cref="TermIds"/>.</summary>
    public IReadOnlyList<float>? Weights { get; init; }

    /// <summary>Text for the index's sparse encoder.</summary>
    public string? Text { get; init; }

    /// <summary>Hits taken from this channel.</summary>
    public int? K { get; init; }

    /// <summary>Exact top-k instead of approximate.</summary>
    public bool? Exact { get; init; }

    /// <summary>Approximate search: query terms whose posting blocks are visited (default 16).</summary>
    public int? QueryTermCut { get; init; }

    /// <summary>Approximate search: block pruning slack; larger is slower and more exact (default 1.75).</summary>
    public double? HeapFactor { get; init; }

    /// <summary>A query from token weights.</summary>
    public static SparseQuery FromTokens(IReadOnlyDictionary<string, float> vector) => new() { Vector = vector };
}

/// <summary>The dense channel of a search: a vector or text for the index's dense encoder; <paramref name="Ef"/> is the HNSW recall knob.</summary>
public sealed record DenseQuery(float[]? Vector = null, string? Text = null, int? K = null, bool? Exact = null, int? Ef = null);

/// <summary>How channels are fused: "rrf" (reciprocal rank fusion) or "weighted" (weighted sum of min-max normalised scores).</summary>
public sealed record FusionOptions(string Method = "rrf", int? RankConstant = null, IReadOnlyDictionary<string, double>? Weights = null);

/// <summary>One hit.</summary>
public sealed record SearchHit(string Id, float Score, string? Title, string? Snippet);

/// <summary>How many shards answered. <see cref="Partial"/> is true when any shard failed or missed the deadline.</summary>
public sealed record SearchCoverage(int Shards, int Answered, bool Partial, IReadOnlyList<int>? Missing);

/// <summary>A search answer.</summary>
public sealed record SearchResults(string Index, long Version, IReadOnlyList<SearchHit> Hits, SearchCoverage Coverage, double TookMs, IReadOnlyList<string>? Channels = null);

/// <summary>Progress of an index build.</summary>
public sealed record IngestProgress(
    string State,
    string? Phase,
    long DocumentsRead,
    long? Version,
    string? Error,
    DateTimeOffset? StartedUtc,
    DateTimeOffset? FinishedUtc,
    string? CorpusPath)
{
    /// <summary>Things the caller should know, such as replicas that share a silo; empty when none.</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];

    /// <summary>True once the build has succeeded or failed.</summary>
    public bool IsFinished => State is "succeeded" or "failed";
}

/// <summary>What an index serves now.</summary>
public sealed record IndexDescription(
    string Name,
    long Version,
    int ShardCount,
    long DocCount,
    string Analyzer,
    double K1,
    double B,
    DateTimeOffset CreatedUtc,
    IngestProgress? Ingest,
    int Replicas = 1,
    IReadOnlyList<ChannelDescription>? Channels = null,
    IndexUpdates? Updates = null);

/// <summary>Online updates of an index: what waits for a merge, and the running or last merge.</summary>
/// <param name="PendingOperations">Operations applied since the published version, not yet merged into segments.</param>
/// <param name="PendingBatches">Update batches since the published version.</param>
/// <param name="Merge">The running or last merge (state, phase, version); null when none ran since the index was (re)activated.</param>
public sealed record IndexUpdates(long PendingOperations, long PendingBatches, IngestProgress? Merge);

/// <summary>One retrieval channel of an index ("bm25", "sparse" or "dense") and its settings.</summary>
public sealed record ChannelDescription(
    string Name,
    string? Encoder = null,
    int? Dims = null,
    string? Metric = null,
    string? Storage = null,
    string? AnnIndex = null,
    int? VocabularySize = null,
    float? MaxWeight = null);

/// <summary>Options of a build. Paths are as seen by the cluster's silos.</summary>
/// <param name="Corpus">Text corpus (bm25 channel and stored fields); null for an index of vectors only.</param>
/// <param name="Format">"beir", "tsv" or "msmarco-v2"; null detects it from the file name.</param>
/// <param name="Shards">Number of shards.</param>
public sealed record IngestOptions(string? Corpus, string? Format = null, int Shards = 1, double K1 = 0.9, double B = 0.4, int Replicas = 1)
{
    /// <summary>Build the bm25 channel (default: when a corpus is given).</summary>
    public bool? Bm25 { get; init; }

    /// <summary>Learned-sparse vectors in Anserini's JSON vector format.</summary>
    public string? SparseVectors { get; init; }

    /// <summary>Vocabulary (vocab.txt) of the sparse channel; null uses the cluster default.</summary>
    public string? SparseVocabulary { get; init; }

    /// <summary>Encoder that makes the sparse vectors from text (at indexing and query time).</summary>
    public string? SparseEncoder { get; init; }

    /// <summary>Postings kept per term in the approximate sparse index.</summary>
    public int? SparsePostingsPerTerm { get; init; }

    /// <summary>Dense vectors: jsonl or SHOALVEC binary.</summary>
    public string? DenseVectors { get; init; }

    /// <summary>Dense dimensions (default: from the data or the encoder).</summary>
    public int? DenseDims { get; init; }

    /// <summary>"dot" or "cosine".</summary>
    public string? DenseMetric { get; init; }

    /// <summary>"fp32", "fp16" or "int8".</summary>
    public string? DenseStorage { get; init; }

    /// <summary>"hnsw" or "flat".</summary>
    public string? DenseIndex { get; init; }

    /// <summary>HNSW links per node.</summary>
    public int? HnswM { get; init; }

    /// <summary>HNSW build beam width.</summary>
    public int? HnswEfConstruction { get; init; }

    /// <summary>Encoder that makes the dense vectors from text.</summary>
    public string? DenseEncoder { get; init; }

    /// <summary>Refuse the build when its replicas cannot be placed on distinct silos (otherwise it runs and carries a warning).</summary>
    public bool? StrictPlacement { get; init; }
}

internal sealed record IndexListResponse(IReadOnlyList<string> Indexes);

internal sealed record ProblemResponse(string? Title, int? Status, string? Detail);
