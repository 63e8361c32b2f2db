using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Shoal.Grains.Diagnostics;

namespace Shoal.Gateway.Observability;

/// <summary>
/// OpenTelemetry for the gateway process: Shoal's meter (<see cref="ShoalTelemetry"/>), Orleans'
/// and ASP.NET Core's meters, scraped by Prometheus at <c>/metrics</c>; traces of Shoal's and
/// Orleans' activity sources and of ASP.NET Core requests. OTLP export is on when
/// <c>Otlp:Endpoint</c> (or the standard <c>OTEL_EXPORTER_OTLP_ENDPOINT</c>) is set; traces are
/// recorded when OTLP is on or <c>Telemetry:Traces</c> is true.
/// </summary>
public static class ObservabilityExtensions
{
    /// <summary>Path of the Prometheus scraping endpoint.</summary>
    public const string MetricsPath = "/metrics";

    /// <summary>Meters exported beside Shoal's: Orleans' runtime and ASP.NET Core's server meters.</summary>
    public static readonly IReadOnlyList<string> Meters =
    [
        ShoalTelemetry.Name,
        "Microsoft.Orleans",
        "Microsoft.AspNetCore.Hosting",
        "Microsoft.AspNetCore.Server.Kestrel",
        "Microsoft.AspNetCore.Routing",
        "Microsoft.AspNetCore.Diagnostics",
    ];

    /// <summary>Activity sources traced: Shoal's spans and Orleans' grain-call spans (which carry the trace across silos).</summary>
    public static readonly IReadOnlyList<string> ActivitySources =
    [
        ShoalTelemetry.Name,
        "Microsoft.Orleans.Runtime",
        "Microsoft.Orleans.Application",
    ];

    /// <summary>Registers metrics (always) and traces (when configured), with OTLP export when an endpoint is configured.</summary>
    public static WebApplicationBuilder AddShoalObservability(this WebApplicationBuilder builder)
    {
        var configuration = builder.Configuration;
        string? endpoint = configuration["Otlp:Endpoint"];
        bool otlp = !string.IsNullOrWhiteSpace(endpoint) || !string.IsNullOrWhiteSpace(configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]);
        bool traces = otlp || configuration.GetValue("Telemetry:Traces", false);
        Uri? endpointUri = null;
        if (!string.IsNullOrWhiteSpace(endpoint) && !Uri.TryCreate(endpoint, UriKind.Absolute, out endpointUri))
            throw new ArgumentException($"Otlp:Endpoint must be an absolute URI such as http://collector:4317 (got '{endpoint}').");
        var protocol = string.Equals(configuration["Otlp:Protocol"], "http", StringComparison.OrdinalIgnoreCase)
            ? OtlpExportProtocol.HttpProtobuf
            : OtlpExportProtocol.Grpc;
        void Otlp(OtlpExporterOptions o)
        {
            if (endpointUri is not null) o.Endpoint = endpointUri;
            if (configuration["Otlp:Protocol"] is not null) o.Protocol = protocol;
        }

        var telemetry = builder.Services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(configuration["Telemetry:ServiceName"] ?? "shoal-gateway", serviceInstanceId: Environment.MachineName))
            .WithMetrics(metrics =>
            {
                metrics.AddMeter([.. Meters]);
                metrics.AddAspNetCoreInstrumentation();
                // A scrape is answered from a cache this long (Telemetry:ScrapeCacheMilliseconds), so frequent scrapers cost one collection.
                metrics.AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = configuration.GetValue("Telemetry:ScrapeCacheMilliseconds", 300));
                if (otlp) metrics.AddOtlpExporter(Otlp);
            });
        if (traces)
        {
            telemetry.WithTracing(tracing =>
            {
                tracing.AddSource([.. ActivitySources]);
                tracing.AddAspNetCoreInstrumentation(o => o.Filter = http => !http.Request.Path.StartsWithSegments(MetricsPath, StringComparison.Ordinal));
                if (otlp) tracing.AddOtlpExporter(Otlp);
            });
        }
        return builder;
    }

    /// <summary>Maps the Prometheus scraping endpoint at <see cref="MetricsPath"/>.</summary>
    public static WebApplication MapShoalObservability(this WebApplication app)
    {
        app.MapPrometheusScrapingEndpoint(MetricsPath);
        return app;
    }
}
