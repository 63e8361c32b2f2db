using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Orleans.Hosting;
using Shoal.Engine.Snapshots;
using Shoal.Grains.Hosting;

namespace Shoal.Hosting;

/// <summary>Adds Shoal's grains and services to a silo.</summary>
public static class ShoalSiloBuilderExtensions
{
    /// <summary>
    /// Registers Shoal: the snapshot store the settings name (<see cref="SnapshotStores.Create"/>:
    /// a local directory, or blob storage when a connection string is set), unless another
    /// <see cref="ISnapshotStore"/> is registered first, then the grains and their services
    /// (<see cref="ShoalGrainsSiloBuilderExtensions.AddShoalGrains"/>).
    /// </summary>
    public static ISiloBuilder AddShoal(this ISiloBuilder builder, Action<ShoalOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.TryAddSingleton(sp => SnapshotStores.Create(sp.GetRequiredService<IOptions<ShoalOptions>>().Value));
        return builder.AddShoalGrains(configure);
    }
}
