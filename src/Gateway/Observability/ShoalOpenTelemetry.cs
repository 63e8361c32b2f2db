using System.Globalization;
using Microsoft.Extensions.Configuration;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using Shoal.Grains.Diagnostics;

// Compiled into the gateway and the silo (linked from src/Silo/Shoal.Silo.csproj), so both
// processes export the same meters and spans and read the OTLP settings the same way.
namespace Shoal.Observability;

/// <summary>What a Shoal process exports: meters, activity sources, the Prometheus path.</summary>
internal static class ShoalOpenTelemetry
{
    /// <summary>Path of the Prometheus scraping endpoint.</summary>
    public const string MetricsPath = "/metrics";

    /// <summary>Shoal's meter and Orleans' runtime meter: every process that hosts or calls grains.</summary>
    public static readonly string[] ClusterMeters = [ShoalTelemetry.Name, "Microsoft.Orleans"];

    /// <summary>ASP.NET Core's server meters: processes that run Kestrel.</summary>
    public static readonly string[] WebMeters =
    [
        "Microsoft.AspNetCore.Hosting",
        "Microsoft.AspNetCore.Server.Kestrel",
        "Microsoft.AspNetCore.Routing",
        "Microsoft.AspNetCore.Diagnostics",
    ];

    /// <summary>Activity sources traced: Shoal's spans and Orleans' grain-call spans (which carry the trace across silos).</summary>
    public static readonly string[] ActivitySources = [ShoalTelemetry.Name, "Microsoft.Orleans.Runtime", "Microsoft.Orleans.Application"];
}

/// <summary>
/// OTLP export from the settings: <c>Otlp:Endpoint</c> (the collector's base address, e.g.
/// <c>http://collector:4317</c> for gRPC or <c>http://collector:4318</c> for OTLP/HTTP),
/// <c>Otlp:Protocol</c> (<c>grpc</c>, the default, or <c>http</c>; else the standard
/// <c>OTEL_EXPORTER_OTLP_PROTOCOL</c>) and <c>Otlp:ExportIntervalMilliseconds</c> (how often
/// metrics are pushed and spans flushed). The standard <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> alone
/// turns export on too. OTLP/HTTP has a path per signal: traces go to <c>{endpoint}/v1/traces</c>
/// and metrics to <c>{endpoint}/v1/metrics</c> (an endpoint set in code is used as given by the
/// SDK, so the paths are added here); gRPC uses the endpoint as it is.
/// </summary>
internal sealed class OtlpExport
{
    private readonly Uri? _endpoint;
    private readonly OtlpExportProtocol? _protocol;
    private readonly int? _intervalMilliseconds;

    private OtlpExport(Uri? endpoint, OtlpExportProtocol? protocol, int? intervalMilliseconds)
    {
        _endpoint = endpoint;
        _protocol = protocol;
        _intervalMilliseconds = intervalMilliseconds;
    }

    /// <summary>The export the settings ask for, or null when no endpoint is configured.</summary>
    /// <exception cref="ArgumentException">A setting has a value it cannot take.</exception>
    public static OtlpExport? From(IConfiguration configuration)
    {
        string? endpoint = configuration["Otlp:Endpoint"];
        bool standard = !string.IsNullOrWhiteSpace(configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]);
        if (string.IsNullOrWhiteSpace(endpoint) && !standard) return null;
        Uri? uri = null;
        if (!string.IsNullOrWhiteSpace(endpoint)
            && (!Uri.TryCreate(endpoint.Trim(), UriKind.Absolute, out uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)))
            throw new ArgumentException($"Otlp:Endpoint must be an absolute http(s) URI such as http://collector:4317 (got '{endpoint}').");
        string? protocolText = configuration["Otlp:Protocol"] ?? configuration["OTEL_EXPORTER_OTLP_PROTOCOL"];
        OtlpExportProtocol? protocol = protocolText?.Trim().ToLowerInvariant() switch
        {
            null or "" => null,
            "grpc" => OtlpExportProtocol.Grpc,
            "http" or "http/protobuf" => OtlpExportProtocol.HttpProtobuf,
            _ => throw new ArgumentException($"Otlp:Protocol must be grpc or http (OTLP/HTTP with protobuf) (got '{protocolText}')."),
        };
        int? interval = null;
        if (configuration["Otlp:ExportIntervalMilliseconds"] is { Length: > 0 } text)
        {
            if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int ms) || ms <= 0)
                throw new ArgumentException($"Otlp:ExportIntervalMilliseconds must be a positive whole number of milliseconds (got '{text}').");
            interval = ms;
        }
        return new OtlpExport(uri, protocol, interval);
    }

    /// <summary>
    /// Where one signal ("traces" or "metrics") is sent: null leaves it to the SDK (the standard
    /// environment variable, which the SDK completes with the signal's path itself).
    /// </summary>
    public Uri? EndpointOf(string signal)
    {
        if (_endpoint is null) return null;
        if (_protocol != OtlpExportProtocol.HttpProtobuf) return _endpoint;
        var root = _endpoint.AbsoluteUri.EndsWith('/') ? _endpoint : new Uri(_endpoint.AbsoluteUri + "/");
        return new Uri(root, "v1/" + signal);
    }

    /// <summary>Adds the OTLP metric exporter.</summary>
    public MeterProviderBuilder AddTo(MeterProviderBuilder metrics) =>
        metrics.AddOtlpExporter((exporter, reader) =>
        {
            Apply(exporter, "metrics");
            if (_intervalMilliseconds is int ms) reader.PeriodicExportingMetricReaderOptions.ExportIntervalMilliseconds = ms;
        });

    /// <summary>Adds the OTLP span exporter.</summary>
    public TracerProviderBuilder AddTo(TracerProviderBuilder tracing) =>
        tracing.AddOtlpExporter(exporter =>
        {
            Apply(exporter, "traces");
            if (_intervalMilliseconds is int ms) exporter.BatchExportProcessorOptions.ScheduledDelayMilliseconds = ms;
        });

    private void Apply(OtlpExporterOptions options, string signal)
    {
        if (_protocol is { } protocol) options.Protocol = protocol;
        if (EndpointOf(signal) is { } endpoint) options.Endpoint = endpoint;
    }
}
