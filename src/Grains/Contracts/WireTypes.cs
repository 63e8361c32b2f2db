using Orleans;
using Shoal.Engine.Indexing;

namespace Shoal.Grains.Contracts;

/// <summary>Lifecycle of an index build.</summary>
[GenerateSerializer, Alias("shoal.IngestState")]
public enum IngestState
{
    /// <summary>No build has run in this activation.</summary>
    Idle = 0,
    /// <summary>Documents are being read, analysed and written.</summary>
    Running = 1,
    /// <summary>The version is published and shards serve it.</summary>
    Succeeded = 2,
    /// <summary>The build stopped with an error; the previous version keeps serving.</summary>
    Failed = 3,
}

/// <summary>
/// Asks an index to (re)build into a new version from one or more sources: a text corpus (BM25
/// channel and stored fields), learned-sparse vectors (Anserini JSON vector format) and dense vectors
/// (jsonl or SHOALVEC binary). Sources are joined by document id; every path is as seen by the silo.
/// </summary>
[GenerateSerializer, Immutable, Alias("shoal.IngestRequest")]
public sealed record IngestRequest
{
    /// <summary>Text corpus; null when the index has only vector channels.</summary>
    [Id(0)] public string? CorpusPath { get; init; }
    /// <summary>"beir", "tsv" or "msmarco-v2"; null detects from the file name.</summary>
    [Id(1)] public string? Format { get; init; }
    /// <summary>Number of shards (1..1024).</summary>
    [Id(2)] public int Shards { get; init; } = IndexSpecification.DefaultShards;
    /// <summary>BM25 k1.</summary>
    [Id(3)] public double K1 { get; init; } = IndexSpecification.DefaultK1;
    /// <summary>BM25 b.</summary>
    [Id(4)] public double B { get; init; } = IndexSpecification.DefaultB;
    /// <summary>Copies of each shard served from different silos (1..8).</summary>
    [Id(5)] public int Replicas { get; init; } = IndexSpecification.DefaultReplicas;
    /// <summary>Build the BM25 channel from the corpus (default: yes when a corpus is given).</summary>
    [Id(6)] public bool? Bm25 { get; init; }
    /// <summary>Learned-sparse document vectors: Anserini JSON vector lines <c>{"id", "contents", "vector": {token: weight}}</c>, gzip accepted.</summary>
    [Id(7)] public string? SparseVectorsPath { get; init; }
    /// <summary>WordPiece vocabulary (<c>vocab.txt</c>) of the sparse channel; null uses the cluster default.</summary>
    [Id(8)] public string? SparseVocabularyPath { get; init; }
    /// <summary>Encoder (by name) that turns text into sparse vectors, for indexing without precomputed vectors and for text queries.</summary>
    [Id(9)] public string? SparseEncoder { get; init; }
    /// <summary>Dense document vectors: jsonl <c>{"id", "vector": [...]}</c> or SHOALVEC binary, gzip accepted.</summary>
    [Id(10)] public string? DenseVectorsPath { get; init; }
    /// <summary>Dense dimensions; null takes them from the first vector (or the encoder).</summary>
    [Id(11)] public int? DenseDims { get; init; }
    /// <summary>"dot" or "cosine".</summary>
    [Id(12)] public string DenseMetric { get; init; } = IndexSpecification.DefaultDenseMetric;
    /// <summary>"fp32", "fp16" or "int8".</summary>
    [Id(13)] public string DenseStorage { get; init; } = IndexSpecification.DefaultDenseStorage;
    /// <summary>"hnsw" (approximate by default, exact on request) or "flat" (exact scans only).</summary>
    [Id(14)] public string DenseIndex { get; init; } = IndexSpecification.DefaultDenseIndex;
    /// <summary>HNSW links per node.</summary>
    [Id(15)] public int HnswM { get; init; } = IndexSpecification.DefaultHnswM;
    /// <summary>HNSW build beam width.</summary>
    [Id(16)] public int HnswEfConstruction { get; init; } = IndexSpecification.DefaultHnswEfConstruction;
    /// <summary>Encoder (by name) that turns text into dense vectors.</summary>
    [Id(17)] public string? DenseEncoder { get; init; }
    /// <summary>Seismic static pruning: postings kept per term in the approximate index; null uses the default.</summary>
    [Id(18)] public int? SparsePostingsPerTerm { get; init; }
    /// <summary>Refuse the build when the replicas cannot be placed on distinct silos (otherwise it is a warning).</summary>
    [Id(19)] public bool StrictPlacement { get; init; }
}

