using System.Diagnostics.Metrics;
using Shoal.Grains.Diagnostics;

namespace Shoal.Bench.Cluster;

/// <summary>
/// Listens, in this process, to Shoal's search instruments (coordinator stages, coordinator
/// latency, shard channel time) and keeps their sums and counts, so a run can say where the time
/// of a search goes. Only what happens in this process is seen (not a separate silo process's).
/// </summary>
public sealed class StageTimings : IDisposable
{
    /// <summary>The instruments listened to.</summary>
    public static readonly IReadOnlySet<string> Instruments = new HashSet<string>(StringComparer.Ordinal)
    {
        "shoal.query.duration", "shoal.query.stage.duration", "shoal.shard.search.duration",
    };

    private readonly MeterListener _listener = new();
    private readonly Dictionary<string, (double Sum, long Count)> _totals = new(StringComparer.Ordinal);

    /// <summary>Starts listening.</summary>
    public StageTimings()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == ShoalTelemetry.Name && Instruments.Contains(instrument.Name)) listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) =>
        {
            string key = instrument.Name;
            foreach (var tag in tags)
                if (tag.Key is "stage" or "channel") key += "/" + tag.Value;
            lock (_totals)
            {
                var (sum, count) = _totals.GetValueOrDefault(key);
                _totals[key] = (sum + value, count + 1);
            }
        });
        _listener.Start();
    }

    /// <summary>The sums and counts so far.</summary>
    public Dictionary<string, (double Sum, long Count)> Snapshot()
    {
        lock (_totals) return new Dictionary<string, (double Sum, long Count)>(_totals, StringComparer.Ordinal);
    }

    /// <summary>Mean per measurement of each instrument between two snapshots, and how many there were.</summary>
    public static Dictionary<string, (double MeanMs, long Count)> Between(Dictionary<string, (double Sum, long Count)> before, Dictionary<string, (double Sum, long Count)> after)
    {
        var means = new Dictionary<string, (double, long)>(StringComparer.Ordinal);
        foreach (var (key, (sum, count)) in after)
        {
            var (sum0, count0) = before.GetValueOrDefault(key);
            if (count > count0) means[key] = ((sum - sum0) / (count - count0), count - count0);
        }
        return means;
    }

    /// <inheritdoc />
    public void Dispose() => _listener.Dispose();
}
