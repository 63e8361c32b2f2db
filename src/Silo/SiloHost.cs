using System.Globalization;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Configuration;
using Orleans.Hosting;
using Shoal.Encoders;
using Shoal.Grains.Hosting;
using Shoal.Hosting;

namespace Shoal.Silo;

/// <summary>
/// Builds and runs the silo process: cluster membership from <see cref="ClusterSettings"/>, Shoal's
/// grains and jobs, optional health and Prometheus endpoints (<c>--urls</c>), and, when running in Kubernetes,
/// Orleans' Kubernetes hosting (<c>UseKubernetesHosting</c>: silo name = pod name, advertised
/// address = pod IP, silos whose pods are deleted are declared dead).
/// </summary>
public static class SiloHost
{
    /// <summary>Default of <c>ShutdownTimeout</c>: time a stopping silo gets to hand its grains over.</summary>
    public static readonly TimeSpan DefaultShutdownTimeout = TimeSpan.FromSeconds(45);

    /// <summary>Runs the silo until it is stopped; 2 for bad settings (message on stderr).</summary>
    public static async Task<int> RunAsync(string[] args)
    {
        // Health endpoints only when an address is given, so several silos on one machine (the
        // README's multi-process example) do not compete for a default port.
        var early = new ConfigurationBuilder().AddEnvironmentVariables("ASPNETCORE_").AddEnvironmentVariables().AddCommandLine(args).Build();
        bool http = !string.IsNullOrWhiteSpace(early["urls"]);
        IHostApplicationBuilder builder = http
            ? WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory })
            : Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = args, ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.AddShoalFilters();

        var problems = SiloSettings.Check(args, builder.Configuration);
        if (problems.Count > 0)
        {
            foreach (var problem in problems) await Console.Error.WriteLineAsync($"shoal silo: {problem}").ConfigureAwait(false);
            await Console.Error.WriteLineAsync("shoal silo: run with --list-settings for the settings it reads").ConfigureAwait(false);
            return 2;
        }
        try
        {
            Configure(builder);
        }
        catch (ArgumentException e)
        {
            await Console.Error.WriteLineAsync($"shoal silo: {e.Message}").ConfigureAwait(false);
            return 2;
        }

        try
        {
            if (builder is WebApplicationBuilder web)
            {
                await using var app = web.Build();
                MapHealth(app);
                app.MapShoalSiloMetrics();
                await app.RunAsync().ConfigureAwait(false);
            }
            else
            {
                using var host = ((HostApplicationBuilder)builder).Build();
                await host.RunAsync().ConfigureAwait(false);
            }
        }
        catch (EncoderConfigurationException e)
        {
            // An encoder that cannot load (a missing model, "cuda-required" without CUDA) stops
            // start-up: one line that names it and exit code 2, not an unhandled-exception dump.
            await Console.Error.WriteLineAsync($"shoal silo: {e.Message}").ConfigureAwait(false);
            return 2;
        }
        return 0;
    }

    /// <summary>Whether Orleans' Kubernetes hosting is used, from <c>KubernetesHosting</c> (auto, true, false).</summary>
    /// <exception cref="ArgumentException">The value is none of those.</exception>
    public static bool UsesKubernetesHosting(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        string value = (configuration["KubernetesHosting"] ?? "auto").Trim();
        if (string.Equals(value, "auto", StringComparison.OrdinalIgnoreCase))
            return !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("KUBERNETES_SERVICE_HOST"))
                && !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("POD_NAMESPACE"));
        return bool.TryParse(value, out bool on) ? on
            : throw new ArgumentException($"KubernetesHosting must be auto, true or false (got '{value}').");
    }

    private static void Configure(IHostApplicationBuilder builder)
    {
        var configuration = builder.Configuration;
        var cluster = ClusterSettings.From(configuration);
        bool kubernetes = UsesKubernetesHosting(configuration);
        var shutdown = DefaultShutdownTimeout;
        if (configuration["ShutdownTimeout"] is { Length: > 0 } text
            && (!TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out shutdown) || shutdown <= TimeSpan.Zero))
            throw new ArgumentException($"ShutdownTimeout must be a positive time span such as 00:00:45 (got '{text}').");
        if (kubernetes && cluster.Redis is null)
            throw new ArgumentException("KubernetesHosting needs Redis membership: set Redis (e.g. --Redis redis:6379).");
        string data = Path.GetFullPath(configuration["DataDirectory"] ?? ".shoal");
        bool blob = !string.IsNullOrEmpty(configuration["BlobConnectionString"]) || !string.IsNullOrEmpty(configuration["Shoal:BlobConnectionString"]);
        Console.WriteLine($"shoal silo: cluster '{cluster.ClusterId}' " +
                          (cluster.Redis is null ? "on localhost clustering" : $"with Redis membership at {Secrets.Redact(cluster.Redis)}") + // a connection string may carry a password
                          (kubernetes ? " and Kubernetes hosting" : "") +
                          $", silo port {cluster.SiloPort}, gateway port {cluster.GatewayPort}; state in {data}" +
                          (blob ? ", snapshots in blob storage." : "."));
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = shutdown);
        builder.AddShoalSiloTelemetry(); // /metrics with --urls, OTLP export when Otlp:Endpoint is set

        builder.UseOrleans(silo =>
        {
            if (kubernetes)
            {
                silo.UseRedisClustering(cluster.Redis!); // checked above
                silo.Configure<ClusterOptions>(o => { o.ClusterId = cluster.ClusterId; o.ServiceId = cluster.ServiceId; });
                bool advertised = !string.IsNullOrEmpty(configuration["AdvertisedAddress"]);
                silo.Configure<EndpointOptions>(o =>
                {
                    o.SiloPort = cluster.SiloPort;
                    o.GatewayPort = cluster.GatewayPort;
                    // Otherwise the pod IP (POD_IP) is advertised and both ports listen on any address.
                    if (advertised)
                    {
                        o.AdvertisedIPAddress = cluster.AdvertisedAddress;
                        o.SiloListeningEndpoint = new IPEndPoint(IPAddress.Any, cluster.SiloPort);
                        o.GatewayListeningEndpoint = new IPEndPoint(IPAddress.Any, cluster.GatewayPort);
                    }
                });
                silo.UseKubernetesHosting();
                cluster.Tls?.Apply(silo);
            }
            else
            {
                cluster.Apply(silo);
            }
            silo.AddShoal(o =>
            {
                o.SnapshotDirectory = Path.Combine(data, "snapshots");
                o.CacheDirectory = Path.Combine(data, "cache");
                o.BuildDirectory = Path.Combine(data, "build");
                o.BlobConnectionString = configuration["BlobConnectionString"] ?? o.BlobConnectionString;
                o.BlobContainer = configuration["BlobContainer"] ?? o.BlobContainer;
            });
            silo.AddShoalJobs();
        });
    }

    private static void MapHealth(WebApplication app)
    {
        var lifetime = app.Services.GetRequiredService<IHostApplicationLifetime>();
        // The Orleans hosted service finishes starting once the silo is active in the cluster;
        // a stopping silo reports not ready so that rollouts wait for its hand-over.
        app.MapGet("/health/live", () => TypedResults.Ok(new { status = "live" }));
        app.MapGet("/health/ready", () =>
        {
            bool ready = lifetime.ApplicationStarted.IsCancellationRequested && !lifetime.ApplicationStopping.IsCancellationRequested;
            string detail = ready ? "silo active" : lifetime.ApplicationStopping.IsCancellationRequested ? "silo stopping" : "silo starting";
            return ready
                ? Results.Ok(new { status = "ready", detail })
                : Results.Json(new { status = "not ready", detail }, statusCode: StatusCodes.Status503ServiceUnavailable);
        });
    }
}