/// <summary>Progress of an index build.</summary>
[GenerateSerializer, Immutable, Alias("shoal.IngestStatus")]
public sealed record IngestStatus
{
    [Id(0)] public IngestState State { get; init; }
    [Id(1)] public string Phase { get; init; } = "";
    [Id(2)] public long DocumentsRead { get; init; }
    [Id(3)] public long? Version { get; init; }
    [Id(4)] public string? Error { get; init; }
    [Id(5)] public DateTimeOffset? StartedUtc { get; init; }
    [Id(6)] public DateTimeOffset? FinishedUtc { get; init; }
    [Id(7)] public string? CorpusPath { get; init; }
    /// <summary>Things the caller should know (e.g. replicas sharing a silo); empty when none.</summary>
    [Id(8)] public string[] Warnings { get; init; } = [];
    /// <summary>The indexing job that runs the build (an ingest is a job: follow it under /v1/jobs too); null for a merge.</summary>
    [Id(9)] public string? JobId { get; init; }
}

/// <summary>What deleting an index removed.</summary>
[GenerateSerializer, Immutable, Alias("shoal.IndexDeletion")]
public sealed record IndexDeletion
{
    /// <summary>The index.</summary>
    [Id(0)] public string Index { get; init; } = "";
    /// <summary>The published versions removed from the snapshot store, ascending.</summary>
    [Id(1)] public long[] RemovedVersions { get; init; } = [];
    /// <summary>Store objects removed (segments, manifests, vocabularies, update-log batches).</summary>
    [Id(2)] public int RemovedObjects { get; init; }
    /// <summary>Shard replicas told to stop serving.</summary>
    [Id(3)] public int ShardReplicasDropped { get; init; }
    /// <summary>Shard replicas that could not be told (their silo did not answer); they find nothing to serve when next activated.</summary>
    [Id(4)] public string[] Warnings { get; init; } = [];
}

/// <summary>What an index is now: its published version and schema.</summary>
[GenerateSerializer, Immutable, Alias("shoal.IndexInfo")]
public sealed record IndexInfo
{
    [Id(0)] public string Name { get; init; } = "";
    [Id(1)] public long Version { get; init; }
    [Id(2)] public int ShardCount { get; init; }
    [Id(3)] public long DocCount { get; init; }
    [Id(4)] public string Analyzer { get; init; } = "english";
    [Id(5)] public double K1 { get; init; }
    [Id(6)] public double B { get; init; }
    [Id(7)] public DateTimeOffset CreatedUtc { get; init; }
    [Id(8)] public IngestStatus? Ingest { get; init; }
    [Id(9)] public int Replicas { get; init; } = 1;
    /// <summary>The retrieval channels of the published version.</summary>
    [Id(10)] public ChannelInfo[] Channels { get; init; } = [];
    /// <summary>Online updates waiting for a merge, and the last merge.</summary>
    [Id(11)] public UpdateInfo? Updates { get; init; }
    /// <summary>Which silo serves each shard replica, as the rebalancer last saw it (null until it looked).</summary>
    [Id(13)] public Placement.IndexPlacement? Placement { get; init; }
    /// <summary>The silo the index grain runs on (its runtime identity), for operators and fault-injection runs.</summary>
    [Id(12)] public string? Silo { get; init; }

    /// <summary>The channel named <paramref name="name"/>, or null.</summary>
    public ChannelInfo? Channel(string name) => Array.Find(Channels, c => c.Name == name);
}

