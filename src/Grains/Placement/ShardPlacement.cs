using Orleans;
using Orleans.Placement;
using Orleans.Runtime;

namespace Shoal.Grains.Placement;

/// <summary>
/// Places shard replicas deterministically: shard <c>s</c>, replica <c>r</c> of an index goes to
/// silo <c>(h(index) + s + r) mod n</c> in the ordered list of compatible silos. Shards spread
/// round-robin (balanced activations, not random pile-ups) and the replicas of one shard land on
/// different silos whenever there are at least as many silos as replicas.
/// </summary>
[Serializable, GenerateSerializer, Immutable, SuppressReferenceTracking]
public sealed class ShardPlacement : PlacementStrategy
{
    internal static readonly ShardPlacement Instance = new();
}

/// <summary>Marks a grain class for <see cref="ShardPlacement"/>.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class ShardPlacementAttribute : PlacementAttribute
{
    /// <summary>Creates the attribute.</summary>
    public ShardPlacementAttribute() : base(ShardPlacement.Instance)
    {
    }
}
