using Orleans;

using Shoal.Grains.Hosting;

namespace Shoal.Grains.Jobs;

/// <summary>
/// The persisted state of an indexing job: its request, where it is (phase, lines consumed,
/// chunks spilled, shards built, the version it publishes) and its counters. Written after every
/// chunk and every shard: the checkpoint a resumed job continues from.
/// </summary>
[GenerateSerializer, Alias("shoal.IndexJobRecord")]
public sealed class IndexJobRecord
{
    /// <summary>The request (null until submitted).</summary>
    [Id(0)] public IndexJobRequest? Request { get; set; }
    /// <summary>Lifecycle state.</summary>
    [Id(1)] public IndexJobState State { get; set; }
    /// <summary>Phase: reading, building, publishing, activating, done, failed, cancelled.</summary>
    [Id(2)] public string Phase { get; set; } = "queued";
    /// <summary>The resolved text corpus format name (empty without a text source).</summary>
    [Id(3)] public string Format { get; set; } = "";
    /// <summary>Lines consumed by checkpointed chunks, over every source (see <see cref="Sources"/> for each one's checkpoint).</summary>
    [Id(4)] public long LinesDone { get; set; }
    /// <summary>Chunks spilled and checkpointed, over every source.</summary>
    [Id(5)] public long ChunksDone { get; set; }
    /// <summary>Well-formed records spilled, over every source.</summary>
    [Id(6)] public long DocumentsRead { get; set; }
    /// <summary>Malformed lines seen.</summary>
    [Id(7)] public long Malformed { get; set; }
    /// <summary>The first malformed lines.</summary>
    [Id(8)] public List<MalformedLineInfo> MalformedLines { get; set; } = [];
    /// <summary>Bytes read at the last checkpoint, over every source.</summary>
    [Id(9)] public long BytesRead { get; set; }
    /// <summary>Size of every source.</summary>
    [Id(10)] public long TotalBytes { get; set; }
    /// <summary>Seconds spent reading chunks (over all attempts), for docs/s.</summary>
    [Id(11)] public double ReadingSeconds { get; set; }
    /// <summary>Seconds spent building shards (over all attempts), for the building ETA.</summary>
    [Id(12)] public double BuildingSeconds { get; set; }
    /// <summary>The version being built (claimed when reading ends).</summary>
    [Id(13)] public long? Version { get; set; }
    /// <summary>Uploaded segments of built shards.</summary>
    [Id(14)] public List<JobShard> Shards { get; set; } = [];
    /// <summary>Distinct documents of the published version.</summary>
    [Id(15)] public long DocumentsIndexed { get; set; }
    /// <summary>Sum of analysed lengths (for the manifest).</summary>
    [Id(16)] public long TotalLength { get; set; }
    /// <summary>Why the job failed.</summary>
    [Id(17)] public string? Error { get; set; }
    /// <summary>Submission time.</summary>
    [Id(18)] public DateTimeOffset CreatedUtc { get; set; }
    /// <summary>Last checkpoint time.</summary>
    [Id(19)] public DateTimeOffset UpdatedUtc { get; set; }
    /// <summary>End time.</summary>
    [Id(20)] public DateTimeOffset? FinishedUtc { get; set; }
    /// <summary>The silo of the activation that owns the job.</summary>
    [Id(21)] public string Silo { get; set; } = "";
    /// <summary>Activations that have run the job.</summary>
    [Id(22)] public int Attempts { get; set; }
    /// <summary>Cancellation asked (persisted so that a resumed job honours it).</summary>
    [Id(23)] public bool CancelRequested { get; set; }
    /// <summary>Every source with its own checkpoint, in reading order (text, sparse, dense); the counters above are their sums.</summary>
    [Id(24)] public List<JobSource> Sources { get; set; } = [];
    /// <summary>The sparse channel's quantisation scale as gathered while reading (<see cref="Shoal.Engine.Indexing.SparseMaxWeightTracker"/>).</summary>
    [Id(25)] public float SparseMaxWeight { get; set; }
    /// <summary>Id of the sparse record holding <see cref="SparseMaxWeight"/>.</summary>
    [Id(26)] public string? SparseMaxHolder { get; set; }
    /// <summary>The holder was replaced by smaller weights: the build recomputes the scale from the spills.</summary>
    [Id(27)] public bool SparseMaxStale { get; set; }
    /// <summary>Dense dimensions: requested, or taken from the first well-formed vector (0 until known).</summary>
    [Id(28)] public int DenseDims { get; set; }
    /// <summary>Store key of the job's copy of the sparse vocabulary (deleted with the spills; published with the version).</summary>
    [Id(29)] public string? VocabularyKey { get; set; }
    /// <summary>XXH3-64 (hex) of the vocabulary.</summary>
    [Id(30)] public string? VocabularyXxh3 { get; set; }
    /// <summary>Tokens in the vocabulary.</summary>
    [Id(31)] public int VocabularySize { get; set; }
    /// <summary>Warnings given at submission (e.g. replicas sharing a silo).</summary>
    [Id(32)] public List<string> Warnings { get; set; } = [];

