using System.IO.Hashing;
using System.Text;
using Orleans.Runtime;
using Orleans.Runtime.Placement;
using Shoal.Grains.Shards;

namespace Shoal.Grains.Placement;

/// <summary>Chooses the silo of a shard replica activation; see <see cref="ShardPlacement"/>.</summary>
public sealed class ShardPlacementDirector : IPlacementDirector
{
    /// <inheritdoc />
    public Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        var silos = context.GetCompatibleSilos(target).OrderBy(s => s.ToParsableString(), StringComparer.Ordinal).ToArray();
        if (silos.Length == 0) throw new OrleansException($"No silo can host {target.GrainIdentity}.");
        if (!ShardGrain.TryParseKey(target.GrainIdentity.Key.ToString()!, out string index, out int shard, out int replica))
            return Task.FromResult(silos[0]);
        ulong h = XxHash3.HashToUInt64(Encoding.UTF8.GetBytes(index));
        int slot = (int)((h + (ulong)shard + (ulong)replica) % (ulong)silos.Length);
        return Task.FromResult(silos[slot]);
    }
}
