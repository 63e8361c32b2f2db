using System.Text.RegularExpressions;
using Orleans;
using Shoal.Engine.Indexing;
using Orleans.Concurrency;

namespace Shoal.Grains.Jobs;

/// <summary>
/// One indexing job (keyed by job id): reads a source in chunks in the background, checkpoints
/// after every chunk to durable grain storage, builds and publishes a new version of the target
/// index, and resumes from its last checkpoint on another silo when the silo running it dies.
/// </summary>
[Alias("shoal.IIndexJobGrain")]
public interface IIndexJobGrain : IGrainWithStringKey
{
    /// <summary>
    /// Starts the job; returns at once with its status. Submitting the same request again under
    /// the same id returns the job as it is (idempotent); a different request under a used id is
    /// an <see cref="InvalidOperationException"/>. A bad request is an <see cref="ArgumentException"/>.
    /// </summary>
    Task<IndexJobStatus> SubmitAsync(IndexJobRequest request);

    /// <summary>The job's progress, or null when no job has this id.</summary>
    [ReadOnly, AlwaysInterleave]
    Task<IndexJobStatus?> GetStatusAsync();

    /// <summary>
    /// Asks the job to stop: it stops at the next chunk boundary, deletes its spills and ends as
    /// <see cref="IndexJobState.Cancelled"/> (a finished job is left as it is). Null for an unknown id.
    /// </summary>
    Task<IndexJobStatus?> CancelAsync();

    /// <summary>Makes sure an unfinished job is running in this activation (the job supervisor calls it).</summary>
    Task<IndexJobStatus?> ResumeAsync();
}

/// <summary>The list of indexing jobs of the cluster (singleton key 0), persisted with the jobs' storage.</summary>
[Alias("shoal.IIndexJobCatalogGrain")]
public interface IIndexJobCatalogGrain : IGrainWithIntegerKey
{
    /// <summary>Records a submitted job (idempotent).</summary>
    Task RegisterAsync(string jobId);

    /// <summary>Records that a job has finished (succeeded, failed or was cancelled).</summary>
    Task FinishedAsync(string jobId);

    /// <summary>Ids of the most recent jobs, newest first.</summary>
    [ReadOnly]
    Task<string[]> ListAsync(int limit);

    /// <summary>
    /// One page of job ids, newest first: up to <paramref name="limit"/> ids submitted before the job
    /// <paramref name="after"/> (the last id of the previous page), or the newest when it is null.
    /// Jobs submitted meanwhile do not shift later pages. Null when <paramref name="after"/> names
    /// no job in the catalog.
    /// </summary>
    [ReadOnly]
    Task<string[]?> ListPageAsync(int limit, string? after);

    /// <summary>Ids of unfinished jobs.</summary>
    [ReadOnly]
    Task<string[]> ActiveAsync();
}

/// <summary>Lifecycle of an indexing job.</summary>
[GenerateSerializer, Alias("shoal.IndexJobState")]
public enum IndexJobState
{
    /// <summary>Accepted, not started yet.</summary>
    Queued = 0,
    /// <summary>Reading, building, uploading or publishing (see the phase).</summary>
    Running = 1,
    /// <summary>The version is published and served.</summary>
    Succeeded = 2,
    /// <summary>Stopped with an error (or at a malformed line under the "stop" policy); nothing was published.</summary>
    Failed = 3,
    /// <summary>Stopped on request at a chunk boundary; nothing was published.</summary>
    Cancelled = 4,
}