    /// <summary>Sets the counters to the sums over the sources.</summary>
    public void Recount()
    {
        LinesDone = Sources.Sum(x => x.LinesDone);
        ChunksDone = Sources.Sum(x => x.ChunksDone);
        DocumentsRead = Sources.Sum(x => x.DocumentsRead);
        Malformed = Sources.Sum(x => x.Malformed);
        BytesRead = Sources.Sum(x => x.BytesRead);
        TotalBytes = Sources.Sum(x => x.TotalBytes);
    }
}

/// <summary>One source of a job and its checkpoint.</summary>
[GenerateSerializer, Alias("shoal.JobSource")]
public sealed class JobSource
{
    /// <summary>"text", "sparse" or "dense" (<see cref="IndexJobSources"/>).</summary>
    [Id(0)] public string Kind { get; set; } = "";
    /// <summary>The source as requested (path or <c>store:</c>key).</summary>
    [Id(1)] public string Source { get; set; } = "";
    /// <summary>Its format, once known.</summary>
    [Id(2)] public string Format { get; set; } = "";
    /// <summary>Lines (SHOALVEC: records) consumed by checkpointed chunks: where a resumed reader reopens.</summary>
    [Id(3)] public long LinesDone { get; set; }
    /// <summary>Chunks spilled and checkpointed (spills of chunk numbers below this are complete).</summary>
    [Id(4)] public long ChunksDone { get; set; }
    /// <summary>Well-formed records spilled.</summary>
    [Id(5)] public long DocumentsRead { get; set; }
    /// <summary>Malformed lines (or records) seen.</summary>
    [Id(6)] public long Malformed { get; set; }
    /// <summary>Bytes read at the last checkpoint.</summary>
    [Id(7)] public long BytesRead { get; set; }
    /// <summary>Size (0 when unknown).</summary>
    [Id(8)] public long TotalBytes { get; set; }
    /// <summary>Read to its end.</summary>
    [Id(9)] public bool Done { get; set; }
}

/// <summary>The uploaded segments of one built shard.</summary>
[GenerateSerializer, Alias("shoal.JobShard")]
public sealed class JobShard
{
    /// <summary>Shard number.</summary>
    [Id(0)] public int Shard { get; set; }
    /// <summary>Distinct documents of the shard.</summary>
    [Id(1)] public long DocCount { get; set; }
    /// <summary>Its segments.</summary>
    [Id(2)] public List<JobSegment> Segments { get; set; } = [];
}

/// <summary>One uploaded segment (as it goes into the manifest).</summary>
[GenerateSerializer, Alias("shoal.JobSegment")]
public sealed class JobSegment
{
    /// <summary>Store key.</summary>
    [Id(0)] public string Key { get; set; } = "";
    /// <summary>Size in bytes.</summary>
    [Id(1)] public long Bytes { get; set; }
    /// <summary>XXH3-64 (hex).</summary>
    [Id(2)] public string Xxh3 { get; set; } = "";
    /// <summary>Channel it serves.</summary>
    [Id(3)] public string Channel { get; set; } = "";
}

/// <summary>The persisted list of jobs.</summary>
[GenerateSerializer, Alias("shoal.IndexJobCatalogRecord")]
public sealed class IndexJobCatalogRecord
{
    /// <summary>Every job id, in submission order.</summary>
    [Id(0)] public List<string> Jobs { get; set; } = [];
    /// <summary>Unfinished job ids.</summary>
    [Id(1)] public List<string> Active { get; set; } = [];
}

/// <summary>Settings of indexing jobs in a silo.</summary>
public sealed class ShoalJobOptions
{
    /// <summary>Lines (SHOALVEC: records) per chunk, the checkpoint interval, when a request names none.</summary>
    public int ChunkLines { get; set; } = 100_000;

    /// <summary>
    /// Lines per chunk of a text source that an encoder encodes, when a request names none: an
    /// encoder turns a few dozen passages a second per CPU core into vectors, so 4,096 lines is a
    /// checkpoint every minute or two where 100,000 would be one an hour.
    /// </summary>
    public int EncodedChunkLines { get; set; } = 4_096;

    /// <summary>Malformed lines reported with their numbers (all are counted).</summary>
    public int MaxMalformedReported { get; set; } = 100;

    /// <summary>How often each silo's job supervisor makes sure unfinished jobs run (after a silo dies, or the whole cluster restarts).</summary>
    public TimeSpan SupervisorInterval { get; set; } = TimeSpan.FromSeconds(10);
}
