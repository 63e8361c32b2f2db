using Orleans;
using Orleans.Placement;
using Orleans.Runtime;
using Orleans.Runtime.Placement;

namespace Shoal.Grains.Encoders;

// Why a custom strategy and a custom filter rather than Orleans' built-in ones:
// Orleans 10.4 has silo metadata and placement filters, but its two metadata filters
// (RequiredMatchSiloMetadata / PreferredMatchSiloMetadata) keep the silos whose metadata *equals the
// calling silo's*; "only silos with the encoder role" cannot be said with them when the caller (a
// shard or coordinator silo) lacks the role. So the role is published as silo metadata and checked by
// our own filter (EncoderRolePlacementFilter), and one activation per (encoder, silo) is obtained by
// naming the silo in the grain key and placing there (EncoderPoolPlacement) — random or
// prefer-local placement would give one activation per encoder on an arbitrary encoder silo.

/// <summary>
/// Places an <see cref="IEncoderPoolGrain"/> on the silo its key names (<see cref="EncoderRoles.PoolKey"/>),
/// if that silo is an active, compatible silo that holds the encoder role and hosts the encoder;
/// otherwise placement fails with an <see cref="EncoderUnavailableException"/> (the caller then picks
/// another silo). There is thus at most one pool activation per (encoder, silo).
/// </summary>
[Serializable, GenerateSerializer, Immutable, SuppressReferenceTracking, Alias("shoal.encoders.EncoderPoolPlacement")]
public sealed class EncoderPoolPlacement : PlacementStrategy
{
    internal static readonly EncoderPoolPlacement Instance = new();
}

/// <summary>Marks a grain class for <see cref="EncoderPoolPlacement"/>.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class EncoderPoolPlacementAttribute : PlacementAttribute
{
    /// <summary>Creates the attribute.</summary>
    public EncoderPoolPlacementAttribute() : base(EncoderPoolPlacement.Instance)
    {
    }
}

/// <summary>The director of <see cref="EncoderPoolPlacement"/>.</summary>
public sealed class EncoderPoolPlacementDirector : IPlacementDirector
{
    private readonly EncoderSiloDirectory _directory;

    /// <summary>Creates the director.</summary>
    public EncoderPoolPlacementDirector(EncoderSiloDirectory directory) => _directory = directory;

    /// <inheritdoc />
    public Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        string key = target.GrainIdentity.Key.ToString() ?? "";
        if (!EncoderRoles.TryParsePoolKey(key, out var encoder, out var silo))
            throw new EncoderUnavailableException("", $"'{key}' is not an encoder pool key; expected \"{{encoder}}@{{silo}}\" (EncoderRoles.PoolKey).");
        SiloAddress[] compatible;
        try
        {
            compatible = context.GetCompatibleSilos(target);
        }
        catch (OrleansException e)
        {
            throw new EncoderUnavailableException(encoder, $"Encoder pool '{encoder}' cannot be placed: no active silo holds the encoder role ({e.Message}).", e);
        }
        if (!compatible.Contains(silo) || !_directory.Hosts(silo, encoder))
        {
            var hosts = compatible.Where(s => _directory.Hosts(s, encoder)).Select(s => s.ToString()).ToList();
            throw new EncoderUnavailableException(encoder,
                $"Encoder pool '{encoder}' cannot be placed on silo {silo}: it is not an active silo with the encoder role hosting '{encoder}'"
                + (hosts.Count == 0 ? "; no silo hosts it." : $"; silos hosting it: {string.Join(", ", hosts)}."));
        }
        return Task.FromResult(silo);
    }
}

/// <summary>
/// Placement filter: only silos whose Orleans silo metadata lists the encoder role
/// (<see cref="EncoderRoles.RolesMetadataKey"/> contains <see cref="EncoderRoles.EncoderRole"/>).
/// </summary>
public sealed class EncoderRolePlacementFilter : PlacementFilterStrategy
{
    /// <summary>Creates the filter (order 0; it is the grain's only filter).</summary>
    public EncoderRolePlacementFilter() : base(0)
    {
    }
}

/// <summary>Marks a grain class for <see cref="EncoderRolePlacementFilter"/>.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class EncoderRolePlacementFilterAttribute : PlacementFilterAttribute
{
    /// <summary>Creates the attribute.</summary>
    public EncoderRolePlacementFilterAttribute() : base(new EncoderRolePlacementFilter())
    {
    }
}

/// <summary>The director of <see cref="EncoderRolePlacementFilter"/>.</summary>
public sealed class EncoderRolePlacementFilterDirector : IPlacementFilterDirector
{
    private readonly EncoderSiloDirectory _directory;

    /// <summary>Creates the director.</summary>
    public EncoderRolePlacementFilterDirector(EncoderSiloDirectory directory) => _directory = directory;

    /// <inheritdoc />
    public IEnumerable<SiloAddress> Filter(PlacementFilterStrategy filterStrategy, PlacementTarget target, IEnumerable<SiloAddress> silos) =>
        silos.Where(_directory.HoldsEncoderRole);
}