/// <summary>
/// An indexing job: its sources, each a local file readable by every silo or <c>store:</c>key of an
/// object in the snapshot store (local directory or blob container), plain or gzip — a text corpus
/// (BM25 channel and stored fields), learned-sparse vectors (Anserini JSON vector lines) and dense
/// vectors (jsonl or SHOALVEC binary), at least one, joined by document id and routed to shards by
/// the same id hash — and the target index's settings.
/// </summary>
[GenerateSerializer, Immutable, Alias("shoal.IndexJobRequest")]
public sealed record IndexJobRequest
{
    /// <summary>Target index (it gets a new version).</summary>
    [Id(0)] public string Index { get; init; } = "";
    /// <summary>Text corpus: a path readable by every silo, or <c>store:</c>key; plain or gzip (detected from the bytes). Empty when the job has only vector sources.</summary>
    [Id(1)] public string Source { get; init; } = "";
    /// <summary>"beir", "tsv" or "msmarco-v2"; null detects from the file name (and first record).</summary>
    [Id(2)] public string? Format { get; init; }
    /// <summary>Number of shards (1..1024).</summary>
    [Id(3)] public int Shards { get; init; } = IndexSpecification.DefaultShards;
    /// <summary>Copies of each shard served from different silos (1..8).</summary>
    [Id(4)] public int Replicas { get; init; } = IndexSpecification.DefaultReplicas;
    /// <summary>BM25 k1.</summary>
    [Id(5)] public double K1 { get; init; } = IndexSpecification.DefaultK1;
    /// <summary>BM25 b.</summary>
    [Id(6)] public double B { get; init; } = IndexSpecification.DefaultB;
    /// <summary>What a malformed line does: "skip" (count it, report its line number, go on) or "stop" (fail the job at it).</summary>
    [Id(7)] public string OnMalformed { get; init; } = "skip";
    /// <summary>Lines (or, for a SHOALVEC file, records) per chunk: the checkpoint interval; 0 uses the cluster default.</summary>
    [Id(8)] public int ChunkLines { get; init; }
    /// <summary>Learned-sparse document vectors: Anserini JSON vector lines <c>{"id", "contents", "vector": {token: weight}}</c>, a path or <c>store:</c>key, plain or gzip.</summary>
    [Id(9)] public string? SparseVectors { get; init; }
    /// <summary>WordPiece vocabulary (<c>vocab.txt</c>) of the sparse vectors, a path or <c>store:</c>key; null uses the cluster default (bert-base-uncased).</summary>
    [Id(10)] public string? SparseVocabulary { get; init; }
    /// <summary>Seismic static pruning: postings kept per term in the approximate sparse index; null uses the default.</summary>
    [Id(11)] public int? SparsePostingsPerTerm { get; init; }
    /// <summary>Dense document vectors: jsonl <c>{"id", "vector": [...]}</c> or SHOALVEC binary, a path or <c>store:</c>key, plain or gzip.</summary>
    [Id(12)] public string? DenseVectors { get; init; }
    /// <summary>Dense dimensions; null takes them from the first well-formed vector (or the SHOALVEC header).</summary>
    [Id(13)] public int? DenseDims { get; init; }
    /// <summary>"dot" or "cosine".</summary>
    [Id(14)] public string DenseMetric { get; init; } = IndexSpecification.DefaultDenseMetric;
    /// <summary>"fp32", "fp16" or "int8".</summary>
    [Id(15)] public string DenseStorage { get; init; } = IndexSpecification.DefaultDenseStorage;
    /// <summary>"hnsw" (approximate by default, exact on request) or "flat" (exact scans only).</summary>
    [Id(16)] public string DenseIndex { get; init; } = IndexSpecification.DefaultDenseIndex;
    /// <summary>HNSW links per node.</summary>
    [Id(17)] public int HnswM { get; init; } = IndexSpecification.DefaultHnswM;
    /// <summary>HNSW build beam width.</summary>
    [Id(18)] public int HnswEfConstruction { get; init; } = IndexSpecification.DefaultHnswEfConstruction;
    /// <summary>Refuse the job when the replicas cannot be placed on distinct silos (otherwise it is a warning).</summary>
    [Id(19)] public bool StrictPlacement { get; init; }
    /// <summary>Encoder (by name) that turns the text source's documents (title and text) into the sparse channel, instead of <see cref="SparseVectors"/>; it also encodes text queries.</summary>
    [Id(20)] public string? SparseEncoder { get; init; }
    /// <summary>Encoder (by name) that turns the text source's documents (title and text) into the dense channel, instead of <see cref="DenseVectors"/>; it also encodes text queries.</summary>
    [Id(21)] public string? DenseEncoder { get; init; }
    /// <summary>Build the BM25 channel from the text source (null: yes when a text source is given). False keeps the text source for the encoders only; the sparse channel then stores each document's text.</summary>
    [Id(22)] public bool? Bm25 { get; init; }

