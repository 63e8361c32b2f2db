using Shoal.Engine.Analysis;
using Shoal.Engine.Snapshots;
using Shoal.Grains.Contracts;

namespace Shoal.Grains.Jobs;

/// <summary>
/// The publishing phase of a job: the sparse vocabulary stored with the version and the manifest,
/// with every channel's schema from the job's <see cref="Shoal.Engine.Indexing.IndexSpecification"/>,
/// written last (atomic publish). Publishing again after a crash finds its own manifest and goes on.
/// </summary>
internal static class JobPublication
{
    /// <summary>Publishes the version the job built; the manifest written (or found, from an earlier attempt).</summary>
    /// <exception cref="InvalidOperationException">Another build published the same version number meanwhile.</exception>
    public static async Task<IndexManifest> PublishAsync(JobFiles files, IndexJobRecord record)
    {
        var request = record.Request!;
        var catalog = files.Catalog;
        long version = record.Version!.Value;
        var spec = request.Specification();
        SparseChannelSchema? sparse = null;
        if (spec.Sparse)
        {
            // The vocabulary is stored with the version, so any silo can map query tokens.
            string key = SnapshotCatalog.VocabularyKey(request.Index, version);
            string local = await files.LocalFileAsync(JobFiles.StorePrefix + record.VocabularyKey, "vocabulary", CancellationToken.None);
            await catalog.Store.PutFileAsync(key, local);
            sparse = new SparseChannelSchema(key, record.VocabularyXxh3!, record.VocabularySize, record.SparseMaxWeight, request.SparseEncoder);
        }
        var manifest = new IndexManifest
        {
            Index = request.Index,
            Version = version,
            CreatedUtc = DateTimeOffset.UtcNow,
            ShardCount = request.Shards,
            Replicas = request.Replicas,
            Schema = new IndexSchema(spec.TextSchema(EnglishAnalyzer.Instance), sparse, spec.Dense ? spec.DenseSchema(record.DenseDims) : null),
            DocCount = record.DocumentsIndexed,
            TotalLength = record.TotalLength,
            Shards = [.. record.Shards.OrderBy(x => x.Shard).Select(x => new ShardManifest(x.Shard, x.DocCount,
                [.. x.Segments.Select(g => new SegmentManifest(g.Key, g.Bytes, g.Xxh3, g.Channel))]))],
        };
        var existing = await catalog.GetManifestAsync(request.Index, version);
        if (existing is null) await catalog.PublishAsync(manifest);
        else if (!existing.Shards.SelectMany(x => x.Segments).Select(g => g.Xxh3).SequenceEqual(manifest.Shards.SelectMany(x => x.Segments).Select(g => g.Xxh3)))
            throw new InvalidOperationException($"Version {version} of index '{request.Index}' was published by another build while this job ran; submit the job again.");
        return existing ?? manifest;
    }
}