/// <summary>One retrieval channel of an index.</summary>
[GenerateSerializer, Immutable, Alias("shoal.ChannelInfo")]
public sealed record ChannelInfo
{
    /// <summary>"bm25", "sparse" or "dense".</summary>
    [Id(0)] public string Name { get; init; } = "";
    /// <summary>Encoder that turns text into this channel's vectors; null when queries must carry vectors (bm25 needs none).</summary>
    [Id(1)] public string? Encoder { get; init; }
    /// <summary>Dense: dimensions.</summary>
    [Id(2)] public int? Dims { get; init; }
    /// <summary>Dense: "dot" or "cosine".</summary>
    [Id(3)] public string? Metric { get; init; }
    /// <summary>Dense: "fp32", "fp16" or "int8".</summary>
    [Id(4)] public string? Storage { get; init; }
    /// <summary>Dense: "hnsw" or "flat".</summary>
    [Id(5)] public string? AnnIndex { get; init; }
    /// <summary>Sparse: tokens in the vocabulary.</summary>
    [Id(6)] public int? VocabularySize { get; init; }
    /// <summary>Sparse: the u8 quantisation scale (largest document weight).</summary>
    [Id(7)] public float? MaxWeight { get; init; }
}

/// <summary>
/// One document to insert or replace by id on a live index. The document must carry every
/// channel of the index: <see cref="Text"/> for bm25; a sparse vector (token weights or term
/// ids) unless the sparse channel has an encoder, which then encodes title and text; a dense
/// vector unless the dense channel has an encoder. An upsert replaces the whole document.
/// </summary>
[GenerateSerializer, Immutable, Alias("shoal.UpsertDocument")]
public sealed record UpsertDocument
{
    [Id(0)] public string Id { get; init; } = "";
    [Id(1)] public string? Title { get; init; }
    [Id(2)] public string? Text { get; init; }
    /// <summary>Sparse vector as tokens of the index vocabulary (parallel to <see cref="SparseTokenWeights"/>).</summary>
    [Id(3)] public string[]? SparseTokens { get; init; }
    [Id(4)] public float[]? SparseTokenWeights { get; init; }
    /// <summary>Sparse vector as term ids of the index vocabulary (parallel to <see cref="SparseWeights"/>).</summary>
    [Id(5)] public int[]? SparseTermIds { get; init; }
    [Id(6)] public float[]? SparseWeights { get; init; }
    /// <summary>Dense vector, packed float32 little-endian.</summary>
    [Id(7)] public byte[]? DenseVector { get; init; }
}

/// <summary>Upserts and deletes applied to a live index as one ordered batch.</summary>
[GenerateSerializer, Immutable, Alias("shoal.UpdateRequest")]
public sealed record UpdateRequest
{
    [Id(0)] public UpsertDocument[] Upserts { get; init; } = [];
    /// <summary>Ids to delete (ids the index does not hold are not an error).</summary>
    [Id(1)] public string[] Deletes { get; init; } = [];
}

/// <summary>What an update did: it is durable and visible to the next search when this returns.</summary>
[GenerateSerializer, Immutable, Alias("shoal.UpdateResult")]
public sealed record UpdateResult
{
    [Id(0)] public string Index { get; init; } = "";
    /// <summary>The published version the updates apply on top of.</summary>
    [Id(1)] public long Version { get; init; }
    [Id(2)] public int Upserted { get; init; }
    /// <summary>Deletes that removed a document the index held (ids it did not hold are not counted).</summary>
    [Id(3)] public int Deleted { get; init; }
    /// <summary>Operations waiting in the live buffers for the next merge (all shards).</summary>
    [Id(4)] public long PendingOperations { get; init; }
}

/// <summary>Online updates of an index: what waits for a merge, and the last or running merge.</summary>
[GenerateSerializer, Immutable, Alias("shoal.UpdateInfo")]
public sealed record UpdateInfo
{
    /// <summary>Operations applied since the published version (not yet merged into segments).</summary>
    [Id(0)] public long PendingOperations { get; init; }
    /// <summary>Update batches since the published version.</summary>
    [Id(1)] public long PendingBatches { get; init; }
    /// <summary>The running or last merge (state, phase, version), or null when none ran on this activation.</summary>
    [Id(2)] public IngestStatus? Merge { get; init; }
}

/// <summary>An analysed BM25 query as sent to every shard.</summary>
[GenerateSerializer, Immutable, Alias("shoal.ShardTextQuery")]
public sealed record ShardTextQuery
{
    [Id(0)] public string[] Terms { get; init; } = [];
    [Id(1)] public float[] Weights { get; init; } = [];
    [Id(2)] public int K { get; init; } = 10;
}

