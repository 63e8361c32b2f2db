using System.Runtime.CompilerServices;

namespace Shoal.Client;

/// <summary>What the cluster is and does at one moment (<c>GET /v1/cluster</c>).</summary>
/// <param name="TakenUtc">When the gateway took the picture.</param>
/// <param name="Silos">Active silos of the cluster.</param>
/// <param name="Indexes">Every index with its shard map: where each shard replica is served.</param>
/// <param name="EncoderPools">Encoder pools, one per encoder and silo hosting it, with their queues and counters.</param>
/// <param name="Jobs">The most recent indexing jobs, newest first.</param>
public sealed record ClusterDescription(
    DateTimeOffset TakenUtc,
    IReadOnlyList<SiloDescription> Silos,
    IReadOnlyList<ClusterIndexDescription> Indexes,
    IReadOnlyList<EncoderPoolDescription> EncoderPools,
    IReadOnlyList<JobProgress> Jobs);

/// <summary>One silo of the cluster.</summary>
/// <param name="Address">Silo address (ip:port:generation).</param>
/// <param name="Name">Silo name.</param>
/// <param name="HostName">Host the silo runs on.</param>
/// <param name="Status">Membership status ("Active", "Joining", "ShuttingDown", "Dead"...).</param>
/// <param name="Roles">The silo's roles: "data" on every silo (it hosts shard replicas), "encoder" on silos that host encoders, and any others set in Shoal:Roles.</param>
/// <param name="Encoders">Encoders the silo hosts.</param>
/// <param name="StartedUtc">When the silo started.</param>
public sealed record SiloDescription(
    string Address,
    string Name,
    string HostName,
    string Status,
    IReadOnlyList<string> Roles,
    IReadOnlyList<string> Encoders,
    DateTimeOffset StartedUtc);

/// <summary>One index as the cluster serves it: its published version, online updates, and each shard replica.</summary>
/// <param name="Name">Index name.</param>
/// <param name="Version">Published version.</param>
/// <param name="ShardCount">Shards.</param>
/// <param name="Replicas">Copies of each shard.</param>
/// <param name="Documents">Documents in the published version.</param>
/// <param name="Channels">Retrieval channels ("bm25", "sparse", "dense").</param>
/// <param name="Updates">Online updates pending and the last merge.</param>
/// <param name="Ingest">The current or last build.</param>
/// <param name="Shards">Every replica of every shard: the silo serving it, its version and size.</param>
public sealed record ClusterIndexDescription(
    string Name,
    long Version,
    int ShardCount,
    int Replicas,
    long Documents,
    IReadOnlyList<string> Channels,
    IndexUpdates? Updates,
    IngestProgress? Ingest,
    IReadOnlyList<ShardReplicaDescription> Shards);

/// <summary>One shard replica as its silo reports it.</summary>
/// <param name="Shard">Shard number.</param>
/// <param name="Replica">Replica number of the shard.</param>
/// <param name="Silo">Silo serving it; empty when it did not answer (see <paramref name="Error"/>).</param>
/// <param name="Version">Index version it serves.</param>
/// <param name="Documents">Documents in its segments.</param>
/// <param name="SegmentBytes">Bytes of its segments.</param>
/// <param name="LiveDocuments">Documents upserted into its live buffer since the version it serves (not yet merged).</param>
/// <param name="HiddenDocuments">Documents of the served version hidden since (deleted or replaced).</param>
/// <param name="Error">Why the replica could not be asked, when it could not.</param>
public sealed record ShardReplicaDescription(
    int Shard,
    int Replica,
    string Silo,
    long Version,
    long Documents,
    long SegmentBytes,
    int LiveDocuments,
    int HiddenDocuments,
    string? Error);

