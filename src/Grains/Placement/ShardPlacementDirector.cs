using Orleans.Runtime;
using Orleans.Runtime.Placement;
using Shoal.Grains.Shards;

namespace Shoal.Grains.Placement;

/// <summary>
/// Chooses the silo of a shard replica activation with <see cref="ShardPlacementMap"/> over the
/// compatible silos that are not draining. A move by the rebalancer carries its target as the
/// placement hint, which wins when that silo can host the grain.
/// </summary>
public sealed class ShardPlacementDirector(DrainingSilos draining) : IPlacementDirector
{
    /// <inheritdoc />
    public Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var compatible = context.GetCompatibleSilos(target);
        if (compatible.Length == 0) throw new OrleansException($"No silo can host {target.GrainIdentity}.");
        if (IPlacementDirector.GetPlacementHint(target.RequestContextData, compatible) is { } hint)
            return Task.FromResult(hint);
        var eligible = ShardPlacementMap.Order(draining.Without(compatible));
        if (!ShardGrain.TryParseKey(target.GrainIdentity.Key.ToString()!, out string index, out int shard, out int replica))
            return Task.FromResult(eligible[0]);
        return Task.FromResult(ShardPlacementMap.Target(index, shard, replica, eligible));
    }
}

/// <summary>
/// Silos that announced a graceful leave (this silo's view, refreshed by the rebalancer): new shard
/// activations avoid them while another silo can host the grain.
/// </summary>
public sealed class DrainingSilos
{
    private volatile HashSet<SiloAddress> _silos = [];

    /// <summary>The draining silos as last seen.</summary>
    public IReadOnlySet<SiloAddress> Current => _silos;

    /// <summary>Replaces the set.</summary>
    public void Set(IEnumerable<SiloAddress> silos) => _silos = [.. silos];

    /// <summary>Adds one silo (this one, when it starts to leave).</summary>
    public void Add(SiloAddress silo)
    {
        var next = new HashSet<SiloAddress>(_silos) { silo };
        _silos = next;
    }

    /// <summary><paramref name="silos"/> without the draining ones, or all of them when every one drains.</summary>
    public SiloAddress[] Without(SiloAddress[] silos)
    {
        ArgumentNullException.ThrowIfNull(silos);
        var draining = _silos;
        if (draining.Count == 0) return silos;
        var kept = Array.FindAll(silos, s => !draining.Contains(s));
        return kept.Length > 0 ? kept : silos;
    }
}
