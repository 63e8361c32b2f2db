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
/// <param name="Text">Query text for this channel (instead of the search's text).</param>
/// <param name="K">Hits this channel contributes before fusion.</param>
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
/// <param name="Vector">Query vector of the index's dimensions.</param>
/// <param name="Text">Text for the index's dense encoder.</param>
/// <param name="K">Hits this channel contributes before fusion.</param>
/// <param name="Exact">Exact scan instead of the HNSW graph.</param>
/// <param name="Ef">HNSW beam width (larger: better recall, slower).</param>
public sealed record DenseQuery(float[]? Vector = null, string? Text = null, int? K = null, bool? Exact = null, int? Ef = null);

/// <summary>How channels are fused: "rrf" (reciprocal rank fusion) or "weighted" (weighted sum of min-max normalised scores).</summary>
/// <param name="Method">"rrf" or "weighted".</param>
/// <param name="RankConstant">Reciprocal rank fusion's constant (default 60).</param>
/// <param name="Weights">Weight per channel ("bm25", "sparse", "dense"; default 1).</param>
public sealed record FusionOptions(string Method = "rrf", int? RankConstant = null, IReadOnlyDictionary<string, double>? Weights = null);

/// <summary>One hit.</summary>
/// <param name="Id">Document id.</param>
/// <param name="Score">Score (the channel's own, or the fused score).</param>
/// <param name="Title">Stored title, when asked for.</param>
/// <param name="Snippet">Stored text snippet, when asked for.</param>
public sealed record SearchHit(string Id, float Score, string? Title, string? Snippet)
{
    /// <summary>
    /// The hit's 1-based rank in each channel of the answer, in the order of
    /// <see cref="SearchResults.Channels"/>; 0 where that channel did not return it. For a fused
    /// (hybrid) search this shows what each channel contributed; a single-channel answer gives the
    /// hit's position. Null from a gateway that does not report ranks.
    /// </summary>
    public IReadOnlyList<int>? Ranks { get; init; }
}

/// <summary>How many shards answered. <see cref="Partial"/> is true when any shard failed or missed the deadline.</summary>
/// <param name="Shards">Shards of the index.</param>
/// <param name="Answered">Shards that answered in time.</param>
/// <param name="Partial">True when some shard did not.</param>
/// <param name="Missing">The shards that did not.</param>
public sealed record SearchCoverage(int Shards, int Answered, bool Partial, IReadOnlyList<int>? Missing)
{
    /// <summary>
    /// Why each shard of <see cref="Missing"/> is missing, in the same order: no answer within the
    /// deadline, cancelled at the deadline, or failed (with the error); empty when none is missing.
    /// </summary>
    public IReadOnlyList<string> Reasons { get; init; } = [];
}

/// <summary>A search answer.</summary>
/// <param name="Index">Index searched.</param>
/// <param name="Version">Version of the index that answered.</param>
/// <param name="Hits">Hits, best first.</param>
/// <param name="Coverage">Shards that answered.</param>
/// <param name="TookMs">Server-side time in milliseconds.</param>
/// <param name="Channels">Channels that took part ("bm25", "sparse", "dense").</param>
public sealed record SearchResults(string Index, long Version, IReadOnlyList<SearchHit> Hits, SearchCoverage Coverage, double TookMs, IReadOnlyList<string>? Channels = null);

/// <summary>Progress of an index build (or a merge).</summary>
/// <param name="State">"idle", "running", "succeeded" or "failed".</param>
/// <param name="Phase">What the build is doing now.</param>
/// <param name="DocumentsRead">Documents read so far.</param>
/// <param name="Version">The version it published, once it has.</param>
/// <param name="Error">Why it failed.</param>
/// <param name="StartedUtc">When it started.</param>
/// <param name="FinishedUtc">When it finished.</param>
/// <param name="CorpusPath">The text corpus it reads.</param>
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

    /// <summary>The indexing job that runs the build (see <see cref="ShoalClient.GetJobAsync"/>); null for a merge.</summary>
    public string? JobId { get; init; }

    /// <summary>True once the build has succeeded or failed.</summary>
    public bool IsFinished => State is "succeeded" or "failed";
}

