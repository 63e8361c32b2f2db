using Orleans.Placement;
using Orleans.Runtime;
using Orleans.Runtime.Placement;

namespace Shoal.Grains.Placement;

/// <summary>
/// Placement filter: leaves out the silos that announced a graceful leave (<see cref="DrainingSilos"/>),
/// unless every candidate is leaving. The grains that do an index's work beside its shards — the
/// index grain (builds, merges, the update log) and indexing jobs — carry it together with
/// <see cref="ResourceOptimizedPlacementAttribute"/>: they go to the silo with the most free CPU
/// and memory among those that stay, as new shard replicas avoid a leaving silo.
/// </summary>
public sealed class NotDrainingPlacementFilter : PlacementFilterStrategy
{
    /// <summary>Creates the filter (order 0: the grain's only filter).</summary>
    public NotDrainingPlacementFilter() : base(0)
    {
    }
}

/// <summary>Marks a grain class for <see cref="NotDrainingPlacementFilter"/>.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class NotDrainingPlacementFilterAttribute : PlacementFilterAttribute
{
    /// <summary>Creates the attribute.</summary>
    public NotDrainingPlacementFilterAttribute() : base(new NotDrainingPlacementFilter())
    {
    }
}

/// <summary>The director of <see cref="NotDrainingPlacementFilter"/>: this silo's view of the leaving silos.</summary>
public sealed class NotDrainingPlacementFilterDirector(DrainingSilos draining) : IPlacementFilterDirector
{
    /// <inheritdoc />
    public IEnumerable<SiloAddress> Filter(PlacementFilterStrategy filterStrategy, PlacementTarget target, IEnumerable<SiloAddress> silos) =>
        draining.Without([.. silos]);
}
