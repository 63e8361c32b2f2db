namespace Shoal.Client;

/// <summary>A BM25 text search.</summary>
/// <param name="Text">Query text; analysed by the index's analyzer.</param>
/// <param name="K">Number of hits (1..1000).</param>
/// <param name="DeadlineMs">Per-request deadline; shards that miss it are reported in <see cref="SearchResults.Coverage"/>.</param>
/// <param name="IncludeStored">Return title and snippet with each hit.</param>
public sealed record SearchQuery(string Text, int K = 10, int? DeadlineMs = null, bool IncludeStored = true);

/// <summary>One hit.</summary>
public sealed record SearchHit(string Id, float Score, string? Title, string? Snippet);

/// <summary>How many shards answered. <see cref="Partial"/> is true when any shard failed or missed the deadline.</summary>
public sealed record SearchCoverage(int Shards, int Answered, bool Partial, IReadOnlyList<int>? Missing);

/// <summary>A search answer.</summary>
public sealed record SearchResults(string Index, long Version, IReadOnlyList<SearchHit> Hits, SearchCoverage Coverage, double TookMs);

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
    int Replicas = 1);

/// <summary>Options of a build.</summary>
/// <param name="Corpus">Corpus file path as seen by the cluster's silos.</param>
/// <param name="Format">"beir", "tsv" or "msmarco-v2"; null detects it from the file name.</param>
/// <param name="Shards">Number of shards.</param>
public sealed record IngestOptions(string Corpus, string? Format = null, int Shards = 1, double K1 = 0.9, double B = 0.4, int Replicas = 1);

internal sealed record IndexListResponse(IReadOnlyList<string> Indexes);

internal sealed record ProblemResponse(string? Title, int? Status, string? Detail);
