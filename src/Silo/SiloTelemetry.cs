using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Shoal.Grains.Diagnostics;

namespace Shoal.Silo;

/// <summary>
/// OpenTelemetry for a silo process (it has no HTTP server, so no <c>/metrics</c>): Shoal's and
/// Orleans' meters and spans, exported by OTLP when <c>Otlp:Endpoint</c> (or the standard
/// <c>OTEL_EXPORTER_OTLP_ENDPOINT</c>) is set; nothing is registered otherwise.
/// </summary>
internal static class SiloTelemetry
{
    public static IHostApplicationBuilder AddShoalSiloTelemetry(this IHostApplicationBuilder builder)
    {
        var configuration = builder.Configuration;
        string? endpoint = configuration["Otlp:Endpoint"];
        if (string.IsNullOrWhiteSpace(endpoint) && string.IsNullOrWhiteSpace(configuration["OTEL_EXPORTER_OTLP_ENDPOINT"])) return builder;
        Uri? uri = null;
        if (!string.IsNullOrWhiteSpace(endpoint) && !Uri.TryCreate(endpoint, UriKind.Absolute, out uri))
            throw new ArgumentException($"Otlp:Endpoint must be an absolute URI such as http://collector:4317 (got '{endpoint}').");
        void Otlp(OtlpExporterOptions o)
        {
            if (uri is not null) o.Endpoint = uri;
            if (string.Equals(configuration["Otlp:Protocol"], "http", StringComparison.OrdinalIgnoreCase)) o.Protocol = OtlpExportProtocol.HttpProtobuf;
        }
        builder.Services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(configuration["Telemetry:ServiceName"] ?? "shoal-silo", serviceInstanceId: Environment.MachineName))
            .WithMetrics(m => m.AddMeter(ShoalTelemetry.Name, "Microsoft.Orleans").AddOtlpExporter(Otlp))
            .WithTracing(t => t.AddSource(ShoalTelemetry.Name, "Microsoft.Orleans.Runtime", "Microsoft.Orleans.Application").AddOtlpExporter(Otlp));
        return builder;
    }
}
