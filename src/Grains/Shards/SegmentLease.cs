using Shoal.Engine.Text;

namespace Shoal.Grains.Shards;

/// <summary>
/// A loaded segment shared by in-flight searches. When a new version replaces it, it is retired
/// and its memory map is released only after the last search using it has finished, so a
/// search never reads from an unmapped file.
/// </summary>
internal sealed class SegmentLease
{
    private int _users = 1; // the owner's reference, dropped by Retire
    private int _retired;

    public SegmentLease(TextSegment segment, long version)
    {
        Segment = segment;
        Version = version;
    }

    public TextSegment Segment { get; }

    public long Version { get; }

    /// <summary>Takes a reference; false when the segment has already been released.</summary>
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
        if (Interlocked.Decrement(ref _users) == 0) Segment.Dispose();
    }

    /// <summary>Drops the owner's reference (once).</summary>
    public void Retire()
    {
        if (Interlocked.Exchange(ref _retired, 1) == 0) Release();
    }
}
