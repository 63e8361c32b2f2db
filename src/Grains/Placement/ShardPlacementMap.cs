using System.IO.Hashing;
using System.Text;
using Orleans.Runtime;

namespace Shoal.Grains.Placement;

/// <summary>
/// The one function that says where a shard replica belongs: replica <c>r</c> of shard <c>s</c> of
/// an index goes to silo <c>(h(index) + s + r) mod n</c> in the list of eligible silos ordered by
/// address. The placement director uses it for new activations and the rebalancer for moves, so
/// both agree. Over one index the replicas fill consecutive slots, so silo counts differ by at most
/// one, and the replicas of a shard land on distinct silos whenever there are at least as many
/// silos as replicas; the offset <c>h(index)</c> spreads the remainders of different indexes.
/// </summary>
public static class ShardPlacementMap
{
    /// <summary>The silos in the order the map uses (by parsable address, ordinal).</summary>
    public static SiloAddress[] Order(IEnumerable<SiloAddress> silos) =>
        [.. silos.Distinct().OrderBy(s => s.ToParsableString(), StringComparer.Ordinal)];

    /// <summary>Slot (index into the ordered silos) of a replica among <paramref name="silos"/> silos.</summary>
    public static int Slot(string index, int shard, int replica, int silos)
    {
        ArgumentNullException.ThrowIfNull(index);
        ArgumentOutOfRangeException.ThrowIfLessThan(silos, 1);
        ulong h = XxHash3.HashToUInt64(Encoding.UTF8.GetBytes(index));
        return (int)((h % (ulong)silos + (ulong)shard + (ulong)replica) % (ulong)silos);
    }

    /// <summary>The silo of a replica among <paramref name="ordered"/> (already in <see cref="Order"/>'s order).</summary>
    public static SiloAddress Target(string index, int shard, int replica, IReadOnlyList<SiloAddress> ordered)
    {
        ArgumentNullException.ThrowIfNull(ordered);
        if (ordered.Count == 0) throw new InvalidOperationException($"No silo can host shard {index}/{shard}/{replica}.");
        return ordered[Slot(index, shard, replica, ordered.Count)];
    }

    /// <summary>
    /// Largest difference between the replica counts of two silos over all indexes, counting every
    /// silo in <paramref name="silos"/> (one with nothing counts as zero).
    /// </summary>
    public static int Skew(IEnumerable<string> replicaSilos, IEnumerable<string> silos)
    {
        var counts = silos.Distinct(StringComparer.Ordinal).ToDictionary(s => s, _ => 0, StringComparer.Ordinal);
        foreach (var s in replicaSilos) counts[s] = counts.GetValueOrDefault(s) + 1;
        return counts.Count == 0 ? 0 : counts.Values.Max() - counts.Values.Min();
    }
}
