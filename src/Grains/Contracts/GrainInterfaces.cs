using Orleans;
using Orleans.Concurrency;

namespace Shoal.Grains.Contracts;

/// <summary>
/// One index (keyed by name): its schema, shard count and published version, and the builds
/// that produce new versions. The published manifest in the snapshot store is the source of
/// truth, so an index grain reactivated anywhere recovers its version from the store.
/// </summary>
[Alias("shoal.IIndexGrain")]
public interface IIndexGrain : IGrainWithStringKey
{
    /// <summary>The published version, or null when the index has none and no build is running.</summary>
    [ReadOnly, AlwaysInterleave]
    Task<IndexInfo?> GetInfoAsync();

    /// <summary>Starts a build into a new version; returns at once. Throws <see cref="ArgumentException"/> for bad requests and <see cref="InvalidOperationException"/> when a build is running.</summary>
    Task<IngestStatus> StartIngestAsync(IngestRequest request);

    /// <summary>Progress of the current or last build.</summary>
    [ReadOnly, AlwaysInterleave]
    Task<IngestStatus> GetIngestStatusAsync();

    /// <summary>
    /// Serves <paramref name="version"/>, published to the snapshot store by someone else (an
    /// indexing job): reads its manifest, makes it current and tells every shard replica to load it.
    /// Older versions than the current one are ignored. Returns the index as it is afterwards.
    /// </summary>
    Task<IndexInfo?> AdoptVersionAsync(long version);

    /// <summary>Records where the index's shard replicas are (from the rebalancer), shown in <see cref="IndexInfo.Placement"/>.</summary>
    [AlwaysInterleave]
    Task SetPlacementAsync(Placement.IndexPlacement placement);

    /// <summary>
    /// Upserts and deletes documents by id on the published version. The batch is validated
    /// whole (<see cref="ArgumentException"/> names the bad document), written to the update log
    /// in the snapshot store, then applied by every replica of the shards it touches, so it is
    /// durable and visible to the next search when this returns. Throws
    /// <see cref="InvalidOperationException"/> when the index has no published version.
    /// </summary>
    Task<UpdateResult> UpdateAsync(UpdateRequest request, CancellationToken cancellationToken = default);

    /// <summary>
    /// Starts merging the pending updates into a new version (segments rebuilt with fresh
    /// collection statistics, snapshotted and published); returns at once. Updates keep being
    /// accepted while it runs. Returns the merge status; merging with nothing pending is a no-op.
    /// </summary>
    Task<IngestStatus> StartMergeAsync();

    /// <summary>
    /// Deletes the index: its shard replicas stop serving and drop their cached segments, and its
    /// versions and update log leave the snapshot store, so the name can be built again (the new
    /// build's versions continue after the deleted ones). Null when the index does not exist;
    /// <see cref="InvalidOperationException"/> while a build, job or merge runs for it.
    /// </summary>
    Task<IndexDeletion?> DeleteAsync();
}

/// <summary>One replica of one shard of an index (key "{index}/{shard}/{replica}"): owns its segments and answers local top-k.</summary>
[Alias("shoal.IShardGrain")]
public interface IShardGrain : IGrainWithStringKey
{
    /// <summary>Local top-k of every channel the query asks.</summary>
    Task<ShardSearchResult> SearchAsync(ShardQuery query, CancellationToken cancellationToken = default);

    /// <summary>Title and snippet of documents of this shard (ids it does not hold are left out).</summary>
    Task<Hit[]> FetchAsync(ShardFetchRequest request, CancellationToken cancellationToken = default);

    /// <summary>Loads (restores) the given published version from the snapshot store.</summary>
    Task LoadVersionAsync(long version);

    /// <summary>What this activation serves.</summary>
    Task<ShardInfo> GetInfoAsync();

    /// <summary>
    /// Applies an update batch of this shard (already durable in the update log) to the live
    /// buffer. Batches carry consecutive per-shard sequence numbers; a batch already applied is
    /// ignored, and a gap makes the shard replay the log from the store first. Returns how many of
    /// the batch's deletes removed a document that was visible, or -1 when that is not known (a
    /// batch already applied, or one caught up through a replay).
    /// </summary>
    Task<int> ApplyUpdatesAsync(long version, long lineage, long sequence, byte[] batch);

    /// <summary>
    /// The index is being deleted: this replica stops serving (searches get
    /// <see cref="Shards.ShardUnavailableException"/>), deletes the index's segments from this
    /// silo's cache and deactivates.
    /// </summary>
    Task DropAsync();
}

/// <summary>
/// Scatter/gather for searches: validates, analyses the query once, scatters to every shard
/// with a deadline and merges. Stateless: Orleans runs as many local activations as load needs.
/// </summary>
[Alias("shoal.IQueryCoordinatorGrain")]
public interface IQueryCoordinatorGrain : IGrainWithIntegerKey
{
    /// <summary>Runs a search.</summary>
    Task<SearchResponse> SearchAsync(SearchRequest request, CancellationToken cancellationToken = default);
}

/// <summary>The catalog of indexes in the snapshot store (singleton key 0).</summary>
[Alias("shoal.ICatalogGrain")]
public interface ICatalogGrain : IGrainWithIntegerKey
{
    /// <summary>Names of indexes with a published version.</summary>
    Task<string[]> ListIndexesAsync();
}
