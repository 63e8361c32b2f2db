using System.Diagnostics.Metrics;
using Shoal.Grains.Diagnostics;

namespace Shoal.Gateway.Observability;

/// <summary>
/// The gateway's own search series, recorded where the HTTP request is answered. The coordinator's
/// series (<c>shoal.query.*</c>) live in the silo that ran the search, which in <c>--Mode client</c>
/// is another process; these live in every gateway, so its <c>/metrics</c> and the console's plots
/// show query figures in both modes.
/// </summary>
public static class GatewayMetrics
{
    /// <summary>Latency of <c>POST /v1/indexes/{name}/search</c> at the gateway (reading the body to the answer), per index and outcome.</summary>
    public static readonly Histogram<double> SearchDuration = ShoalTelemetry.Meter.CreateHistogram<double>(
        "shoal.gateway.search.duration", "ms", "Search latency at the gateway (HTTP body read to answer), per index and outcome",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.25, 0.5, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 5000] });

    /// <summary>Records one search; <paramref name="outcome"/> is ok, partial, invalid, not_found, unavailable or failed.</summary>
    public static void RecordSearch(string index, string outcome, TimeSpan elapsed) =>
        SearchDuration.Record(elapsed.TotalMilliseconds, new KeyValuePair<string, object?>("index", index), new KeyValuePair<string, object?>("outcome", outcome));
}