/// <summary>A learned-sparse query as sent to every shard: term ids of the index vocabulary.</summary>
[GenerateSerializer, Immutable, Alias("shoal.ShardSparseQuery")]
public sealed record ShardSparseQuery
{
    [Id(0)] public int[] Terms { get; init; } = [];
    [Id(1)] public float[] Weights { get; init; } = [];
    [Id(2)] public int K { get; init; } = 10;
    /// <summary>Exact top-k (block-max MaxScore) instead of Seismic approximate search.</summary>
    [Id(3)] public bool Exact { get; init; }
    [Id(4)] public int QueryTermCut { get; init; } = 16;
    [Id(5)] public double HeapFactor { get; init; } = 1.75;
}

/// <summary>A dense query as sent to every shard; the vector is packed float32 little-endian.</summary>
[GenerateSerializer, Immutable, Alias("shoal.ShardDenseQuery")]
public sealed record ShardDenseQuery
{
    [Id(0)] public byte[] Vector { get; init; } = [];
    [Id(1)] public int K { get; init; } = 10;
    /// <summary>Exact flat scan (batched with concurrent queries) instead of the HNSW graph.</summary>
    [Id(2)] public bool Exact { get; init; }
    /// <summary>HNSW beam width; 0 uses the default.</summary>
    [Id(3)] public int Ef { get; init; }
}

/// <summary>What one shard is asked: one or more channels, each with its own k.</summary>
[GenerateSerializer, Immutable, Alias("shoal.ShardQuery")]
public sealed record ShardQuery
{
    /// <summary>The index version the coordinator saw; a shard on an older one reloads first.</summary>
    [Id(0)] public long Version { get; init; }
    /// <summary>Return title and snippet with each hit.</summary>
    [Id(1)] public bool IncludeStored { get; init; }
    [Id(2)] public ShardTextQuery? Bm25 { get; init; }
    [Id(3)] public ShardSparseQuery? Sparse { get; init; }
    [Id(4)] public ShardDenseQuery? Dense { get; init; }
}

/// <summary>Asks a shard for the stored fields of some of its documents (the fetch phase of fused queries).</summary>
[GenerateSerializer, Immutable, Alias("shoal.ShardFetchRequest")]
public sealed record ShardFetchRequest
{
    [Id(0)] public long Version { get; init; }
    [Id(1)] public string[] Ids { get; init; } = [];
}

/// <summary>
/// One hit on the wire, and the one hit type from a shard's reply to the coordinator's response:
/// merged and fused as it is (<see cref="Engine.Search.IRankedHit{TSelf}"/>).
/// </summary>
[GenerateSerializer, Immutable, Alias("shoal.Hit")]
public sealed record Hit : Engine.Search.IRankedHit<Hit>
{
    [Id(0)] public string Id { get; init; } = "";
    [Id(1)] public float Score { get; init; }
    [Id(2)] public string? Title { get; init; }
    [Id(3)] public string? Snippet { get; init; }
    /// <summary>Final hits only: the 1-based rank in each channel of the response (parallel to its channels; 0 when that channel did not return the hit).</summary>
    [Id(4)] public int[]? Ranks { get; init; }

    /// <inheritdoc />
    public Hit WithScore(float score) => this with { Score = score };
}

/// <summary>A shard's local top-k per channel asked (null for channels not asked).</summary>
[GenerateSerializer, Immutable, Alias("shoal.ShardSearchResult")]
public sealed record ShardSearchResult
{
    [Id(0)] public int Shard { get; init; }
    [Id(1)] public long Version { get; init; }
    [Id(2)] public Hit[]? Bm25 { get; init; }
    [Id(3)] public Hit[]? Sparse { get; init; }
    [Id(4)] public Hit[]? Dense { get; init; }
    /// <summary>The silo that answered (the coordinator batches the next search's shards by silo).</summary>
    [Id(5)] public Orleans.Runtime.SiloAddress? Silo { get; init; }
    /// <summary>The replica that answered.</summary>
    [Id(6)] public int Replica { get; init; }

