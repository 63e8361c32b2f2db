using Orleans;
using Orleans.Concurrency;
using Shoal.Engine.Snapshots;

namespace Shoal.Grains.Status;

/// <summary>
/// Reads the published versions of an index from the snapshot store (for the console and
/// operators): each version's time, documents, shards and snapshot size. Stateless; any silo answers.
/// </summary>
[Alias("shoal.IIndexVersionsGrain")]
public interface IIndexVersionsGrain : IGrainWithIntegerKey
{
    /// <summary>The versions of <paramref name="index"/> in the store, newest first (at most <paramref name="limit"/>); empty for an unknown index.</summary>
    Task<IndexVersionSummary[]> ListAsync(string index, int limit);
}

/// <summary>One published version of an index as the snapshot store holds it.</summary>
[GenerateSerializer, Immutable, Alias("shoal.IndexVersionSummary")]
public sealed record IndexVersionSummary
{
    [Id(0)] public long Version { get; init; }
    /// <summary>When the version was published.</summary>
    [Id(1)] public DateTimeOffset? CreatedUtc { get; init; }
    [Id(2)] public long Documents { get; init; }
    [Id(3)] public int Shards { get; init; }
    /// <summary>Bytes of every segment of the version (the snapshot's size).</summary>
    [Id(4)] public long SnapshotBytes { get; init; }
    /// <summary>Segment files of the version.</summary>
    [Id(5)] public int Segments { get; init; }
    /// <summary>Channels of the version (bm25, sparse, dense).</summary>
    [Id(6)] public string[] Channels { get; init; } = [];
    /// <summary>Why the manifest could not be read, when it could not (the other fields are then empty).</summary>
    [Id(7)] public string? Error { get; init; }
}

/// <summary>Answers <see cref="IIndexVersionsGrain"/> from the silo's <see cref="SnapshotCatalog"/>.</summary>
[StatelessWorker]
public sealed class IndexVersionsGrain(SnapshotCatalog catalog) : Grain, IIndexVersionsGrain
{
    /// <inheritdoc />
    public async Task<IndexVersionSummary[]> ListAsync(string index, int limit)
    {
        if (SnapshotCatalog.ValidateIndexName(index) is { } error) throw new ArgumentException(error, nameof(index));
        var versions = await catalog.ListVersionsAsync(index);
        var newest = versions.Reverse().Take(Math.Clamp(limit, 1, 1000)).ToArray();
        var summaries = await Task.WhenAll(newest.Select(async v =>
        {
            try
            {
                var manifest = await catalog.GetManifestAsync(index, v);
                if (manifest is null) return new IndexVersionSummary { Version = v, Error = "no manifest (unpublished or being written)" };
                var segments = manifest.Shards.SelectMany(s => s.Segments).ToArray();
                return new IndexVersionSummary
                {
                    Version = v,
                    CreatedUtc = manifest.CreatedUtc,
                    Documents = manifest.DocCount,
                    Shards = manifest.ShardCount,
                    SnapshotBytes = segments.Sum(s => s.Bytes),
                    Segments = segments.Length,
                    Channels = [.. manifest.Schema.ChannelNames()],
                };
            }
            catch (Exception e) when (e is InvalidDataException or IOException or System.Text.Json.JsonException)
            {
                return new IndexVersionSummary { Version = v, Error = e.Message };
            }
        }));
        return summaries;
    }
}
