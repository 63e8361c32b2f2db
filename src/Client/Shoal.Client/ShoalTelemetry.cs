using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Reflection;

namespace Shoal.Client;

/// <summary>
/// Client-side traces and metrics of <see cref="ShoalClient"/>. Subscribe with OpenTelemetry
/// (<c>AddSource(ShoalTelemetry.ActivitySourceName)</c>, <c>AddMeter(ShoalTelemetry.MeterName)</c>)
/// or an <see cref="ActivityListener"/>/<see cref="MeterListener"/>. Each call is an activity
/// named <c>shoal {operation}</c> (kind client) tagged <c>shoal.operation</c>, <c>shoal.index</c>,
/// <c>http.response.status_code</c> and, on failure, <c>error.type</c>; the HTTP request beneath
/// it is the runtime's own <c>System.Net.Http</c> activity.
/// </summary>
public static class ShoalTelemetry
{
    /// <summary>Name of the <see cref="ActivitySource"/>: <c>Shoal.Client</c>.</summary>
    public const string ActivitySourceName = "Shoal.Client";

    /// <summary>Name of the <see cref="Meter"/>: <c>Shoal.Client</c>.</summary>
    public const string MeterName = "Shoal.Client";

    /// <summary>Histogram (seconds) of call durations, retries included; tags <c>shoal.operation</c>, <c>http.response.status_code</c>, <c>error.type</c>.</summary>
    public const string OperationDurationInstrument = "shoal.client.operation.duration";

    /// <summary>Counter of retried attempts; tag <c>shoal.operation</c>.</summary>
    public const string RetriesInstrument = "shoal.client.retries";

    /// <summary>Counter of searches answered with partial coverage (some shard missed the deadline or failed).</summary>
    public const string PartialSearchesInstrument = "shoal.client.search.partial";

    private static readonly string Version =
        typeof(ShoalTelemetry).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";

    internal static readonly ActivitySource Source = new(ActivitySourceName, Version);

    internal static readonly Meter Meter = new(MeterName, Version);

    internal static readonly Histogram<double> OperationDuration = Meter.CreateHistogram<double>(
        OperationDurationInstrument, unit: "s", description: "Duration of Shoal client calls, retries included.");

    internal static readonly Counter<long> Retries = Meter.CreateCounter<long>(
        RetriesInstrument, unit: "{retry}", description: "Attempts of Shoal client calls that were retried.");

    internal static readonly Counter<long> PartialSearches = Meter.CreateCounter<long>(
        PartialSearchesInstrument, unit: "{search}", description: "Searches answered with partial shard coverage.");

    internal static string UserAgent => $"Shoal.Client/{Version.Split('+')[0]}";
}
