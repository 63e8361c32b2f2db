using System.Net;
using System.Net.Http.Json;

namespace Shoal.Client;

/// <summary>
/// An indexing job to submit: the target index and its sources, each a path readable by the silos
/// or <c>store:</c>key of an object in the snapshot store, plain or gzip: a text corpus
/// (<paramref name="Source"/>) and/or sparse vectors (<see cref="SparseVectors"/>) and/or dense
/// vectors (<see cref="DenseVectors"/>), at least one, joined by document id.
/// </summary>
/// <param name="Index">Index that gets a new version.</param>
/// <param name="Source">Text corpus path or <c>store:</c>key; null (or empty) for a job of vector sources only.</param>
/// <param name="Format">"beir", "tsv" or "msmarco-v2"; null detects it from the name.</param>
/// <param name="Shards">Number of shards.</param>
public sealed record JobSubmission(string Index, string? Source, string? Format = null, int Shards = 1)
{
    /// <summary>Copies of each shard.</summary>
    public int? Replicas { get; init; }

    /// <summary>BM25 k1.</summary>
    public double? K1 { get; init; }

    /// <summary>BM25 b.</summary>
    public double? B { get; init; }

    /// <summary>"skip" (count and report malformed lines) or "stop" (fail at the first).</summary>
    public string? OnMalformed { get; init; }

    /// <summary>Lines (SHOALVEC: records) per chunk, the checkpoint interval; null uses the cluster default.</summary>
    public int? ChunkLines { get; init; }

    /// <summary>Job id; null lets the server make one. Submitting again with the same id and body is idempotent.</summary>
    public string? Id { get; init; }

    /// <summary>Learned-sparse vectors: Anserini JSON vector lines <c>{"id", "contents", "vector": {token: weight}}</c>, a path or <c>store:</c>key.</summary>
    public string? SparseVectors { get; init; }

    /// <summary>Vocabulary (vocab.txt) of the sparse vectors, a path or <c>store:</c>key; null uses the cluster default.</summary>
    public string? SparseVocabulary { get; init; }

    /// <summary>Postings kept per term in the approximate sparse index.</summary>
    public int? SparsePostingsPerTerm { get; init; }

    /// <summary>Dense vectors: jsonl <c>{"id", "vector": [...]}</c> or SHOALVEC binary, a path or <c>store:</c>key.</summary>
    public string? DenseVectors { get; init; }

    /// <summary>Dense dimensions (default: from the first vector).</summary>
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

    /// <summary>Refuse the job when its replicas cannot be placed on distinct silos (otherwise the job runs and carries a warning).</summary>
    public bool? StrictPlacement { get; init; }
}

/// <summary>A malformed source line (a record number for a SHOALVEC file).</summary>
/// <param name="Line">1-based line (or record) number.</param>
/// <param name="Reason">What is wrong.</param>
/// <param name="Source">The source it is in: "text", "sparse" or "dense".</param>
public sealed record JobMalformedLine(long Line, string Reason, string? Source = null);

/// <summary>Progress of one source of a job.</summary>
/// <param name="Kind">"text", "sparse" or "dense".</param>
/// <param name="Source">The source as submitted.</param>
/// <param name="Format">"beir", "tsv", "msmarco-v2", "anserini", "jsonl" or "shoalvec" (empty until known).</param>
/// <param name="LinesRead">Lines (SHOALVEC: records) consumed.</param>
/// <param name="DocumentsRead">Well-formed records read.</param>
/// <param name="Malformed">Malformed lines (or records).</param>
/// <param name="Chunks">Chunks checkpointed.</param>
/// <param name="BytesRead">Bytes read.</param>
/// <param name="TotalBytes">Size (0 when unknown).</param>
/// <param name="Done">Read to its end.</param>
public sealed record JobSourceProgress(string Kind, string Source, string Format, long LinesRead, long DocumentsRead, long Malformed, long Chunks, long BytesRead, long TotalBytes, bool Done);

