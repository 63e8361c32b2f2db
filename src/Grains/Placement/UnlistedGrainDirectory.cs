using Orleans.GrainDirectory;
using Orleans.Runtime;

namespace Shoal.Grains.Placement;

/// <summary>
/// A grain directory that lists nothing, for grains whose place never needs looking up: stateless
/// workers (placed on the silo that takes the call) and grains placed by their key on the silo it
/// names (<see cref="SiloTargetPlacement"/>). With Orleans' default directory, placing such a grain
/// still asks the silo that owns its directory partition first; when that silo has just died and
/// the cluster has not declared it dead yet, the lookup fails and is retried for about a second,
/// and a search whose coordinator was being placed failed with it (bench/chaos.sh: 33 of 2,500
/// queries answered 503 after a silo was killed). Here a lookup answers "not placed" at once, so
/// the placement director decides alone, as it would have anyway.
/// </summary>
public sealed class UnlistedGrainDirectory : IGrainDirectory
{
    /// <summary>The name grains give in <c>[GrainDirectory(GrainDirectoryName = Name)]</c>.</summary>
    public const string Name = "shoal-unlisted";

    /// <inheritdoc />
    public Task<GrainAddress?> Register(GrainAddress address) => Task.FromResult<GrainAddress?>(address);

    /// <inheritdoc />
    public Task Unregister(GrainAddress address) => Task.CompletedTask;

    /// <inheritdoc />
    public Task<GrainAddress?> Lookup(GrainId grainId) => Task.FromResult<GrainAddress?>(null);

    /// <inheritdoc />
    public Task UnregisterSilos(List<SiloAddress> siloAddresses) => Task.CompletedTask;
}
