using Orleans;
using Orleans.Concurrency;

namespace Shoal.Grains.Encoders;

/// <summary>
/// The pool of one encoder on one silo with the encoder role, keyed
/// <c>"{encoder}@{silo}"</c> (<see cref="EncoderRoles.PoolKey"/>); placement puts the activation on
/// exactly that silo and refuses silos without the role. Calls interleave: each text is fed to the
/// silo's <see cref="Shoal.Encoders.EncoderPool"/>, so concurrent calls share batched model runs.
/// Callers normally go through <see cref="IEncoderService"/>, which picks the silo.
/// </summary>
[Alias("shoal.IEncoderPoolGrain")]
public interface IEncoderPoolGrain : IGrainWithStringKey
{
    /// <summary>
    /// Encodes <paramref name="texts"/> as queries (at most <see cref="EncoderPoolGrain.MaxTextsPerCall"/>), each with the encoder's query instruction.
    /// Failures are statuses, not exceptions: <see cref="EncodeStatus.QueueFull"/> (back-pressure),
    /// <see cref="EncodeStatus.UnknownEncoder"/>, <see cref="EncodeStatus.Invalid"/>, <see cref="EncodeStatus.Failed"/>.
    /// </summary>
    [AlwaysInterleave]
    Task<EncodeResponse> EncodeAsync(string[] texts, CancellationToken cancellationToken = default);

    /// <summary>
    /// Encodes <paramref name="texts"/> as documents (at most <see cref="EncoderPoolGrain.MaxTextsPerCall"/>):
    /// with the encoder's document instruction, in length-bucketed batches
    /// (<see cref="Shoal.Encoders.EncoderPool.EncodeDocumentsAsync"/>). Failures are statuses, as for <see cref="EncodeAsync"/>.
    /// </summary>
    [AlwaysInterleave]
    Task<EncodeResponse> EncodeDocumentsAsync(string[] texts, CancellationToken cancellationToken = default);

    /// <summary>What the encoder produces (kind, dimensions, vocabulary).</summary>
    [AlwaysInterleave, ReadOnly]
    Task<EncoderDescriptor> DescribeAsync();

    /// <summary>The pool's counters (batches, session runs, queue).</summary>
    [AlwaysInterleave, ReadOnly]
    Task<EncoderPoolStats> GetStatsAsync();
}

/// <summary>
/// Which silos host which encoders (a stateless worker: answered by the silo that receives the
/// call, from its silo-metadata cache). Used by clients outside the silos, such as the gateway.
/// </summary>
[Alias("shoal.IEncoderCatalogGrain")]
public interface IEncoderCatalogGrain : IGrainWithIntegerKey
{
    /// <summary>The active silos, their roles and encoders.</summary>
    [AlwaysInterleave, ReadOnly]
    Task<EncoderCatalog> GetCatalogAsync();
}
