using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans;
using Orleans.Hosting;
using Shoal.Grains.Contracts;
using Shoal.Grains.Encoders;
using Shoal.Grains.Hosting;

namespace Shoal.Hosting;

/// <summary>
/// A one-silo Shoal cluster inside the current process (localhost clustering on free ports,
/// local-directory snapshot store), for command-line tools and benchmarks that need the real
/// cluster path without a separate server.
/// </summary>
public sealed class EmbeddedCluster : IAsyncDisposable
{
    private readonly IHost _host;
    private readonly string? _ownedDirectory;

    private EmbeddedCluster(IHost host, string dataDirectory, string? ownedDirectory)
    {
        _host = host;
        DataDirectory = dataDirectory;
        _ownedDirectory = ownedDirectory;
    }

    /// <summary>Grain factory of the co-hosted silo.</summary>
    public IGrainFactory Grains => _host.Services.GetRequiredService<IGrainFactory>();

    /// <summary>Where snapshots, caches and build scratch live.</summary>
    public string DataDirectory { get; }

    /// <summary>
    /// Starts the silo (<paramref name="configure"/> adjusts its Shoal settings after the defaults,
    /// <paramref name="encoders"/> adds encoder pools, e.g. a built-in model). With no <paramref name="dataDirectory"/> a temporary one is used and
    /// deleted on dispose.
    /// </summary>
    public static async Task<EmbeddedCluster> StartAsync(string? dataDirectory = null, LogLevel logLevel = LogLevel.Warning, Action<ShoalOptions>? configure = null,
        Action<EncoderPoolsOptions>? encoders = null, CancellationToken cancellationToken = default)
    {
        string? owned = null;
        if (dataDirectory is null)
        {
            owned = Directory.CreateTempSubdirectory("shoal-embedded-").FullName;
            dataDirectory = owned;
        }
        string data = Path.GetFullPath(dataDirectory);
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.AddSimpleConsoleIfAvailable(logLevel);
        builder.Logging.AddShoalFilters();
        builder.UseOrleans(silo =>
        {
            silo.UseLocalhostClustering(FreeTcpPort(), FreeTcpPort(), serviceId: "shoal", clusterId: "shoal-embedded-" + Guid.NewGuid().ToString("N")[..8]);
            silo.AddShoal(o =>
            {
                o.SnapshotDirectory = Path.Combine(data, "snapshots");
                o.CacheDirectory = Path.Combine(data, "cache");
                o.BuildDirectory = Path.Combine(data, "build");
                // An in-process cluster (shoal eval, benches) reads its caller's own files: no confinement.
                o.DataRoots = [Path.GetPathRoot(data) ?? "/"];
                configure?.Invoke(o);
            });
            silo.AddShoalJobs();
            if (encoders is not null) EncoderPoolsHostingExtensions.AddShoalEncoderPools(silo, encoders);
        });
        var host = builder.Build();
        await host.StartAsync(cancellationToken).ConfigureAwait(false);
        return new EmbeddedCluster(host, data, owned);
    }

    /// <summary>Builds an index and waits until its new version serves; throws with the build's error when it fails.</summary>
    public async Task<IndexInfo> IngestAsync(string index, IngestRequest request, IProgress<IngestStatus>? progress = null, CancellationToken cancellationToken = default)
    {
        var grain = Grains.GetGrain<IIndexGrain>(index);
        await grain.StartIngestAsync(request).ConfigureAwait(false);
        while (true)
        {
            await Task.Delay(100, cancellationToken).ConfigureAwait(false);
            var status = await grain.GetIngestStatusAsync().ConfigureAwait(false);
            progress?.Report(status);
            if (status.State == IngestState.Failed) throw new InvalidOperationException($"Build of index '{index}' failed: {status.Error}");
            if (status.State == IngestState.Succeeded) break;
        }
        return (await grain.GetInfoAsync().ConfigureAwait(false))!;
    }

    /// <summary>A TCP port on the loopback interface that is free right now.</summary>
    public static int FreeTcpPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        try { await _host.StopAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false); }
        finally
        {
            _host.Dispose();
            if (_ownedDirectory is not null)
            {
                try { Directory.Delete(_ownedDirectory, recursive: true); }
                catch (IOException) { }
            }
        }
    }
}

internal static class LoggingExtensions
{
    public static ILoggingBuilder AddSimpleConsoleIfAvailable(this ILoggingBuilder logging, LogLevel level)
    {
        // Logs go to stderr so that tools keep stdout for their results.
        logging.SetMinimumLevel(level);
        logging.AddSimpleConsole(o => o.SingleLine = true);
        logging.Services.Configure<Microsoft.Extensions.Logging.Console.ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        return logging;
    }
}
