using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans;
using Orleans.Hosting;
using Shoal.Engine.Snapshots;
using Shoal.Grains.Hosting;
using Shoal.Hosting;
using Shoal.Storage.AzureBlob;

namespace Shoal.Bench.Index;

/// <summary>
/// A one-silo Shoal cluster in this process, set up like <see cref="EmbeddedCluster"/> (localhost
/// clustering on free ports, <c>AddShoal</c> + <c>AddShoalJobs</c>) but with its snapshot store on
/// Azure Blob Storage (Azurite), wrapped in a <see cref="MeasuringSnapshotStore"/>. EmbeddedCluster
/// takes no blob connection string nor store, hence this small host of the benchmark's own.
/// </summary>
internal sealed class BlobCluster : IAsyncDisposable
{
    private readonly IHost _host;

    private BlobCluster(IHost host, MeasuringSnapshotStore store, string dataDirectory)
    {
        _host = host;
        Store = store;
        DataDirectory = dataDirectory;
    }

    /// <summary>Grain factory of the co-hosted silo.</summary>
    public IGrainFactory Grains => _host.Services.GetRequiredService<IGrainFactory>();

    /// <summary>The silo's snapshot store (records every transfer).</summary>
    public MeasuringSnapshotStore Store { get; }

    /// <summary>Local cache and build scratch of the silo.</summary>
    public string DataDirectory { get; }

    /// <summary>Where shards keep the segments they restored.</summary>
    public string CacheDirectory => Path.Combine(DataDirectory, "cache");

    /// <summary>Starts a silo whose snapshots live in <paramref name="container"/> of the blob account of <paramref name="connectionString"/>.</summary>
    /// <remarks>Jobs may read sources inside <paramref name="sourceRoots"/> (the benchmark's data directory) besides the silo's defaults.</remarks>
    public static async Task<BlobCluster> StartAsync(string connectionString, string container, string dataDirectory, LogLevel logLevel, CancellationToken cancellationToken,
        IReadOnlyList<string>? sourceRoots = null)
    {
        string data = Path.GetFullPath(dataDirectory);
        Directory.CreateDirectory(data);
        var store = new MeasuringSnapshotStore(AzureBlobSnapshotStore.Create(connectionString, container));
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.SetMinimumLevel(logLevel);
        builder.Logging.AddSimpleConsole(o => o.SingleLine = true);
        // Logs go to stderr; stdout keeps the table and the RESULT line.
        builder.Services.Configure<Microsoft.Extensions.Logging.Console.ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        // Registered first, so AddShoal's TryAddSingleton keeps it.
        builder.Services.AddSingleton<ISnapshotStore>(store);
        builder.UseOrleans(silo =>
        {
            silo.UseLocalhostClustering(EmbeddedCluster.FreeTcpPort(), EmbeddedCluster.FreeTcpPort(), serviceId: "shoal",
                clusterId: "shoal-bench-" + Guid.NewGuid().ToString("N")[..8]);
            silo.AddShoal(o =>
            {
                o.BlobConnectionString = connectionString;
                o.BlobContainer = container;
                o.SnapshotDirectory = Path.Combine(data, "snapshots");
                o.CacheDirectory = Path.Combine(data, "cache");
                o.BuildDirectory = Path.Combine(data, "build");
                if (sourceRoots is not null) o.AdditionalDataRoots = [.. sourceRoots.Select(Path.GetFullPath)];
            });
            silo.AddShoalJobs();
        });
        var host = builder.Build();
        await host.StartAsync(cancellationToken);
        return new BlobCluster(host, store, data);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        try
        {
            await _host.StopAsync(TimeSpan.FromSeconds(30));
        }
        finally
        {
            _host.Dispose();
        }
    }
}