    /// <summary>The hits of channel <paramref name="channel"/>.</summary>
    public Hit[]? Of(string channel) => channel switch
    {
        "bm25" => Bm25,
        "sparse" => Sparse,
        "dense" => Dense,
        _ => null,
    };
}

/// <summary>State of one shard activation.</summary>
[GenerateSerializer, Immutable, Alias("shoal.ShardInfo")]
public sealed record ShardInfo
{
    [Id(0)] public string Index { get; init; } = "";
    [Id(1)] public int Shard { get; init; }
    [Id(2)] public long Version { get; init; }
    [Id(3)] public long DocCount { get; init; }
    [Id(4)] public long SegmentBytes { get; init; }
    [Id(5)] public string Silo { get; init; } = "";
    [Id(6)] public int Replica { get; init; }
    /// <summary>Passes of exact dense scans (each may answer a batch of queries).</summary>
    [Id(7)] public long DensePasses { get; init; }
    /// <summary>Exact dense queries answered by those passes.</summary>
    [Id(8)] public long DenseExactQueries { get; init; }
    /// <summary>Last update batch applied to the live buffer (per-shard sequence).</summary>
    [Id(9)] public long UpdateSequence { get; init; }
    /// <summary>Documents upserted into the live buffer since the served version.</summary>
    [Id(10)] public int LiveDocuments { get; init; }
    /// <summary>Ids whose copy in the served version is hidden (deleted or replaced).</summary>
    [Id(11)] public int HiddenDocuments { get; init; }
    /// <summary>Address of the silo serving this replica (Orleans' parsable form, "host:port@generation").</summary>
    [Id(12)] public string SiloAddress { get; init; } = "";
    /// <summary>The activation is still restoring its version from the snapshot store (the other fields say what it serves meanwhile).</summary>
    [Id(13)] public bool Restoring { get; init; }
}

/// <summary>
/// A search as the coordinator receives it. <see cref="Text"/> goes to <see cref="Channels"/>
/// (default: every channel of the index that takes text: bm25, and sparse/dense when they have an
/// encoder). <see cref="Bm25"/>, <see cref="Sparse"/> and <see cref="Dense"/> set per-channel k and
/// knobs and may carry their own query (text or vector), which adds the channel. Several channels
/// are fused (<see cref="Fusion"/>, reciprocal rank fusion by default).
/// </summary>
[GenerateSerializer, Immutable, Alias("shoal.SearchRequest")]
public sealed record SearchRequest
{
    [Id(0)] public string Index { get; init; } = "";
    [Id(1)] public string? Text { get; init; }
    [Id(2)] public int K { get; init; } = 10;
    /// <summary>Per-request deadline; null uses the cluster default.</summary>
    [Id(3)] public int? DeadlineMs { get; init; }
    [Id(4)] public bool IncludeStored { get; init; } = true;
    /// <summary>Channels <see cref="Text"/> is sent to; null means every channel that takes text.</summary>
    [Id(5)] public string[]? Channels { get; init; }
    [Id(6)] public Bm25QuerySpec? Bm25 { get; init; }
    [Id(7)] public SparseQuerySpec? Sparse { get; init; }
    [Id(8)] public DenseQuerySpec? Dense { get; init; }
    [Id(9)] public FusionSpec? Fusion { get; init; }
}

/// <summary>The bm25 channel of a search.</summary>
[GenerateSerializer, Immutable, Alias("shoal.Bm25QuerySpec")]
public sealed record Bm25QuerySpec
{
    /// <summary>Query text for this channel (overrides the request's text).</summary>
    [Id(0)] public string? Text { get; init; }
    /// <summary>Hits taken from this channel; null: the request's k alone, max(k, 100) when fused.</summary>
    [Id(1)] public int? K { get; init; }
}

