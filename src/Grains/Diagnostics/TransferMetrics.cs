using Shoal.Engine.Snapshots;

namespace Shoal.Grains.Diagnostics;

/// <summary>Records segment uploads to and restores from the snapshot store (bytes and rate).</summary>
internal static class TransferMetrics
{
    /// <summary>A segment of <paramref name="bytes"/> uploaded in <paramref name="elapsed"/>.</summary>
    public static void Uploaded(string index, long bytes, TimeSpan elapsed)
    {
        var tag = new KeyValuePair<string, object?>("index", index);
        ShoalTelemetry.SnapshotBytes.Add(bytes, tag);
        RecordRate(bytes, elapsed, "upload");
    }

    /// <summary>A segment of <paramref name="bytes"/> made ready for a shard in <paramref name="elapsed"/>.</summary>
    public static void Restored(string index, long bytes, SegmentSource source, TimeSpan elapsed)
    {
        string from = source switch
        {
            SegmentSource.Downloaded => "store",
            SegmentSource.Cached => "cache",
            _ => "local",
        };
        ShoalTelemetry.RestoreBytes.Add(bytes, new KeyValuePair<string, object?>("index", index), new KeyValuePair<string, object?>("source", from));
        RecordRate(bytes, elapsed, "restore");
    }

    private static void RecordRate(long bytes, TimeSpan elapsed, string direction)
    {
        // Tiny or instant transfers say nothing about throughput.
        if (bytes < 64 * 1024 || elapsed <= TimeSpan.FromMilliseconds(1)) return;
        ShoalTelemetry.TransferRate.Record(bytes / 1e6 / elapsed.TotalSeconds, new KeyValuePair<string, object?>("direction", direction));
    }
}
