using System.Net;
using System.Net.Http.Json;

namespace Shoal.Client;

/// <summary>
/// An indexing job to submit: the target index and a source (a path readable by the silos, or
/// <c>store:</c>key of an object in the snapshot store), plain or gzip.
/// </summary>
/// <param name="Index">Index that gets a new version.</param>
/// <param name="Source">Corpus path or <c>store:</c>key.</param>
/// <param name="Format">"beir", "tsv" or "msmarco-v2"; null detects it from the name.</param>
/// <param name="Shards">Number of shards.</param>
public sealed record JobSubmission(string Index, string Source, string? Format = null, int Shards = 1)
{
    /// <summary>Copies of each shard.</summary>
    public int? Replicas { get; init; }

    /// <summary>BM25 k1.</summary>
    public double? K1 { get; init; }

    /// <summary>BM25 b.</summary>
    public double? B { get; init; }

    /// <summary>"skip" (count and report malformed lines) or "stop" (fail at the first).</summary>
    public string? OnMalformed { get; init; }

    /// <summary>Lines per chunk (the checkpoint interval); null uses the cluster default.</summary>
    public int? ChunkLines { get; init; }

    /// <summary>Job id; null lets the server make one. Submitting again with the same id and body is idempotent.</summary>
    public string? Id { get; init; }
}

/// <summary>A malformed source line.</summary>
public sealed record JobMalformedLine(long Line, string Reason);

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
