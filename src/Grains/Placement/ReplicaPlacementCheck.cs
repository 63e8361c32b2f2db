using Orleans;
using Orleans.Runtime;

namespace Shoal.Grains.Placement;

/// <summary>
/// Checks, when an index version is asked for with replicas, that its replicas can land on
/// distinct silos: more replicas than active silos put two copies of a shard on one silo, which
/// protects against nothing. That is a warning (reported in the response and the log), or a
/// refusal when the caller asks for strict placement.
/// </summary>
public static class ReplicaPlacementCheck
{
    /// <summary>Returns a warning (null when placement is fine); throws <see cref="ArgumentException"/> when strict placement cannot be met.</summary>
    public static async Task<string?> CheckAsync(IGrainFactory grains, int replicas, bool strict)
    {
        ArgumentNullException.ThrowIfNull(grains);
        if (replicas <= 1) return null;
        var hosts = await grains.GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true);
        int silos = hosts.Count;
        if (replicas <= silos) return null;
        string what = $"{replicas} replicas of each shard cannot be placed on distinct silos: the cluster has {silos} active silo{(silos == 1 ? "" : "s")}";
        if (strict) throw new ArgumentException(what + " (strictPlacement is set). Add silos or ask for fewer replicas.");
        return what + ", so some copies share a silo and do not protect against its loss until silos join.";
    }
}
