using Shoal.Grains.Contracts;

namespace Shoal.Gateway;

/// <summary>
/// Body of <c>POST /v1/indexes/{name}/search</c>. <c>text</c> goes to <c>channels</c> (default:
/// every channel of the index that takes text); <c>bm25</c>, <c>sparse</c> and <c>dense</c> set
/// per-channel k and knobs and may carry their own query; several channels are fused.
/// </summary>
public sealed record SearchBody(
    string? Text,
    int? K,
    int? DeadlineMs,
    bool? IncludeStored,
    string[]? Channels = null,
    Bm25Body? Bm25 = null,
    SparseBody? Sparse = null,
    DenseBody? Dense = null,
    FusionBody? Fusion = null);

/// <summary>The bm25 channel of a search.</summary>
public sealed record Bm25Body(string? Text, int? K);

/// <summary>
/// The sparse channel of a search: <c>vector</c> maps tokens of the index vocabulary to weights;
/// or <c>termIds</c> with <c>weights</c>; or <c>text</c> for the index's sparse encoder.
/// <c>exact</c> asks for exact top-k instead of approximate (Seismic) search, whose knobs are
/// <c>queryTermCut</c> and <c>heapFactor</c>.
/// </summary>
public sealed record SparseBody(
    Dictionary<string, float>? Vector,
    int[]? TermIds,
    float[]? Weights,
    string? Text,
    int? K,
    bool? Exact,
    int? QueryTermCut,
    double? HeapFactor);

/// <summary>The dense channel of a search: a <c>vector</c> or <c>text</c> for the index's dense encoder; <c>ef</c> is the HNSW recall knob.</summary>
public sealed record DenseBody(float[]? Vector, string? Text, int? K, bool? Exact, int? Ef);

/// <summary>How channels are fused: <c>rrf</c> (default, <c>rankConstant</c> 60) or <c>weighted</c>, with per-channel <c>weights</c>.</summary>
public sealed record FusionBody(string? Method, int? RankConstant, Dictionary<string, double>? Weights);

/// <summary>Body of <c>POST /v1/indexes/{name}/ingest</c>: sources (paths readable by the silo) and channel settings.</summary>
public sealed record IngestBody(
    string? Corpus,
    string? Format,
    int? Shards,
    double? K1,
    double? B,
    int? Replicas,
    bool? Bm25 = null,
    string? SparseVectors = null,
    string? SparseVocabulary = null,
    string? SparseEncoder = null,
    int? SparsePostingsPerTerm = null,
    string? DenseVectors = null,
    int? DenseDims = null,
    string? DenseMetric = null,
    string? DenseStorage = null,
    string? DenseIndex = null,
    int? HnswM = null,
    int? HnswEfConstruction = null,
    string? DenseEncoder = null,
    bool? StrictPlacement = null);

/// <summary>A hit in an HTTP response.</summary>
public sealed record HitDto(string Id, float Score, string? Title, string? Snippet);

/// <summary>Response of a search.</summary>
public sealed record SearchResult(string Index, long Version, IReadOnlyList<HitDto> Hits, Coverage Coverage, double TookMs, IReadOnlyList<string> Channels);

/// <summary>Response of <c>GET /v1/indexes</c>.</summary>
public sealed record IndexList(IReadOnlyList<string> Indexes);

/// <summary>
/// Body of <c>POST /v1/indexes/{name}/documents</c>: documents to insert or replace by id and ids
/// to delete, applied to the live index as one batch (at most
/// <see cref="UpdatesApi.MaxOperationsPerRequest"/> operations).
/// </summary>
public sealed record DocumentsBody(DocumentBody?[]? Documents, string?[]? Deletes);

/// <summary>
/// One document of an update: <c>id</c>, <c>title</c> and <c>text</c>; a sparse vector as
/// <c>sparse</c> (token → weight over the index vocabulary) or as <c>sparseTermIds</c> with
/// <c>sparseWeights</c>; a <c>dense</c> vector. Each channel of the index needs its field unless
/// the channel has an encoder, which then encodes title and text.
/// </summary>
public sealed record DocumentBody(
    string? Id,
    string? Title = null,
    string? Text = null,
    Dictionary<string, float>? Sparse = null,
    int[]? SparseTermIds = null,
    float[]? SparseWeights = null,
    float[]? Dense = null);