/// <summary>The sparse channel of a search: a vector as token weights or term ids, or text for the index's encoder.</summary>
[GenerateSerializer, Immutable, Alias("shoal.SparseQuerySpec")]
public sealed record SparseQuerySpec
{
    /// <summary>Tokens of the index vocabulary (parallel to <see cref="TokenWeights"/>).</summary>
    [Id(0)] public string[]? Tokens { get; init; }
    [Id(1)] public float[]? TokenWeights { get; init; }
    /// <summary>Term ids of the index vocabulary (parallel to <see cref="Weights"/>).</summary>
    [Id(2)] public int[]? TermIds { get; init; }
    [Id(3)] public float[]? Weights { get; init; }
    /// <summary>Text to encode with the channel's encoder (overrides the request's text).</summary>
    [Id(4)] public string? Text { get; init; }
    [Id(5)] public int? K { get; init; }
    /// <summary>Exact search instead of approximate (Seismic).</summary>
    [Id(6)] public bool? Exact { get; init; }
    [Id(7)] public int? QueryTermCut { get; init; }
    [Id(8)] public double? HeapFactor { get; init; }

    /// <summary>True when the spec carries its own query (a vector or text).</summary>
    public bool HasQuery => Tokens is not null || TermIds is not null || Text is not null;
}

/// <summary>The dense channel of a search: a vector (packed float32 little-endian), or text for the index's encoder.</summary>
[GenerateSerializer, Immutable, Alias("shoal.DenseQuerySpec")]
public sealed record DenseQuerySpec
{
    [Id(0)] public byte[]? Vector { get; init; }
    [Id(1)] public string? Text { get; init; }
    [Id(2)] public int? K { get; init; }
    /// <summary>Exact flat scan instead of the HNSW graph.</summary>
    [Id(3)] public bool? Exact { get; init; }
    /// <summary>HNSW beam width (the recall knob).</summary>
    [Id(4)] public int? Ef { get; init; }

    /// <summary>True when the spec carries its own query (a vector or text).</summary>
    public bool HasQuery => Vector is not null || Text is not null;
}

/// <summary>How several channels' rankings become one.</summary>
[GenerateSerializer, Immutable, Alias("shoal.FusionSpec")]
public sealed record FusionSpec
{
    /// <summary>"rrf" (reciprocal rank fusion) or "weighted" (weighted sum of min-max normalised scores).</summary>
    [Id(0)] public string Method { get; init; } = "rrf";
    /// <summary>RRF rank constant (default 60).</summary>
    [Id(1)] public int? RankConstant { get; init; }
    /// <summary>Channel weights by name (default 1 each).</summary>
    [Id(2)] public Dictionary<string, double>? Weights { get; init; }
}

/// <summary>Outcome class of a search, so errors cross the wire without exception types.</summary>
[GenerateSerializer, Alias("shoal.SearchStatus")]
public enum SearchStatus
{
    /// <summary>Answered (possibly partially: see coverage).</summary>
    Ok = 0,
    /// <summary>The request is invalid; see the error.</summary>
    Invalid = 1,
    /// <summary>No such index.</summary>
    IndexNotFound = 2,
    /// <summary>A service the query needs (an encoder pool) cannot serve now; retry later.</summary>
    Unavailable = 3,
}

/// <summary>How complete an answer is: every response carries it, so a partial answer is never silent.</summary>
[GenerateSerializer, Immutable, Alias("shoal.Coverage")]
public sealed record Coverage
{
    [Id(0)] public int Shards { get; init; }
    [Id(1)] public int Answered { get; init; }
    [Id(2)] public bool Partial { get; init; }
    /// <summary>Shards that missed the deadline or failed.</summary>
    [Id(3)] public int[] Missing { get; init; } = [];
    /// <summary>Why each missing shard is missing (deadline passed, shard failed), in the order of <see cref="Missing"/>.</summary>
    [Id(4)] public string[] Reasons { get; init; } = [];
}

/// <summary>The merged answer.</summary>
[GenerateSerializer, Immutable, Alias("shoal.SearchResponse")]
public sealed record SearchResponse
{
    [Id(0)] public SearchStatus Status { get; init; }
    [Id(1)] public string? Error { get; init; }
    [Id(2)] public string Index { get; init; } = "";
    /// <summary>The oldest index version among the shards that answered (normally the published one).</summary>
    [Id(3)] public long Version { get; init; }
    [Id(4)] public Hit[] Hits { get; init; } = [];
    [Id(5)] public Coverage Coverage { get; init; } = new();
    [Id(6)] public double TookMs { get; init; }
    /// <summary>The channels that answered, in fusion order.</summary>
    [Id(7)] public string[] Channels { get; init; } = [];
}
