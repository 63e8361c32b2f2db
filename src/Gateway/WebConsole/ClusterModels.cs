using Shoal.Grains.Contracts;
using Shoal.Grains.Jobs;
using Shoal.Grains.Status;

namespace Shoal.Gateway.WebConsole;

/// <summary>Response of <c>GET /v1/cluster</c>: what the cluster is and does right now.</summary>
public sealed record ClusterStatus(
    DateTimeOffset TakenUtc,
    IReadOnlyList<SiloStatus> Silos,
    IReadOnlyList<IndexStatus> Indexes,
    IReadOnlyList<EncoderPoolStatus> EncoderPools,
    IReadOnlyList<IndexJobStatus> Jobs);

/// <summary>One silo of the cluster.</summary>
/// <param name="Address">Silo address (ip:port:generation).</param>
/// <param name="Name">Silo name.</param>
/// <param name="HostName">Host the silo runs on.</param>
/// <param name="Status">Membership status (Active, Joining, ShuttingDown, Dead...).</param>
/// <param name="Roles">The silo's roles: data on every silo (it hosts shard replicas), encoder on silos that host encoders, and any others set in Shoal:Roles.</param>
/// <param name="Encoders">Encoders the silo hosts.</param>
/// <param name="StartedUtc">When the silo started.</param>
public sealed record SiloStatus(string Address, string Name, string HostName, string Status, IReadOnlyList<string> Roles, IReadOnlyList<string> Encoders, DateTimeOffset StartedUtc);

/// <summary>One index: its published version, online updates and where each shard replica is served.</summary>
public sealed record IndexStatus(
    string Name,
    long Version,
    int ShardCount,
    int Replicas,
    long Documents,
    IReadOnlyList<string> Channels,
    UpdateInfo? Updates,
    IngestStatus? Ingest,
    IReadOnlyList<ShardReplicaStatus> Shards);

/// <summary>One shard replica: the silo serving it, its version, documents, segment size and live buffer.</summary>
public sealed record ShardReplicaStatus(int Shard, int Replica, string Silo, long Version, long Documents, long SegmentBytes, int LiveDocuments, int HiddenDocuments, string? Error);

/// <summary>One encoder pool on one silo: its queue and throughput counters.</summary>
public sealed record EncoderPoolStatus(string Encoder, string Silo, int QueueLength, int QueueCapacity, long BatchesRun, long ItemsProcessed, long ItemsRejected, double AverageBatch);

/// <summary>Response of <c>GET /v1/indexes/{name}/versions</c>: the versions in the snapshot store, newest first.</summary>
public sealed record IndexVersionList(string Index, IReadOnlyList<IndexVersionSummary> Versions);
