using System.Text.Json.Serialization;

namespace Shoal.Client;

/// <summary>What deleting an index removed (<c>DELETE /v1/indexes/{index}</c>).</summary>
/// <param name="Index">Index name.</param>
/// <param name="RemovedVersions">Published versions removed from the snapshot store, ascending.</param>
/// <param name="RemovedObjects">Store objects removed (segments, manifests, vocabularies, update-log batches).</param>
/// <param name="ShardReplicasDropped">Shard replicas told to stop serving.</param>
/// <param name="Warnings">Shard replicas that could not be told (they find nothing to serve when next activated).</param>
public sealed record IndexDeletionResult(string Index, IReadOnlyList<long> RemovedVersions, int RemovedObjects, int ShardReplicasDropped, IReadOnlyList<string> Warnings);

public sealed partial class ShoalClient
{
    /// <summary>
    /// Deletes an index (an <c>admin</c> key): its shards stop serving and its versions and update
    /// log leave the snapshot store, so the name can be built again. Null when the index does not
    /// exist; a <see cref="ShoalApiException"/> with status 409 while a build, job or merge runs for it.
    /// Not retried (a retry after a lost answer would find nothing and say null).
    /// </summary>
    public Task<IndexDeletionResult?> DeleteIndexAsync(string index, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(index);
        return CallAsync("delete_index", index, HttpMethod.Delete, $"v1/indexes/{Escape(index)}", null, idempotent: false,
            IndexDeletionJsonContext.Default.IndexDeletionResult, nullOnNotFound: true, cancellationToken);
    }
}

/// <summary>Source generation for <see cref="IndexDeletionResult"/>, with <see cref="ShoalJsonContext"/>'s options (a context of its own: the generator takes one declaration's attributes).</summary>
[JsonSourceGenerationOptions(System.Text.Json.JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(IndexDeletionResult))]
internal sealed partial class IndexDeletionJsonContext : JsonSerializerContext;
