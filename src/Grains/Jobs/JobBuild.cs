using System.Diagnostics;
using Shoal.Engine.Indexing;
using Shoal.Engine.Snapshots;
using Shoal.Grains.Contracts;

namespace Shoal.Grains.Jobs;

/// <summary>
/// The building phase of a job: the spills of every checkpointed chunk as local files, the
/// collection-global statistics over all of them (BM25 statistics, the sparse quantisation scale),
/// then shard by shard the segments (<c>bm25.seg</c>, <c>sparse.seg</c>, <c>dense.seg</c>) built
/// and uploaded. The grain persists the record after each step.
/// </summary>
internal sealed class JobBuild
{
    private readonly JobFiles _files;
    private readonly IndexJobRecord _record;
    private readonly SpillIndexBuilder _builder;
    private readonly ShardSpills[] _spills;

    private JobBuild(JobFiles files, IndexJobRecord record, SpillIndexBuilder builder, ShardSpills[] spills, SpillStatistics statistics)
    {
        _files = files;
        _record = record;
        _builder = builder;
        _spills = spills;
        Statistics = statistics;
    }

    /// <summary>The collection-global statistics.</summary>
    public SpillStatistics Statistics { get; }

    /// <summary>
    /// Gathers the spills and the statistics; a sparse scale the reading phase could not keep
    /// (its holder was replaced) is recomputed and stored in <paramref name="record"/>, which the
    /// caller then persists (see <see cref="ScaleRecomputed"/>).
    /// </summary>
    public static async Task<JobBuild> PrepareAsync(JobFiles files, IndexJobRecord record, CancellationToken cancellationToken)
    {
        var request = record.Request!;
        var vocabulary = request.Specification().Sparse ? await files.VocabularyAsync(record, cancellationToken) : null;
        var plan = request.Specification().Plan(vocabulary, record.DenseDims);
        var spills = await MaterializeSpillsAsync(files, record, request.Shards, cancellationToken);
        var builder = new SpillIndexBuilder(plan);
        float? knownMax = record.SparseMaxStale ? null : record.SparseMaxWeight;
        var stats = await Task.Run(() => builder.ComputeStatistics(s => spills[s], knownMax, cancellationToken), cancellationToken);
        var build = new JobBuild(files, record, builder, spills, stats);
        if (vocabulary is not null && record.SparseMaxStale)
        {
            // The scale gathered while reading belonged to a replaced record: keep the recomputed one.
            record.SparseMaxWeight = stats.SparseMaxWeight;
            record.SparseMaxStale = false;
            build.ScaleRecomputed = true;
        }
        return build;
    }

    /// <summary>True when <see cref="PrepareAsync"/> changed the record's sparse scale.</summary>
    public bool ScaleRecomputed { get; private set; }

    /// <summary>Builds and uploads one shard's segments, and records the shard in the job record.</summary>
    public async Task BuildShardAsync(int shard, long version, CancellationToken cancellationToken)
    {
        var request = _record.Request!;
        var clock = Stopwatch.StartNew();
        string dir = Path.Combine(_files.ScratchDirectory, "build", $"shard-{shard:D4}");
        var stats = Statistics;
        var built = await Task.Run(() => _builder.BuildShard(shard, _spills[shard], stats, dir, cancellationToken), cancellationToken);
        var segments = new List<JobSegment>();
        foreach (var seg in built.Segments)
        {
            long started = Stopwatch.GetTimestamp();
            var uploaded = await _files.Catalog.UploadSegmentAsync(request.Index, version, shard, seg.Path, cancellationToken);
            Diagnostics.TransferMetrics.Uploaded(request.Index, uploaded.Bytes, Stopwatch.GetElapsedTime(started));
            segments.Add(new JobSegment { Key = uploaded.Key, Bytes = uploaded.Bytes, Xxh3 = uploaded.Xxh3, Channel = seg.Channel });
        }
        Directory.Delete(dir, recursive: true);
        _record.Shards.Add(new JobShard { Shard = shard, DocCount = built.DocCount, Segments = segments });
        _record.BuildingSeconds += clock.Elapsed.TotalSeconds;
    }

    /// <summary>Local files of every shard's spills of checkpointed chunks, per channel in chunk order (downloaded when the store is remote).</summary>
    private static async Task<ShardSpills[]> MaterializeSpillsAsync(JobFiles files, IndexJobRecord record, int shards, CancellationToken cancellationToken)
    {
        var store = files.Catalog.Store;
        var result = new ShardSpills[shards];
        var request = record.Request!;
        // A channel's spills are numbered by the chunks of the source they came from: its own, or
        // the text source when an encoder made them from its documents.
        async Task<List<string>> ChannelAsync(string channel, string kind, int shard)
        {
            var source = record.Sources.FirstOrDefault(x => x.Kind == kind);
            if (source is null) return [];
            long chunks = source.ChunksDone;
            var keys = (await store.ListAsync(IndexSpill.ShardPrefix(files.SpillPrefix, channel, shard), cancellationToken))
                .Select(k => (Key: k, Chunk: IndexSpill.ChunkOf(k)))
                .Where(k => k.Chunk >= 0 && k.Chunk < chunks)
                .OrderBy(k => k.Chunk)
                .ToList();
            var paths = new List<string>(keys.Count);
            foreach (var (key, _) in keys)
            {
                string? local = store.TryGetLocalPath(key);
                if (local is null)
                {
                    local = Path.Combine(files.ScratchDirectory, "spill", key.Replace('/', Path.DirectorySeparatorChar));
                    await store.GetFileAsync(key, local, cancellationToken);
                }
                paths.Add(local);
            }
            return paths;
        }
        for (int s = 0; s < shards; s++)
        {
            result[s] = new ShardSpills(
                await ChannelAsync(IndexChannels.Text, IndexJobSources.Text, s),
                await ChannelAsync(IndexChannels.Sparse, request.SparseEncoder is null ? IndexJobSources.Sparse : IndexJobSources.Text, s),
                await ChannelAsync(IndexChannels.Dense, request.DenseEncoder is null ? IndexJobSources.Dense : IndexJobSources.Text, s));
        }
        return result;
    }
}
