using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans;
using Orleans.Concurrency;
using Orleans.Placement;
using Orleans.Runtime;
using Orleans.Runtime.Placement;
using Shoal.Engine.Snapshots;
using Shoal.Grains.Hosting;
using Shoal.Grains.Shards;

namespace Shoal.Grains.Placement;

/// <summary>Where one shard replica is served, as the rebalancer last saw it.</summary>
[GenerateSerializer, Immutable, Alias("shoal.ShardReplicaLocation")]
public sealed record ShardReplicaLocation
{
    [Id(0)] public int Shard { get; init; }
    [Id(1)] public int Replica { get; init; }
    /// <summary>Silo serving the replica (parsable address, "host:port@generation").</summary>
    [Id(2)] public string Silo { get; init; } = "";
    /// <summary>Silo the placement map assigns it to; differs from <see cref="Silo"/> while a move is pending.</summary>
    [Id(3)] public string Target { get; init; } = "";
    /// <summary>Version the replica serves.</summary>
    [Id(4)] public long Version { get; init; }
}

/// <summary>An index's replica placement as published by the rebalancer.</summary>
[GenerateSerializer, Immutable, Alias("shoal.IndexPlacement")]
public sealed record IndexPlacement
{
    /// <summary>When the rebalancer looked.</summary>
    [Id(0)] public DateTimeOffset ObservedUtc { get; init; }
    /// <summary>Every replica of every shard.</summary>
    [Id(1)] public ShardReplicaLocation[] Replicas { get; init; } = [];
    /// <summary>Replica counts per silo differ by at most this much (over the eligible silos).</summary>
    [Id(2)] public int Skew { get; init; }
    /// <summary>Every replica is on its target silo.</summary>
    [Id(3)] public bool Balanced { get; init; }
}

/// <summary>The cluster's view of silos leaving gracefully (key 0).</summary>
[Alias("shoal.IPlacementRegistryGrain")]
public interface IPlacementRegistryGrain : IGrainWithIntegerKey
{
    /// <summary>Records that <paramref name="silo"/> is leaving: nothing new is placed there.</summary>
    Task MarkDrainingAsync(string silo);

    /// <summary>Silos leaving (parsable addresses), announced in the last ten minutes.</summary>
    [ReadOnly, AlwaysInterleave]
    Task<string[]> GetDrainingAsync();
}

/// <inheritdoc cref="IPlacementRegistryGrain"/>
public sealed class PlacementRegistryGrain : Grain, IPlacementRegistryGrain
{
    private static readonly TimeSpan Memory = TimeSpan.FromMinutes(10);
    private readonly Dictionary<string, DateTime> _draining = new(StringComparer.Ordinal);

    /// <inheritdoc />
    public Task MarkDrainingAsync(string silo)
    {
        _draining[silo] = DateTime.UtcNow;
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task<string[]> GetDrainingAsync()
    {
        var since = DateTime.UtcNow - Memory;
        return Task.FromResult(_draining.Where(p => p.Value >= since).Select(p => p.Key).ToArray());
    }
}

/// <summary>
/// Warms a shard replica on one silo ahead of a move (keyed "{silo}|{index}|{shard}|{replica}" and
/// placed on that silo): restores the version's segments into the silo's cache, checks and opens
/// them, and leaves them in <see cref="PreparedShardSegments"/> for the replica's activation there.
/// </summary>
[Alias("shoal.IShardWarmerGrain")]
public interface IShardWarmerGrain : IGrainWithStringKey
{
    /// <summary>Prepares version <paramref name="version"/>; returns the bytes of segments opened.</summary>
    Task<long> WarmAsync(long version, CancellationToken cancellationToken = default);
}

/// <inheritdoc cref="IShardWarmerGrain"/>
[SiloTargetPlacement]
public sealed partial class ShardWarmerGrain(SnapshotCatalog catalog, IOptions<ShoalOptions> options, PreparedShardSegments prepared, ILogger<ShardWarmerGrain> logger)
    : Grain, IShardWarmerGrain
{
    /// <summary>The warmer's key.</summary>
    public static string KeyOf(SiloAddress silo, string index, int shard, int replica)
    {
        ArgumentNullException.ThrowIfNull(silo);
        return string.Join('|', silo.ToParsableString(), index, shard.ToString(System.Globalization.CultureInfo.InvariantCulture), replica.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <inheritdoc />
    public async Task<long> WarmAsync(long version, CancellationToken cancellationToken = default)
    {
        var parts = this.GetPrimaryKeyString().Split('|');
        if (parts.Length != 4 || !ShardGrain.TryParseKey($"{parts[1]}/{parts[2]}/{parts[3]}", out string index, out int shard, out int replica))
            throw new ArgumentException($"Warmer key '{this.GetPrimaryKeyString()}' is not '{{silo}}|{{index}}|{{shard}}|{{replica}}'.");
        DeactivateOnIdle();
        if (prepared.Has(index, shard, replica, version)) return 0;
        var manifest = await catalog.GetManifestAsync(index, version, cancellationToken)
            ?? throw new InvalidOperationException($"Index '{index}' has no published version {version}.");
        if (shard >= manifest.ShardCount) return 0;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var opened = await OpenedSegments.OpenAsync(catalog, manifest, index, shard, options.Value.CacheDirectory, cancellationToken);
        prepared.Put(index, shard, replica, opened);
        LogWarmed(logger, index, shard, replica, version, GrainContext.Address.SiloAddress, opened.SizeBytes, clock.ElapsedMilliseconds);
        return opened.SizeBytes;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Warmed shard replica {Index}/{Shard}/{Replica} version {Version} on {Silo} ahead of its move: {Bytes} bytes restored and opened in {Ms} ms")]
    private static partial void LogWarmed(ILogger logger, string index, int shard, int replica, long version, SiloAddress? silo, long bytes, long ms);
}

/// <summary>Places a grain on the silo named at the start of its key ("{silo}|...").</summary>
[Serializable, GenerateSerializer, Immutable, SuppressReferenceTracking]
public sealed class SiloTargetPlacement : PlacementStrategy
{
    internal static readonly SiloTargetPlacement Instance = new();
}

/// <summary>Marks a grain class for <see cref="SiloTargetPlacement"/>.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class SiloTargetPlacementAttribute : PlacementAttribute
{
    /// <summary>Creates the attribute.</summary>
    public SiloTargetPlacementAttribute() : base(SiloTargetPlacement.Instance)
    {
    }
}

/// <summary>Director of <see cref="SiloTargetPlacement"/>: the silo in the key, when it can host the grain.</summary>
public sealed class SiloTargetPlacementDirector : IPlacementDirector
{
    /// <inheritdoc />
    public Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        string key = target.GrainIdentity.Key.ToString()!;
        int bar = key.IndexOf('|', StringComparison.Ordinal);
        var compatible = context.GetCompatibleSilos(target);
        if (bar > 0)
        {
            string wanted = key[..bar];
            foreach (var silo in compatible)
                if (string.Equals(silo.ToParsableString(), wanted, StringComparison.Ordinal)) return Task.FromResult(silo);
        }
        throw new OrleansException($"Silo '{(bar > 0 ? key[..bar] : key)}' named by {target.GrainIdentity} is not an active silo that can host it.");
    }
}
