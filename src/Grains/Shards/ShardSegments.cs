using System.Collections.Concurrent;
using Shoal.Engine.Dense;
using Shoal.Engine.Snapshots;
using Shoal.Engine.Sparse;
using Shoal.Engine.Text;

namespace Shoal.Grains.Shards;

/// <summary>The opened (memory-mapped, checked) segments of one shard of one version.</summary>
internal sealed record OpenedSegments(long Version, TextSegment? Text, SparseSegment? Sparse, DenseSegment? Dense) : IDisposable
{
    /// <summary>Bytes of the segments.</summary>
    public long SizeBytes => (Text?.SizeBytes ?? 0) + (Sparse?.SizeBytes ?? 0) + (Dense?.SizeBytes ?? 0);

    public void Dispose()
    {
        Text?.Dispose();
        Sparse?.Dispose();
        Dense?.Dispose();
    }

    /// <summary>
    /// Restores shard <paramref name="shard"/>'s segments of <paramref name="manifest"/> into the
    /// local cache (checked against the manifest) and opens them.
    /// </summary>
    public static async Task<OpenedSegments> OpenAsync(SnapshotCatalog catalog, IndexManifest manifest, string index, int shard, string cacheDirectory, CancellationToken cancellationToken)
    {
        TextSegment? text = null;
        SparseSegment? sparse = null;
        DenseSegment? dense = null;
        try
        {
            foreach (var segment in manifest.Shards[shard].Segments)
            {
                // A file just hashed whole against the manifest skips the section-checksum pass on open;
                // a cached or in-store file is verified section by section (a sequential read, off the turn).
                long started = System.Diagnostics.Stopwatch.GetTimestamp();
                var file = await catalog.MaterializeVerifiedAsync(segment, cacheDirectory, cancellationToken);
                Diagnostics.TransferMetrics.Restored(index, segment.Bytes, file.Source, System.Diagnostics.Stopwatch.GetElapsedTime(started));
                string path = file.Path;
                bool verify = !file.Verified;
                switch (segment.Channel)
                {
                    case IndexChannels.Text:
                        text = await Task.Run(() => TextSegment.Open(path, verify), cancellationToken);
                        break;
                    case IndexChannels.Sparse:
                        sparse = await Task.Run(() => SparseSegment.Open(path, verify), cancellationToken);
                        break;
                    case IndexChannels.Dense:
                        dense = await Task.Run(() => DenseSegment.Open(path, verify), cancellationToken);
                        break;
                    default:
                        throw new InvalidDataException($"Segment '{segment.Key}' has unknown channel '{segment.Channel}'.");
                }
            }
        }
        catch
        {
            text?.Dispose();
            sparse?.Dispose();
            dense?.Dispose();
            throw;
        }
        return new OpenedSegments(manifest.Version, text, sparse, dense);
    }
}

/// <summary>
/// Segments a silo opened ahead of a shard replica's arrival (a warm standby for a move): the
/// replica's activation on this silo takes them instead of restoring its segments itself, so a
/// moved replica answers as soon as it activates. Unclaimed segments are closed after
/// <see cref="Lifetime"/>.
/// </summary>
public sealed class PreparedShardSegments : IDisposable
{
    /// <summary>How long prepared segments wait for their replica.</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(2);

    private readonly ConcurrentDictionary<(string Index, int Shard, int Replica), (OpenedSegments Segments, DateTime Until)> _ready = new();

    /// <summary>Replicas with segments waiting.</summary>
    public int Count => _ready.Count;

    internal void Put(string index, int shard, int replica, OpenedSegments segments)
    {
        Sweep();
        var entry = (segments, DateTime.UtcNow + Lifetime);
        _ready.AddOrUpdate((index, shard, replica), entry, (_, old) =>
        {
            if (!ReferenceEquals(old.Segments, segments)) old.Segments.Dispose();
            return entry;
        });
    }

    /// <summary>Takes the prepared segments of a replica when they are of <paramref name="version"/>; the caller owns them.</summary>
    internal OpenedSegments? TryTake(string index, int shard, int replica, long version)
    {
        Sweep();
        if (!_ready.TryRemove((index, shard, replica), out var entry)) return null;
        if (entry.Segments.Version == version) return entry.Segments;
        entry.Segments.Dispose(); // prepared for another version: of no use now
        return null;
    }

    /// <summary>Whether segments of <paramref name="version"/> wait for the replica.</summary>
    public bool Has(string index, int shard, int replica, long version) =>
        _ready.TryGetValue((index, shard, replica), out var e) && e.Segments.Version == version;

    private void Sweep()
    {
        var now = DateTime.UtcNow;
        foreach (var (key, entry) in _ready)
            if (entry.Until < now && _ready.TryRemove(new KeyValuePair<(string, int, int), (OpenedSegments, DateTime)>(key, entry)))
                entry.Segments.Dispose();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var key in _ready.Keys)
            if (_ready.TryRemove(key, out var entry)) entry.Segments.Dispose();
    }
}