/// <summary>One encoder pool on one silo: its queue and throughput counters (all zero when the pool did not answer).</summary>
/// <param name="Encoder">Encoder name.</param>
/// <param name="Silo">Silo hosting the pool.</param>
/// <param name="QueueLength">Requests waiting now.</param>
/// <param name="QueueCapacity">Requests the queue holds before refusing more.</param>
/// <param name="BatchesRun">Batches run through the pool (0 for encoders that run inline).</param>
/// <param name="ItemsProcessed">Texts encoded through batches.</param>
/// <param name="ItemsRejected">Requests refused because the queue was full.</param>
/// <param name="AverageBatch">Texts per batch on average (0 before the first batch).</param>
public sealed record EncoderPoolDescription(
    string Encoder,
    string Silo,
    int QueueLength,
    int QueueCapacity,
    long BatchesRun,
    long ItemsProcessed,
    long ItemsRejected,
    double AverageBatch);

/// <summary>One published version of an index as the snapshot store holds it.</summary>
/// <param name="Version">Version number.</param>
/// <param name="CreatedUtc">When it was published (null when its manifest could not be read).</param>
/// <param name="Documents">Documents in the version.</param>
/// <param name="Shards">Shards of the version.</param>
/// <param name="SnapshotBytes">Bytes of all its segments (the snapshot's size).</param>
/// <param name="Segments">Segment files of the version.</param>
/// <param name="Channels">Channels of the version ("bm25", "sparse", "dense").</param>
/// <param name="Error">Why its manifest could not be read, when it could not (the other fields are then empty).</param>
public sealed record IndexVersionDescription(
    long Version,
    DateTimeOffset? CreatedUtc,
    long Documents,
    int Shards,
    long SnapshotBytes,
    int Segments,
    IReadOnlyList<string> Channels,
    string? Error);

/// <summary>Response of <c>GET /v1/indexes/{name}/versions</c>.</summary>
internal sealed record IndexVersionListResponse(string Index, IReadOnlyList<IndexVersionDescription> Versions);

public sealed partial class ShoalClient
{
    /// <summary>Versions listed by <see cref="ListVersionsAsync"/> when no limit is given (the gateway's default).</summary>
    public const int DefaultVersionLimit = 50;

    /// <summary>
    /// What the cluster is and does now (<c>GET /v1/cluster</c>): its silos, every index's shard
    /// map (which silo serves each shard replica, with its version and size), the encoder pools
    /// with their queues, and the most recent indexing jobs. Retried like every read.
    /// </summary>
    public async Task<ClusterDescription> GetClusterAsync(CancellationToken cancellationToken = default) =>
        (await CallAsync("get_cluster", null, HttpMethod.Get, "v1/cluster", null, idempotent: true,
            ShoalJsonContext.Default.ClusterDescription, nullOnNotFound: false, cancellationToken).ConfigureAwait(false))!;

    /// <summary>
    /// The versions of an index in the snapshot store, newest first, at most
    /// <paramref name="limit"/> (1..1000) (<c>GET /v1/indexes/{index}/versions</c>): each with its
    /// time, documents, shards and snapshot size.
    /// </summary>
    /// <exception cref="ShoalApiException">404 when the index does not exist; 400 for an invalid index name.</exception>
    public async Task<IReadOnlyList<IndexVersionDescription>> ListVersionsAsync(string index, int limit = DefaultVersionLimit, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(index);
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(limit, 1000);
        return (await CallAsync("list_versions", index, HttpMethod.Get, Invariant($"v1/indexes/{Escape(index)}/versions?limit={limit}"), null, idempotent: true,
            ShoalJsonContext.Default.IndexVersionListResponse, nullOnNotFound: false, cancellationToken).ConfigureAwait(false))!.Versions;
    }

    /// <summary>
    /// The versions of an index, newest first, as an asynchronous sequence (see
    /// <see cref="ListVersionsAsync"/>; the gateway answers them in one response).
    /// </summary>
    /// <exception cref="ShoalApiException">404 when the index does not exist; 400 for an invalid index name.</exception>
    public async IAsyncEnumerable<IndexVersionDescription> GetVersionsAsync(string index, int limit = DefaultVersionLimit,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        foreach (var version in await ListVersionsAsync(index, limit, cancellationToken).ConfigureAwait(false))
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return version;
        }
    }
}
