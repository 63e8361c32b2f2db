using System.Buffers;
using Shoal.Grains.Contracts;
using Shoal.Grains.Jobs;

namespace Shoal.Grains.Indexes;

/// <summary>
/// An ingest is an indexing job: its id (<c>ingest-{index}-{yyyyMMdd-HHmmss}-{random}</c>), which
/// jobs belong to which index, and the ingest status a job's status makes.
/// </summary>
internal static class IngestJobs
{
    /// <summary>A new ingest job id for index <paramref name="index"/> (sortable by start time).</summary>
    public static string NewId(string index) => $"{IngestJobPrefixOf(index)}{DateTime.UtcNow:yyyyMMdd-HHmmss}-{Guid.NewGuid().ToString("N")[..8]}";

    /// <summary>An ingest's status as its job reports it.</summary>
    public static IngestStatus StatusOf(IndexJobStatus job)
    {
        ArgumentNullException.ThrowIfNull(job);
        var reading = job.Phase == "reading" ? job.Sources.FirstOrDefault(x => !x.Done) : null;
        bool encoding = job.Request.SparseEncoder is not null || job.Request.DenseEncoder is not null;
        string phase = reading?.Kind switch
        {
            IndexJobSources.Text when encoding => job.Request.Bm25 == false ? "encoding text" : "reading and encoding text",
            IndexJobSources.Text => "reading text",
            IndexJobSources.Sparse => "reading sparse vectors",
            IndexJobSources.Dense => "reading dense vectors",
            _ => job.Phase,
        };
        long documents = reading is not null ? reading.DocumentsRead
            : job.State == IndexJobState.Succeeded || job.DocumentsIndexed > 0 ? job.DocumentsIndexed
            : job.Sources.Length == 0 ? job.DocumentsRead : job.Sources.Max(x => x.DocumentsRead);
        return new IngestStatus
        {
            State = job.State switch
            {
                IndexJobState.Succeeded => IngestState.Succeeded,
                IndexJobState.Failed or IndexJobState.Cancelled => IngestState.Failed,
                _ => IngestState.Running,
            },
            Phase = phase,
            DocumentsRead = documents,
            Version = job.Version,
            Error = job.State == IndexJobState.Cancelled ? job.Error ?? $"Job '{job.Id}' was cancelled." : job.Error,
            StartedUtc = job.CreatedUtc,
            FinishedUtc = job.FinishedUtc,
            CorpusPath = job.Request.DescribeSources(),
            Warnings = job.Warnings,
            JobId = job.Id,
        };
    }

    /// <summary>
    /// The prefix of the ingest job ids of index <paramref name="index"/>: <c>ingest-</c>, the index
    /// name (index names are valid job-id characters; a name over 32 characters is cut to 23 and a
    /// hash of the whole, so the id fits 64) and <c>-</c>.
    /// </summary>
    public static string IngestJobPrefixOf(string index)
    {
        ArgumentNullException.ThrowIfNull(index);
        if (index.Length <= 32) return $"ingest-{index}-";
        uint hash = 2166136261;
        foreach (char c in index) hash = (hash ^ c) * 16777619;
        return $"ingest-{index[..23]}{hash:x8}-";
    }

    private static readonly SearchValues<char> JobIdTail = SearchValues.Create("0123456789abcdef-");

    /// <summary>True when <paramref name="jobId"/> is one of index <paramref name="index"/>'s ingest jobs: its prefix, then <c>yyyyMMdd-HHmmss-xxxxxxxx</c> (so index <c>a</c> never claims a job of index <c>a-b</c>).</summary>
    public static bool IsIngestJobOf(string index, string jobId)
    {
        ArgumentNullException.ThrowIfNull(jobId);
        string prefix = IngestJobPrefixOf(index);
        return jobId.StartsWith(prefix, StringComparison.Ordinal) && jobId.Length == prefix.Length + 24
            && jobId.AsSpan(prefix.Length).IndexOfAnyExcept(JobIdTail) < 0 && jobId[prefix.Length + 8] == '-' && jobId[prefix.Length + 15] == '-';
    }
}
