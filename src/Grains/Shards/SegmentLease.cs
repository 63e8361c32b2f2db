using Shoal.Engine.Dense;
using Shoal.Engine.Search;
using Shoal.Engine.Sparse;
using Shoal.Engine.Text;

namespace Shoal.Grains.Shards;

/// <summary>
/// The loaded segments of one shard version (one per channel), shared by in-flight searches.
/// When a new version replaces it, it is retired and its memory maps are released only after the
/// last search using it has finished, so a search never reads from an unmapped file. Searches go
/// through its <see cref="Searcher"/>.
/// </summary>
internal sealed class SegmentLease : IReferenceCounted
{
    private int _users = 1; // the owner's reference, dropped by Retire
    private int _retired;

    public SegmentLease(long version, TextSegment? text, SparseSegment? sparse, DenseSegment? dense, string name = "the shard")
    {
        Version = version;
        Text = text;
        Sparse = sparse;
        Dense = dense;
        Searcher = new ShardSearcher(text, sparse, dense, this, name);
    }

    /// <summary>A version without segments (a shard beyond the version's shard count, or nothing loaded).</summary>
    public static SegmentLease Empty(long version) => new(version, null, null, null);

    public long Version { get; }

    public TextSegment? Text { get; }

    public SparseSegment? Sparse { get; }

    public DenseSegment? Dense { get; }

    /// <summary>Searches these segments (plus a live buffer); its batched dense passes hold a reference on this lease.</summary>
    public ShardSearcher Searcher { get; }

    /// <summary>Batches concurrent exact dense scans into one pass over the vectors.</summary>
    public DenseBatcher? DenseBatcher => Searcher.DenseBatcher;

    /// <summary>Documents in the shard: the largest channel count (channels hold the same documents or subsets).</summary>
    public long DocCount => Math.Max(Text?.DocCount ?? 0, Math.Max(Sparse?.DocCount ?? 0, Dense?.Count ?? 0));

    /// <summary>Bytes of all segment files.</summary>
    public long SizeBytes => (Text?.SizeBytes ?? 0) + (Sparse?.SizeBytes ?? 0) + (Dense?.SizeBytes ?? 0);

    /// <summary>Takes a reference; false when the segments have already been released.</summary>
    public bool TryAcquire()
    {
        while (true)
        {
            int users = Volatile.Read(ref _users);
            if (users == 0) return false;
            if (Interlocked.CompareExchange(ref _users, users + 1, users) == users) return true;
        }
    }

    public void Release()
    {
        if (Interlocked.Decrement(ref _users) != 0) return;
        Text?.Dispose();
        Sparse?.Dispose();
        Dense?.Dispose();
    }

    /// <summary>Drops the owner's reference (once).</summary>
    public void Retire()
    {
        if (Interlocked.Exchange(ref _retired, 1) == 0) Release();
    }
}
