using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Orleans;
using Orleans.Placement;
using Orleans.Hosting;
using Orleans.Runtime;
using Orleans.Runtime.Hosting;
using Shoal.Engine.Snapshots;
using Shoal.Grains.Encoders;

namespace Shoal.Grains.Hosting;

/// <summary>Adds Shoal's grains and the services they need to a silo.</summary>
public static class ShoalGrainsSiloBuilderExtensions
{
    /// <summary>
    /// Registers Shoal's grains: options (configuration section <c>Shoal</c>, then
    /// <paramref name="configure"/>), placement, the snapshot catalog over the registered
    /// <see cref="ISnapshotStore"/> (a <see cref="LocalDirectorySnapshotStore"/> in
    /// <see cref="ShoalOptions.SnapshotDirectory"/> when none is registered first) and encoder
    /// pools, and indexing jobs (<see cref="ShoalJobsSiloBuilderExtensions.AddShoalJobs"/>). Hosts call <c>AddShoal</c> (Shoal.Hosting), which also picks blob storage from the settings.
    /// </summary>
    public static ISiloBuilder AddShoalGrains(this ISiloBuilder builder, Action<ShoalOptions>? configure = null)
    {
        // Settings from configuration ("Shoal:MergeThresholdOperations", "Shoal:KeepVersions", ...), then the host's code.
        var options = builder.Services.AddOptions<ShoalOptions>().BindConfiguration("Shoal");
        if (configure is not null) options.Configure(configure);
        builder.Services.TryAddSingleton<ISnapshotStore>(sp => new LocalDirectorySnapshotStore(sp.GetRequiredService<IOptions<ShoalOptions>>().Value.SnapshotDirectory));
        // Trace context flows through grain calls, so one search is one trace across silos.
        builder.AddActivityPropagation();
        builder.Services.AddPlacementDirector<Placement.ShardPlacement, Placement.ShardPlacementDirector>();
        builder.Services.AddPlacementDirector<Placement.SiloTargetPlacement, Placement.SiloTargetPlacementDirector>();
        // Coordinators and per-silo grains are placed without a directory lookup (see UnlistedGrainDirectory).
        builder.AddGrainDirectory(Placement.UnlistedGrainDirectory.Name, static (_, _) => new Placement.UnlistedGrainDirectory());
        builder.Services.TryAddSingleton<Placement.DrainingSilos>();
        builder.Services.AddPlacementFilter<Placement.NotDrainingPlacementFilter, Placement.NotDrainingPlacementFilterDirector>(ServiceLifetime.Transient);
        builder.Services.TryAddSingleton<Shards.PreparedShardSegments>();
        builder.Services.TryAddSingleton<Placement.ShardRebalancer>();
        builder.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<Placement.ShardRebalancer>());
        builder.Services.TryAddSingleton<Shards.IShardSearchInterceptor, Shards.NoShardSearchInterceptor>();
        builder.Services.TryAddSingleton(sp => new SnapshotCatalog(sp.GetRequiredService<ISnapshotStore>()));
        builder.Services.TryAddSingleton(sp => new Shoal.Engine.Security.DataRoots(sp.GetRequiredService<IOptions<ShoalOptions>>().Value.EffectiveDataRoots()));
        builder.Services.TryAddSingleton<Query.IndexVersionCache>();
        builder.Services.TryAddSingleton<Query.ShardLocations>();
        builder.Services.TryAddSingleton<Shards.LocalShards>();
        builder.Services.TryAddSingleton<Query.SearchCoordinator>();
        // Every silo takes part in encoder-pool placement; silos configured with Shoal:Encoders host pools.
        builder.AddShoalEncoderPools();
        builder.Services.TryAddSingleton<Query.ITextEncoderClient, Query.PooledTextEncoderClient>();
        // Every build (an ingest included) runs as an indexing job.
        builder.AddShoalJobs();
        return builder;
    }
}
