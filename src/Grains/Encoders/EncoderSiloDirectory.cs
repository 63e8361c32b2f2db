using Orleans.Runtime;
using Orleans.Runtime.MembershipService.SiloMetadata;

namespace Shoal.Grains.Encoders;

/// <summary>
/// A silo's view of which active silos hold the encoder role and host which encoders, read from
/// Orleans silo metadata (<see cref="EncoderRoles.RolesMetadataKey"/>,
/// <see cref="EncoderRoles.EncodersMetadataKey"/>) and cluster membership. The local silo's own
/// entry comes from its configuration, the others' from the silo-metadata cache, which Orleans fills
/// shortly after a silo joins (until then the silo is listed as not <see cref="EncoderSiloInfo.Known"/>).
/// </summary>
public sealed class EncoderSiloDirectory
{
    private readonly IClusterMembershipService _membership;
    private readonly ISiloMetadataCache _cache;
    private readonly ILocalSiloDetails _local;
    private readonly EncoderPoolsRegistration _registration;
    private volatile Cached? _cached;

    internal EncoderSiloDirectory(IClusterMembershipService membership, ISiloMetadataCache cache, ILocalSiloDetails local, EncoderPoolsRegistration registration)
    {
        _membership = membership;
        _cache = cache;
        _local = local;
        _registration = registration;
    }

    /// <summary>The local silo.</summary>
    public SiloAddress LocalSilo => _local.SiloAddress;

    /// <summary>
    /// Every active silo with its roles and encoders. Reused while the membership version is the same
    /// and every silo's metadata was known (a silo's metadata does not change while it lives).
    /// </summary>
    public EncoderCatalog GetCatalog()
    {
        var snapshot = _membership.CurrentSnapshot;
        if (_cached is { } cached && cached.Version == snapshot.Version) return cached.Catalog;
        var silos = snapshot.Members.Values
            .Where(m => m.Status == SiloStatus.Active)
            .Select(m => Describe(m.SiloAddress))
            .OrderBy(s => s.Silo.ToParsableString(), StringComparer.Ordinal)
            .ToArray();
        var catalog = new EncoderCatalog { Silos = silos, Source = _local.SiloAddress };
        if (catalog.Settled) _cached = new Cached(snapshot.Version, catalog);
        return catalog;
    }

    /// <summary>Whether <paramref name="silo"/> holds the encoder role (as far as this silo knows).</summary>
    public bool HoldsEncoderRole(SiloAddress silo) =>
        EncoderRoles.ParseRoles(Metadata(silo)?.GetValueOrDefault(EncoderRoles.RolesMetadataKey))
            .Contains(EncoderRoles.EncoderRole, StringComparer.OrdinalIgnoreCase);

    /// <summary>Whether <paramref name="silo"/> holds the encoder role and hosts <paramref name="encoder"/>.</summary>
    public bool Hosts(SiloAddress silo, string encoder) =>
        HoldsEncoderRole(silo) && EncoderRoles.ParseEncoders(Metadata(silo)?.GetValueOrDefault(EncoderRoles.EncodersMetadataKey)).Any(e => e.Name == encoder);

    private EncoderSiloInfo Describe(SiloAddress silo)
    {
        var metadata = Metadata(silo);
        bool known = metadata is not null && metadata.ContainsKey(EncoderRoles.RolesMetadataKey);
        var roles = EncoderRoles.ParseRoles(metadata?.GetValueOrDefault(EncoderRoles.RolesMetadataKey)).ToArray();
        var encoders = roles.Contains(EncoderRoles.EncoderRole, StringComparer.OrdinalIgnoreCase)
            ? EncoderRoles.ParseEncoders(metadata?.GetValueOrDefault(EncoderRoles.EncodersMetadataKey)).Select(e => new EncoderSummary { Name = e.Name, Kind = e.Kind }).ToArray()
            : [];
        return new EncoderSiloInfo { Silo = silo, Roles = roles, Encoders = encoders, Known = known };
    }

    private IReadOnlyDictionary<string, string>? Metadata(SiloAddress silo)
    {
        if (silo.Equals(_local.SiloAddress)) return _registration.Metadata;
        var metadata = _cache.GetSiloMetadata(silo).Metadata;
        return metadata.Count == 0 ? null : metadata;
    }

    private sealed record Cached(MembershipVersion Version, EncoderCatalog Catalog);
}