    /// <summary>The request's sources in one line: paths, and the encoders that make a channel from the text (job log, ingest status).</summary>
    public string DescribeSources() => string.Join(" + ", new[]
    {
        string.IsNullOrWhiteSpace(Source) ? null : Source,
        SparseVectors ?? (SparseEncoder is null ? null : $"sparse:{SparseEncoder}"),
        DenseVectors ?? (DenseEncoder is null ? null : $"dense:{DenseEncoder}"),
    }.Where(x => x is not null));
}

/// <summary>Kinds of job sources, as reported in progress and malformed lines.</summary>
public static class IndexJobSources
{
    /// <summary>The text corpus (bm25 channel).</summary>
    public const string Text = "text";
    /// <summary>Learned-sparse vectors (sparse channel).</summary>
    public const string Sparse = "sparse";
    /// <summary>Dense vectors (dense channel).</summary>
    public const string Dense = "dense";
}

/// <summary>Progress of one source of a job.</summary>
[GenerateSerializer, Immutable, Alias("shoal.IndexJobSourceStatus")]
public sealed record IndexJobSourceStatus
{
    /// <summary>"text", "sparse" or "dense".</summary>
    [Id(0)] public string Kind { get; init; } = "";
    /// <summary>The source as requested (path or <c>store:</c>key).</summary>
    [Id(1)] public string Source { get; init; } = "";
    /// <summary>Its format: "beir", "tsv", "msmarco-v2", "anserini", "jsonl" or "shoalvec" (empty until known).</summary>
    [Id(2)] public string Format { get; init; } = "";
    /// <summary>Lines consumed (records for a SHOALVEC file), checkpointed.</summary>
    [Id(3)] public long LinesRead { get; init; }
    /// <summary>
    /// Well-formed records read and checkpointed; while a chunk of a text source is being encoded,
    /// also that chunk's documents through the encoders so far (so the count moves within a chunk).
    /// </summary>
    [Id(4)] public long DocumentsRead { get; init; }
    /// <summary>Malformed lines (or records).</summary>
    [Id(5)] public long Malformed { get; init; }
    /// <summary>Chunks read and checkpointed.</summary>
    [Id(6)] public long Chunks { get; init; }
    /// <summary>Bytes read (compressed bytes for gzip).</summary>
    [Id(7)] public long BytesRead { get; init; }
    /// <summary>Size in bytes (0 when unknown).</summary>
    [Id(8)] public long TotalBytes { get; init; }
    /// <summary>True once the source is read to its end.</summary>
    [Id(9)] public bool Done { get; init; }
}

/// <summary>A malformed source line: its source, its 1-based number and what is wrong with it.</summary>
[GenerateSerializer, Immutable, Alias("shoal.MalformedLineInfo")]
public sealed record MalformedLineInfo
{
    /// <summary>1-based line number (record number for a SHOALVEC file).</summary>
    [Id(0)] public long Line { get; init; }
    /// <summary>What is wrong.</summary>
    [Id(1)] public string Reason { get; init; } = "";
    /// <summary>The source it is in: "text", "sparse" or "dense".</summary>
    [Id(2)] public string Source { get; init; } = IndexJobSources.Text;
}

