using System.Net;
using System.Net.Http.Json;
using System.Runtime.CompilerServices;

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

    /// <summary>Encoder (by name) that encodes the text source's documents into the sparse channel, instead of <see cref="SparseVectors"/>.</summary>
    public string? SparseEncoder { get; init; }

    /// <summary>Encoder (by name) that encodes the text source's documents into the dense channel, instead of <see cref="DenseVectors"/>.</summary>
    public string? DenseEncoder { get; init; }

    /// <summary>Build the bm25 channel from the text source (null: yes when there is one); false keeps the text for the encoders only.</summary>
    public bool? Bm25 { get; init; }
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
/// <param name="Id">Job id.</param>
/// <param name="State">"running", "succeeded", "failed" or "cancelled".</param>
/// <param name="Phase">What the job is doing now.</param>
/// <param name="LinesRead">Lines (records) consumed over all sources.</param>
/// <param name="DocumentsRead">Well-formed documents read.</param>
/// <param name="DocumentsIndexed">Documents in the published version.</param>
/// <param name="Malformed">Malformed lines.</param>
/// <param name="MalformedLines">The first malformed lines with their reasons.</param>
/// <param name="Chunks">Chunks checkpointed.</param>
/// <param name="BytesRead">Bytes read.</param>
/// <param name="TotalBytes">Bytes of the sources (0 when unknown).</param>
/// <param name="DocsPerSecond">Reading rate.</param>
/// <param name="EtaSeconds">Estimated seconds to the end of reading.</param>
/// <param name="ShardsBuilt">Shards built so far.</param>
/// <param name="Version">The version it published.</param>
/// <param name="Error">Why it failed.</param>
/// <param name="CreatedUtc">When it was submitted.</param>
/// <param name="FinishedUtc">When it finished.</param>
/// <param name="Silo">The silo running it.</param>
/// <param name="Attempts">Activations that ran it (more than 1 after a silo failure).</param>
/// <param name="CancelRequested">Whether cancellation was asked for.</param>
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

    /// <summary>When the job's status last changed.</summary>
    public DateTimeOffset? UpdatedUtc { get; init; }

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
    /// <summary>Submits an indexing job; returns at once with its id and progress. Not retried (resubmitting with the same <see cref="JobSubmission.Id"/> is idempotent).</summary>
    /// <exception cref="ShoalApiException">400 for a bad submission, 409 for a used id with a different request.</exception>
    public async Task<JobProgress> SubmitJobAsync(JobSubmission job, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(job);
        return (await CallAsync("submit_job", job.Index, HttpMethod.Post, "v1/jobs",
            () => JsonContent.Create(job, ShoalJsonContext.Default.JobSubmission), idempotent: false,
            ShoalJsonContext.Default.JobProgress, nullOnNotFound: false, cancellationToken).ConfigureAwait(false))!;
    }

    /// <summary>A job's progress, or null when no job has this id.</summary>
    public Task<JobProgress?> GetJobAsync(string id, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(id);
        return CallAsync("get_job", null, HttpMethod.Get, $"v1/jobs/{Escape(id)}", null, idempotent: true,
            ShoalJsonContext.Default.JobProgress, nullOnNotFound: true, cancellationToken);
    }

    /// <summary>The most recent jobs, newest first (<paramref name="limit"/> 1..1000): the first page of <see cref="GetJobsAsync"/>.</summary>
    public Task<IReadOnlyList<JobProgress>> ListJobsAsync(int limit = 100, CancellationToken cancellationToken = default) =>
        ListJobsAsync(limit, after: null, cancellationToken);

    /// <summary>
    /// One page of jobs, newest first: up to <paramref name="limit"/> (1..1000) jobs submitted before
    /// the job <paramref name="after"/> (the id of the last job of the previous page; null for the
    /// newest). Jobs submitted meanwhile do not shift the pages; an empty page is the end.
    /// </summary>
    /// <exception cref="ShoalApiException">400 when <paramref name="after"/> names no job.</exception>
    public async Task<IReadOnlyList<JobProgress>> ListJobsAsync(int limit, string? after, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(limit, 1000);
        if (after is { Length: 0 }) throw new ArgumentException("after must be a job id, or null for the first page.", nameof(after));
        string path = after is null ? Invariant($"v1/jobs?limit={limit}") : Invariant($"v1/jobs?limit={limit}&after={Escape(after)}");
        return (await CallAsync("list_jobs", null, HttpMethod.Get, path, null, idempotent: true,
            ShoalJsonContext.Default.JobListResponse, nullOnNotFound: false, cancellationToken).ConfigureAwait(false))!.Jobs;
    }

    /// <summary>
    /// Every job the cluster has recorded, newest first, fetched a page of <paramref name="pageSize"/>
    /// (1..1000) at a time as the enumeration reaches it (<c>GET /v1/jobs?limit=&amp;after=</c>, the
    /// cursor being the last job id of the previous page), until the gateway returns an empty page.
    /// Jobs submitted after the enumeration started are not included; stop early by breaking out.
    /// </summary>
    /// <exception cref="InvalidOperationException">The gateway repeats a page (it predates the cursor).</exception>
    public async IAsyncEnumerable<JobProgress> GetJobsAsync(int pageSize = 100, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(pageSize, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(pageSize, 1000);
        string? after = null;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        while (true)
        {
            var page = await ListJobsAsync(pageSize, after, cancellationToken).ConfigureAwait(false);
            if (page.Count == 0) yield break;
            // A gateway from before the cursor ignores 'after' and would answer the first page forever.
            if (!seen.Add(page[0].Id))
                throw new InvalidOperationException($"The gateway answered GET /v1/jobs?after={after} with job '{page[0].Id}' again; it does not page the job list (upgrade it, or use ListJobsAsync).");
            foreach (var job in page.Skip(1)) seen.Add(job.Id);
            foreach (var job in page)
            {
                cancellationToken.ThrowIfCancellationRequested();
                yield return job;
            }
            after = page[^1].Id;
        }
    }

    /// <summary>Asks a job to stop at its next chunk boundary; null when no job has this id.</summary>
    public Task<JobProgress?> CancelJobAsync(string id, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(id);
        return CallAsync("cancel_job", null, HttpMethod.Post, $"v1/jobs/{Escape(id)}/cancel", null, idempotent: false,
            ShoalJsonContext.Default.JobProgress, nullOnNotFound: true, cancellationToken);
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
