using System.Reflection;
using Orleans;
using Orleans.Runtime;
using Shoal.Engine.Snapshots;
using Shoal.Grains.Contracts;
using Shoal.Grains.Encoders;
using Shoal.Grains.Jobs;
using Shoal.Grains.Shards;
using Shoal.Grains.Status;

namespace Shoal.Gateway.WebConsole;

/// <summary>
/// The web console: static files at <c>/ui</c> (embedded in this assembly, no build step) and the
/// endpoints it reads beyond the v1 API: <c>GET /v1/cluster</c> (silos, shard map, encoder pools,
/// jobs) and <c>GET /v1/indexes/{name}/versions</c> (versions in the snapshot store).
/// </summary>
public static class ConsoleApi
{
    /// <summary>Where the console is served.</summary>
    public const string UiPath = "/ui";

    private static readonly Assembly Assembly = typeof(ConsoleApi).Assembly;

    /// <summary>Maps the console's files and endpoints.</summary>
    public static IEndpointRouteBuilder MapShoalConsole(this IEndpointRouteBuilder app)
    {
        app.MapGet("/v1/cluster", GetClusterAsync);
        app.MapGet("/v1/indexes/{name}/versions", ListVersionsAsync);
        // The console's files are the same for everyone and a browser cannot add X-Api-Key to a page
        // load or a module import, so they are anonymous; every data call the page makes goes
        // through the keyed API with the key typed into the page.
        app.MapGet(UiPath + "/{**path}", ServeFile).ExcludeFromDescription().AllowAnonymous();
        return app;
    }

