using Microsoft.Extensions.Logging;
using Orleans;
using Shoal.Engine.Snapshots;
using Shoal.Grains.Contracts;
using Shoal.Grains.Jobs;
using Shoal.Grains.Shards;

namespace Shoal.Grains.Indexes;

/// <summary>Index deletion (<see cref="IIndexGrain.DeleteAsync"/>).</summary>
public sealed partial class IndexGrain
{
    /// <inheritdoc />
    public async Task<IndexDeletion?> DeleteAsync()
    {
        if (SnapshotCatalog.ValidateIndexName(Name) is { } nameError) throw new ArgumentException(nameError);
        var ingest = await IngestStatusAsync();
        if (ingest.State == IngestState.Running)
            throw new InvalidOperationException($"Index '{Name}' is building (job {ingest.JobId}); cancel the job or wait for it to finish, then delete.");
        if (_merge?.State == IngestState.Running)
            throw new InvalidOperationException($"Index '{Name}' is merging its online updates into a new version; delete after the merge finishes.");
        foreach (string id in await GrainFactory.GetGrain<IIndexJobCatalogGrain>(0).ActiveAsync())
        {
            if (await GrainFactory.GetGrain<IIndexJobGrain>(id).GetStatusAsync() is { Request.Index: var index, State: IndexJobState.Queued or IndexJobState.Running } && index == Name)
                throw new InvalidOperationException($"Index '{Name}' has indexing job '{id}' running; cancel it (POST /v1/jobs/{id}/cancel) or wait for it, then delete.");
        }

        // Every shard replica any published version has (a later version may have fewer shards or replicas than an older one).
        int shards = _manifest?.ShardCount ?? 0, replicas = _manifest?.Replicas ?? 0;
        var versions = await _catalog.ListVersionsAsync(Name);
        if (versions.Count == 0 && _manifest is null) return null;
        foreach (long v in versions)
        {
            try
            {
                if (await _catalog.GetManifestAsync(Name, v) is { } m)
                {
                    shards = Math.Max(shards, m.ShardCount);
                    replicas = Math.Max(replicas, m.Replicas);
                }
            }
            catch (InvalidDataException)
            {
                // An unreadable manifest is deleted with the rest; the readable ones say which shards exist.
            }
        }

        _mergeTimer?.Dispose();
        _mergeTimer = null;
        var warnings = new List<string>();
        int dropped = 0;
        // Unpublished first: a shard activated from now on finds nothing to serve. Then the live
        // replicas stop (and drop their cached files) before the store's files go.
        var removed = await _catalog.UnpublishIndexAsync(Name);
        await Task.WhenAll(Enumerable.Range(0, shards * replicas).Select(async i =>
        {
            string key = ShardGrain.KeyOf(Name, i / replicas, i % replicas);
            try
            {
                await GrainFactory.GetGrain<IShardGrain>(key).DropAsync().WaitAsync(ShardLoadWait);
                dropped++; // on this grain's turn: no interleaving
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                LogShardNotDropped(_logger, e, Name, key);
                warnings.Add($"shard replica {key} did not answer ({e.GetBaseException().Message}); it finds nothing to serve when next activated");
            }
        }));
        int objects = removed.Count + await _catalog.DeleteUnpublishedIndexAsync(Name);
        _versions.Forget(Name);
        LogDeleted(_logger, Name, removed.Count, objects, dropped);

        _manifest = null;
        _logState = null;
        _merge = null;
        _placement = null;
        _ingestJob = null;
        _status = new IngestStatus { State = IngestState.Idle };
        DeactivateOnIdle();
        return new IndexDeletion
        {
            Index = Name,
            RemovedVersions = [.. removed],
            RemovedObjects = objects,
            ShardReplicasDropped = dropped,
            Warnings = [.. warnings],
        };
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Index {Index} is being deleted but shard replica {Shard} could not be told to stop serving")]
    private static partial void LogShardNotDropped(ILogger logger, Exception error, string index, string shard);

    [LoggerMessage(Level = LogLevel.Information, Message = "Index {Index} deleted: {Versions} versions, {Objects} store objects, {Replicas} shard replicas stopped")]
    private static partial void LogDeleted(ILogger logger, string index, int versions, int objects, int replicas);
}
