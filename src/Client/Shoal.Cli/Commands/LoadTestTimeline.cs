using System.Diagnostics;
using System.Text;
using System.Text.Json;

namespace Shoal.Cli.Commands;

/// <summary>
/// <c>shoal loadtest --timeline file.jsonl</c>: one JSON line per measured query, so a script can
/// attribute queries to the phases of an experiment (e.g. bench/chaos.sh):
/// <c>{"t":1733330000123.4,"ms":12.5,"status":"ok"|"partial"|"error","error":"…"}</c>, where
/// <c>t</c> is the scheduled send time in Unix milliseconds and <c>ms</c> the latency from it.
/// Lines are written as queries finish (not in <c>t</c> order); writes are serialised.
/// </summary>
internal sealed class LoadTestTimeline : IDisposable
{
    private readonly StreamWriter _writer;
    private readonly Lock _gate = new();
    private readonly long _originTicks = Stopwatch.GetTimestamp();
    private readonly double _originUnixMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

    /// <summary>Creates (or truncates) the file.</summary>
    public LoadTestTimeline(string path) =>
        _writer = new StreamWriter(path, append: false, new UTF8Encoding(false)) { AutoFlush = false };

    /// <summary>Records one finished query.</summary>
    public void Record(long scheduledTicks, double latencyMs, string status, string? error)
    {
        double t = _originUnixMs + Stopwatch.GetElapsedTime(_originTicks, scheduledTicks).TotalMilliseconds;
        var line = new Dictionary<string, object>(4)
        {
            ["t"] = Math.Round(t, 1),
            ["ms"] = Math.Round(latencyMs, 3),
            ["status"] = status,
        };
        if (error is not null) line["error"] = error.Length > 300 ? error[..300] : error;
        string json = JsonSerializer.Serialize(line);
        lock (_gate) _writer.WriteLine(json);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        lock (_gate) _writer.Dispose();
    }
}