    [System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA2000", Justification = "Results.Stream owns the stream and disposes it after writing the response.")]
    private static IResult ServeFile(string? path, HttpRequest request, IConfiguration configuration)
    {
        // Relative module paths resolve against /ui/, so /ui itself moves there.
        if (request.Path.Value is { } p && !p.EndsWith('/') && string.IsNullOrEmpty(path)) return Results.Redirect(UiPath + "/");
        path = string.IsNullOrEmpty(path) ? "index.html" : path;
        if (path.Contains("..", StringComparison.Ordinal) || path.Contains('\\', StringComparison.Ordinal)) return Results.NotFound();
        // Console:Directory serves the files from disk instead (edit and reload while working on the console).
        var stream = configuration["Console:Directory"] is { Length: > 0 } directory && File.Exists(Path.Combine(directory, path))
            ? File.OpenRead(Path.Combine(directory, path))
            : Assembly.GetManifestResourceStream("console/" + path);
        if (stream is null)
        {
            // Client-side pages (/ui/cluster, /ui/index/x) all load the one shell.
            if (Path.HasExtension(path)) return Results.NotFound();
            stream = Assembly.GetManifestResourceStream("console/index.html")!;
        }
        string type = Path.GetExtension(path).ToLowerInvariant() switch
        {
            ".html" or "" => "text/html; charset=utf-8",
            ".js" => "text/javascript; charset=utf-8",
            ".css" => "text/css; charset=utf-8",
            ".svg" => "image/svg+xml",
            ".png" => "image/png",
            _ => "application/octet-stream",
        };
        return Results.Stream(stream, type);
    }

    private static async Task<IResult> ListVersionsAsync(string name, IGrainFactory grains, int? limit)
    {
        if (SnapshotCatalog.ValidateIndexName(name) is { } error) return ShoalApi.BadRequest(error);
        if (limit is < 1 or > 1000) return ShoalApi.BadRequest($"'limit' must be between 1 and 1000 (got {limit}).");
        var versions = await grains.GetGrain<IIndexVersionsGrain>(0).ListAsync(name, limit ?? 50);
        if (versions.Length == 0 && await grains.GetGrain<IIndexGrain>(name).GetInfoAsync() is null)
            return ShoalApi.NotFound($"Index '{name}' does not exist.");
        return TypedResults.Json(new IndexVersionList(name, versions), ShoalApi.Json);
    }

    private static async Task<IResult> GetClusterAsync(IGrainFactory grains, CancellationToken cancellationToken)
    {
#pragma warning disable CA2016 // IManagementGrain.GetDetailedHosts takes no token; WaitAsync below bounds the wait by the request's
        var hostsTask = grains.GetGrain<IManagementGrain>(0).GetDetailedHosts(onlyActive: true);
#pragma warning restore CA2016
        var catalogTask = grains.GetGrain<IEncoderCatalogGrain>(0).GetCatalogAsync();
        var indexesTask = IndexesAsync(grains);
        var jobsTask = JobsAsync(grains);
        await Task.WhenAll(hostsTask, catalogTask, indexesTask, jobsTask).WaitAsync(cancellationToken);

        var catalog = await catalogTask;
        var bySilo = catalog.Silos.ToDictionary(s => s.Silo);
        var hosts = await hostsTask;
        var silos = hosts
            .OrderBy(h => h.SiloAddress.ToString(), StringComparer.Ordinal)
            .Select(h =>
            {
                bySilo.TryGetValue(h.SiloAddress, out var info);
                // A silo whose metadata has not reached this one yet still hosts shard replicas.
                string[] roles = info is { Known: true } ? info.Roles : [EncoderRoles.DataRole];
                return new SiloStatus(h.SiloAddress.ToString(), h.SiloName ?? "", h.HostName ?? "", h.Status.ToString(),
                    roles, info?.Encoders.Select(e => e.Name).ToArray() ?? [], h.StartTime);
            })
            .ToArray();

        var pools = new List<EncoderPoolStatus>();
        foreach (var silo in catalog.Silos)
        {
            foreach (var encoder in silo.Encoders)
            {
                try
                {
                    var stats = await grains.GetGrain<IEncoderPoolGrain>(EncoderRoles.PoolKey(encoder.Name, silo.Silo)).GetStatsAsync().WaitAsync(cancellationToken);
                    pools.Add(new EncoderPoolStatus(encoder.Name, silo.Silo.ToString(), stats.QueueLength, stats.QueueCapacity, stats.BatchesRun,
                        stats.ItemsProcessed, stats.ItemsRejected, stats.BatchesRun == 0 ? 0 : (double)stats.ItemsProcessed / stats.BatchesRun));
                }
                catch (Exception e) when (e is OrleansException or TimeoutException or InvalidOperationException or ArgumentException)
                {
                    pools.Add(new EncoderPoolStatus(encoder.Name, silo.Silo.ToString(), 0, 0, 0, 0, 0, 0));
                }
            }
        }
        return TypedResults.Json(new ClusterStatus(DateTimeOffset.UtcNow, silos, await indexesTask, pools, await jobsTask), ShoalApi.Json);
    }

    private static async Task<IndexStatus[]> IndexesAsync(IGrainFactory grains)
    {
        var names = await grains.GetGrain<ICatalogGrain>(0).ListIndexesAsync();
        var statuses = await Task.WhenAll(names.Order(StringComparer.Ordinal).Select(async name =>
        {
            var info = await grains.GetGrain<IIndexGrain>(name).GetInfoAsync();
            if (info is null) return null;
            int replicas = Math.Max(1, info.Replicas);
            var shards = await Task.WhenAll(Enumerable.Range(0, info.ShardCount * replicas).Select(async i =>
            {
                int shard = i / replicas, replica = i % replicas;
                try
                {
                    var s = await grains.GetGrain<IShardGrain>(ShardGrain.KeyOf(name, shard, replica)).GetInfoAsync().WaitAsync(TimeSpan.FromSeconds(5));
                    return new ShardReplicaStatus(shard, replica, s.Silo, s.Version, s.DocCount, s.SegmentBytes, s.LiveDocuments, s.HiddenDocuments, null);
                }
                catch (Exception e) when (e is OrleansException or TimeoutException or InvalidOperationException)
                {
                    return new ShardReplicaStatus(shard, replica, "", 0, 0, 0, 0, 0, e.Message);
                }
            }));
            return new IndexStatus(info.Name, info.Version, info.ShardCount, replicas, info.DocCount,
                info.Channels.Select(c => c.Name).ToArray(), info.Updates, info.Ingest, shards);
        }));
        return [.. statuses.OfType<IndexStatus>()];
    }

    private static async Task<IndexJobStatus[]> JobsAsync(IGrainFactory grains)
    {
        var ids = await grains.GetGrain<IIndexJobCatalogGrain>(0).ListAsync(20);
        var statuses = await Task.WhenAll(ids.Select(id => grains.GetGrain<IIndexJobGrain>(id).GetStatusAsync()));
        return [.. statuses.OfType<IndexJobStatus>()];
    }
}