/// <summary>Progress of an indexing job.</summary>
public sealed record JobProgress(
    string Id,
    string State,
    string Phase,
    long LinesRead,
    long DocumentsRead,
    long DocumentsIndexed,
    long Malformed,
    IReadOnlyList<JobMalformedLine> MalformedLines,
    long Chunks,
    long BytesRead,
    long TotalBytes,
    double DocsPerSecond,
    double? EtaSeconds,
    int ShardsBuilt,
    long? Version,
    string? Error,
    DateTimeOffset CreatedUtc,
    DateTimeOffset? FinishedUtc,
    string Silo,
    int Attempts,
    bool CancelRequested)
{
    /// <summary>The submitted request.</summary>
    public JobSubmission? Request { get; init; }

    /// <summary>Progress of each source, in reading order (text, sparse, dense).</summary>
    public IReadOnlyList<JobSourceProgress> Sources { get; init; } = [];

    /// <summary>Things the caller should know, such as replicas that share a silo; empty when none.</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];

    /// <summary>True once the job succeeded, failed or was cancelled.</summary>
    public bool IsFinished => State is "succeeded" or "failed" or "cancelled";

    /// <summary>Fraction of the source read (0..1), from bytes.</summary>
    public double FractionRead => TotalBytes > 0 ? Math.Min(1.0, (double)BytesRead / TotalBytes) : 0;
}

/// <summary>Response of <c>GET /v1/jobs</c>.</summary>
internal sealed record JobListResponse(IReadOnlyList<JobProgress> Jobs);

public sealed partial class ShoalClient
{
    /// <summary>Submits an indexing job; returns at once with its id and progress.</summary>
    public async Task<JobProgress> SubmitJobAsync(JobSubmission job, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(job);
        using var response = await _http.PostAsJsonAsync("v1/jobs", job, Json, cancellationToken).ConfigureAwait(false);
        return await ReadAsync<JobProgress>(response, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A job's progress, or null when no job has this id.</summary>
    public async Task<JobProgress?> GetJobAsync(string id, CancellationToken cancellationToken = default)
    {
        using var response = await SendIdempotentAsync(() => new HttpRequestMessage(HttpMethod.Get, $"v1/jobs/{Uri.EscapeDataString(id)}"), cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotFound) return null;
        return await ReadAsync<JobProgress>(response, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The most recent jobs, newest first.</summary>
    public async Task<IReadOnlyList<JobProgress>> ListJobsAsync(int limit = 100, CancellationToken cancellationToken = default)
    {
        using var response = await SendIdempotentAsync(() => new HttpRequestMessage(HttpMethod.Get, $"v1/jobs?limit={limit}"), cancellationToken).ConfigureAwait(false);
        return (await ReadAsync<JobListResponse>(response, cancellationToken).ConfigureAwait(false)).Jobs;
    }

    /// <summary>Asks a job to stop at its next chunk boundary; null when no job has this id.</summary>
    public async Task<JobProgress?> CancelJobAsync(string id, CancellationToken cancellationToken = default)
    {
        using var response = await SendIdempotentAsync(() => new HttpRequestMessage(HttpMethod.Post, $"v1/jobs/{Uri.EscapeDataString(id)}/cancel"), cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotFound) return null;
        return await ReadAsync<JobProgress>(response, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Polls a job until it finishes, reporting progress; returns its final progress (check <see cref="JobProgress.State"/>).</summary>
    public async Task<JobProgress> WaitForJobAsync(string id, IProgress<JobProgress>? progress = null, TimeSpan? pollInterval = null, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            var status = await GetJobAsync(id, cancellationToken).ConfigureAwait(false)
                ?? throw new ShoalApiException(HttpStatusCode.NotFound, "Not found", $"Job '{id}' does not exist.");
            progress?.Report(status);
            if (status.IsFinished) return status;
            await Task.Delay(pollInterval ?? TimeSpan.FromMilliseconds(500), cancellationToken).ConfigureAwait(false);
        }
    }
}
