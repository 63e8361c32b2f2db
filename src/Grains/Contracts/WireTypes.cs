using Orleans;

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

/// <summary>Asks an index to (re)build from a corpus file into a new version.</summary>
[GenerateSerializer, Immutable, Alias("shoal.IngestRequest")]
public sealed record IngestRequest
{
    /// <summary>Path of the corpus file as seen by the silo.</summary>
    [Id(0)] public string CorpusPath { get; init; } = "";
    /// <summary>"beir", "tsv" or "msmarco-v2"; null detects from the file name.</summary>
    [Id(1)] public string? Format { get; init; }
    /// <summary>Number of shards (1..1024).</summary>
    [Id(2)] public int Shards { get; init; } = 1;
    /// <summary>BM25 k1.</summary>
    [Id(3)] public double K1 { get; init; } = 0.9;
    /// <summary>BM25 b.</summary>
    [Id(4)] public double B { get; init; } = 0.4;
    /// <summary>Copies of each shard served from different silos (1..8).</summary>
    [Id(5)] public int Replicas { get; init; } = 1;
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
}

/// <summary>An analysed BM25 query as sent to every shard.</summary>
[GenerateSerializer, Immutable, Alias("shoal.ShardTextQuery")]
public sealed record ShardTextQuery
{
    [Id(0)] public string[] Terms { get; init; } = [];
    [Id(1)] public float[] Weights { get; init; } = [];
    [Id(2)] public int K { get; init; } = 10;
    /// <summary>The index version the coordinator saw; a shard on an older one reloads first.</summary>
    [Id(3)] public long Version { get; init; }
    /// <summary>Return title and snippet with each hit.</summary>
    [Id(4)] public bool IncludeStored { get; init; } = true;
}

/// <summary>One hit on the wire.</summary>
[GenerateSerializer, Immutable, Alias("shoal.Hit")]
public sealed record Hit
{
    [Id(0)] public string Id { get; init; } = "";
    [Id(1)] public float Score { get; init; }
    [Id(2)] public string? Title { get; init; }
    [Id(3)] public string? Snippet { get; init; }
}

/// <summary>A shard's local top-k.</summary>
[GenerateSerializer, Immutable, Alias("shoal.ShardSearchResult")]
public sealed record ShardSearchResult
{
    [Id(0)] public int Shard { get; init; }
    [Id(1)] public long Version { get; init; }
    [Id(2)] public Hit[] Hits { get; init; } = [];
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
}

/// <summary>A search as the coordinator receives it.</summary>
[GenerateSerializer, Immutable, Alias("shoal.SearchRequest")]
public sealed record SearchRequest
{
    [Id(0)] public string Index { get; init; } = "";
    [Id(1)] public string Text { get; init; } = "";
    [Id(2)] public int K { get; init; } = 10;
    /// <summary>Per-request deadline; null uses the cluster default.</summary>
    [Id(3)] public int? DeadlineMs { get; init; }
    [Id(4)] public bool IncludeStored { get; init; } = true;
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
}

/// <summary>The merged answer.</summary>
[GenerateSerializer, Immutable, Alias("shoal.SearchResponse")]
public sealed record SearchResponse
{
    [Id(0)] public SearchStatus Status { get; init; }
    [Id(1)] public string? Error { get; init; }
    [Id(2)] public string Index { get; init; } = "";
    [Id(3)] public long Version { get; init; }
    [Id(4)] public Hit[] Hits { get; init; } = [];
    [Id(5)] public Coverage Coverage { get; init; } = new();
    [Id(6)] public double TookMs { get; init; }
}