/// <summary>What an index serves now.</summary>
/// <param name="Name">Index name.</param>
/// <param name="Version">Published version served.</param>
/// <param name="ShardCount">Shards.</param>
/// <param name="DocCount">Documents in the published version.</param>
/// <param name="Analyzer">Text analyzer ("english").</param>
/// <param name="K1">BM25 k1.</param>
/// <param name="B">BM25 b.</param>
/// <param name="CreatedUtc">When the version was published.</param>
/// <param name="Ingest">The current or last build.</param>
/// <param name="Replicas">Copies of each shard.</param>
/// <param name="Channels">Retrieval channels and their settings.</param>
/// <param name="Updates">Online updates pending and the last merge.</param>
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
    IndexUpdates? Updates = null)
{
    /// <summary>
    /// Which silo serves each shard replica (and where the placement map wants it), as the
    /// cluster's rebalancer last saw it; null until it has looked.
    /// </summary>
    public PlacementDescription? Placement { get; init; }

    /// <summary>The silo the index's coordinating grain runs on (for operators).</summary>
    public string? Silo { get; init; }
}

/// <summary>Where an index's shard replicas are served, as the cluster's rebalancer last saw it.</summary>
/// <param name="ObservedUtc">When the rebalancer looked.</param>
/// <param name="Replicas">Every replica of every shard.</param>
/// <param name="Skew">Replica counts per eligible silo differ by at most this much.</param>
/// <param name="Balanced">True when every replica is on the silo the placement map assigns it to.</param>
public sealed record PlacementDescription(DateTimeOffset ObservedUtc, IReadOnlyList<ReplicaLocation> Replicas, int Skew, bool Balanced);

/// <summary>Where one shard replica is served.</summary>
/// <param name="Shard">Shard number.</param>
/// <param name="Replica">Replica number of the shard.</param>
/// <param name="Silo">Silo serving the replica now.</param>
/// <param name="Target">Silo the placement map assigns it to; differs from <paramref name="Silo"/> while a move is pending.</param>
/// <param name="Version">Index version the replica serves.</param>
public sealed record ReplicaLocation(int Shard, int Replica, string Silo, string Target, long Version)
{
    /// <summary>True while the replica is not yet on its target silo.</summary>
    public bool IsMoving => !string.Equals(Silo, Target, StringComparison.Ordinal);
}

/// <summary>Online updates of an index: what waits for a merge, and the running or last merge.</summary>
/// <param name="PendingOperations">Operations applied since the published version, not yet merged into segments.</param>
/// <param name="PendingBatches">Update batches since the published version.</param>
/// <param name="Merge">The running or last merge (state, phase, version); null when none ran since the index was (re)activated.</param>
public sealed record IndexUpdates(long PendingOperations, long PendingBatches, IngestProgress? Merge);

/// <summary>One retrieval channel of an index ("bm25", "sparse" or "dense") and its settings.</summary>
/// <param name="Name">"bm25", "sparse" or "dense".</param>
/// <param name="Encoder">Encoder that turns text into this channel's vectors, if any.</param>
/// <param name="Dims">Dense dimensions.</param>
/// <param name="Metric">Dense metric ("dot" or "cosine").</param>
/// <param name="Storage">Dense storage ("fp32", "fp16", "int8").</param>
/// <param name="AnnIndex">Dense index ("hnsw" or "flat").</param>
/// <param name="VocabularySize">Sparse vocabulary size.</param>
/// <param name="MaxWeight">Sparse quantisation scale (largest weight).</param>
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
/// <param name="K1">BM25 k1 (term frequency saturation).</param>
/// <param name="B">BM25 b (length normalisation).</param>
/// <param name="Replicas">Copies of each shard, on distinct silos where the cluster has enough.</param>
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
