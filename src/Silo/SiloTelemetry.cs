using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Shoal.Observability;

namespace Shoal.Silo;

/// <summary>
/// OpenTelemetry for a silo process. The silo records Shoal's query, shard, encoder, job, merge
/// and snapshot series (a gateway in <c>--Mode client</c> records only its own search series), so:
/// <list type="bullet">
/// <item>with <c>--urls</c> (Kestrel for the health endpoints) Shoal's, Orleans' and ASP.NET Core's
/// meters are scraped by Prometheus at <c>/metrics</c>;</item>
/// <item>with <c>Otlp:Endpoint</c> (or <c>OTEL_EXPORTER_OTLP_ENDPOINT</c>) metrics and spans are
/// exported by OTLP (<see cref="OtlpExport"/>);</item>
/// <item>with <c>Telemetry:Traces true</c> spans are recorded without an exporter, so the trace
/// context of a search goes on through this silo's grain calls to silos that do export.</item>
/// </list>
/// Nothing is registered when none of these is set.
/// </summary>
internal static class SiloTelemetry
{
    /// <exception cref="ArgumentException">An OTLP setting has a value it cannot take.</exception>
    public static IHostApplicationBuilder AddShoalSiloTelemetry(this IHostApplicationBuilder builder)
    {
        var configuration = builder.Configuration;
        bool http = builder is WebApplicationBuilder;
        var otlp = OtlpExport.From(configuration);
        bool traces = otlp is not null || configuration.GetValue("Telemetry:Traces", false);
        if (!http && otlp is null && !traces) return builder;

        var telemetry = builder.Services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(configuration["Telemetry:ServiceName"] ?? "shoal-silo", serviceInstanceId: Environment.MachineName));
        if (http || otlp is not null)
        {
            telemetry.WithMetrics(metrics =>
            {
                metrics.AddMeter(ShoalOpenTelemetry.ClusterMeters);
                if (http)
                {
                    metrics.AddMeter(ShoalOpenTelemetry.WebMeters);
                    metrics.AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = configuration.GetValue("Telemetry:ScrapeCacheMilliseconds", 300));
                }
                otlp?.AddTo(metrics);
            });
        }
        if (traces)
        {
            telemetry.WithTracing(tracing =>
            {
                tracing.AddSource(ShoalOpenTelemetry.ActivitySources);
                otlp?.AddTo(tracing);
            });
        }
        return builder;
    }

    /// <summary>Maps the Prometheus scraping endpoint of a silo that runs Kestrel.</summary>
    public static WebApplication MapShoalSiloMetrics(this WebApplication app)
    {
        app.MapPrometheusScrapingEndpoint(ShoalOpenTelemetry.MetricsPath);
        return app;
    }
}