/// <summary>Progress of an indexing job.</summary>
[GenerateSerializer, Immutable, Alias("shoal.IndexJobStatus")]
public sealed record IndexJobStatus
{
    /// <summary>Job id.</summary>
    [Id(0)] public string Id { get; init; } = "";
    /// <summary>The request.</summary>
    [Id(1)] public IndexJobRequest Request { get; init; } = new();
    /// <summary>Lifecycle state.</summary>
    [Id(2)] public IndexJobState State { get; init; }
    /// <summary>"queued", "reading", "building", "publishing", "activating", "done", "failed" or "cancelled".</summary>
    [Id(3)] public string Phase { get; init; } = "";
    /// <summary>Source lines consumed, checkpointed (over every source; SHOALVEC records count as lines).</summary>
    [Id(4)] public long LinesRead { get; init; }
    /// <summary>Well-formed records read and spilled over every source (repeated ids counted each time).</summary>
    [Id(5)] public long DocumentsRead { get; init; }
    /// <summary>Distinct documents in the published version (set when the job succeeds).</summary>
    [Id(6)] public long DocumentsIndexed { get; init; }
    /// <summary>Malformed lines seen.</summary>
    [Id(7)] public long Malformed { get; init; }
    /// <summary>The first malformed lines (at most the configured number), with their line numbers.</summary>
    [Id(8)] public MalformedLineInfo[] MalformedLines { get; init; } = [];
    /// <summary>Chunks read and checkpointed.</summary>
    [Id(9)] public long Chunks { get; init; }
    /// <summary>Bytes read over every source (compressed bytes for gzip).</summary>
    [Id(10)] public long BytesRead { get; init; }
    /// <summary>Size of every source in bytes (a store object on a remote store counts 0).</summary>
    [Id(11)] public long TotalBytes { get; init; }
    /// <summary>Documents (the largest count of any source, not the records summed over sources) read per second of reading.</summary>
    [Id(12)] public double DocsPerSecond { get; init; }
    /// <summary>Estimated seconds left (reading: from bytes; building: from shards), null when unknown.</summary>
    [Id(13)] public double? EtaSeconds { get; init; }
    /// <summary>Shards whose segments are built and uploaded.</summary>
    [Id(14)] public int ShardsBuilt { get; init; }
    /// <summary>The index version the job publishes (known from the building phase on).</summary>
    [Id(15)] public long? Version { get; init; }
    /// <summary>Why the job failed.</summary>
    [Id(16)] public string? Error { get; init; }
    /// <summary>When the job was submitted.</summary>
    [Id(17)] public DateTimeOffset CreatedUtc { get; init; }
    /// <summary>When the status last changed (checkpoint).</summary>
    [Id(18)] public DateTimeOffset UpdatedUtc { get; init; }
    /// <summary>When the job ended.</summary>
    [Id(19)] public DateTimeOffset? FinishedUtc { get; init; }
    /// <summary>The silo running (or that last ran) the job.</summary>
    [Id(20)] public string Silo { get; init; } = "";
    /// <summary>How many activations have run the job (more than one after a silo failure).</summary>
    [Id(21)] public int Attempts { get; init; }
    /// <summary>A cancellation was asked and not yet honoured.</summary>
    [Id(22)] public bool CancelRequested { get; init; }
    /// <summary>Progress of each source, in reading order (text, sparse, dense).</summary>
    [Id(23)] public IndexJobSourceStatus[] Sources { get; init; } = [];

    /// <summary>True for Succeeded, Failed and Cancelled.</summary>
    public bool IsFinished => State is IndexJobState.Succeeded or IndexJobState.Failed or IndexJobState.Cancelled;
    /// <summary>Things the caller should know (e.g. replicas sharing a silo); empty when none.</summary>
    [Id(24)] public string[] Warnings { get; init; } = [];
}

/// <summary>Helpers for job ids.</summary>
public static partial class IndexJobIds
{
    [GeneratedRegex("^[a-z0-9][a-z0-9._-]{0,63}$")]
    private static partial Regex Pattern();

    /// <summary>A new job id: <c>job-</c>, the UTC time and a random suffix (sortable by submission time).</summary>
    public static string New() => $"job-{DateTime.UtcNow:yyyyMMdd-HHmmss}-{Guid.NewGuid().ToString("N")[..8]}";

    /// <summary>Null when <paramref name="id"/> is a valid job id, else why not.</summary>
    public static string? Validate(string? id) =>
        id is not null && Pattern().IsMatch(id)
            ? null
            : $"Job id '{id}' is invalid: use 1-64 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit.";
}
