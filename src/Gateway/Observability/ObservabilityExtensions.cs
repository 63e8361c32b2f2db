using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Shoal.Observability;

namespace Shoal.Gateway.Observability;

/// <summary>
/// OpenTelemetry for the gateway process: Shoal's meter (<see cref="Grains.Diagnostics.ShoalTelemetry"/>,
/// with the gateway's own search series <see cref="GatewayMetrics"/>), Orleans' and ASP.NET Core's
/// meters, scraped by Prometheus at <c>/metrics</c>; traces of Shoal's and Orleans' activity sources
/// and of ASP.NET Core requests. OTLP export is on when <c>Otlp:Endpoint</c> (or the standard
/// <c>OTEL_EXPORTER_OTLP_ENDPOINT</c>) is set (<see cref="OtlpExport"/>); traces are recorded when
/// OTLP is on or <c>Telemetry:Traces</c> is true.
/// </summary>
public static class ObservabilityExtensions
{
    /// <summary>Path of the Prometheus scraping endpoint.</summary>
    public const string MetricsPath = ShoalOpenTelemetry.MetricsPath;

    /// <summary>Meters exported: Shoal's, Orleans' runtime and ASP.NET Core's server meters.</summary>
    public static readonly IReadOnlyList<string> Meters = [.. ShoalOpenTelemetry.ClusterMeters, .. ShoalOpenTelemetry.WebMeters];

    /// <summary>Activity sources traced: Shoal's spans and Orleans' grain-call spans (which carry the trace across silos).</summary>
    public static readonly IReadOnlyList<string> ActivitySources = ShoalOpenTelemetry.ActivitySources;

    /// <summary>Registers metrics (always) and traces (when configured), with OTLP export when an endpoint is configured.</summary>
    /// <exception cref="ArgumentException">An OTLP setting has a value it cannot take.</exception>
    public static WebApplicationBuilder AddShoalObservability(this WebApplicationBuilder builder)
    {
        var configuration = builder.Configuration;
        var otlp = OtlpExport.From(configuration);
        bool traces = otlp is not null || configuration.GetValue("Telemetry:Traces", false);

        var telemetry = builder.Services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(configuration["Telemetry:ServiceName"] ?? "shoal-gateway", serviceInstanceId: Environment.MachineName))
            .WithMetrics(metrics =>
            {
                metrics.AddMeter([.. Meters]);
                metrics.AddAspNetCoreInstrumentation();
                // A scrape is answered from a cache this long (Telemetry:ScrapeCacheMilliseconds), so frequent scrapers cost one collection.
                metrics.AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = configuration.GetValue("Telemetry:ScrapeCacheMilliseconds", 300));
                otlp?.AddTo(metrics);
            });
        if (traces)
        {
            telemetry.WithTracing(tracing =>
            {
                tracing.AddSource([.. ActivitySources]);
                tracing.AddAspNetCoreInstrumentation(o => o.Filter = http => !http.Request.Path.StartsWithSegments(MetricsPath, StringComparison.Ordinal));
                otlp?.AddTo(tracing);
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
