using Microsoft.Extensions.Logging;
using Orleans;
using Orleans.Concurrency;
using Orleans.Runtime;
using Shoal.Encoders;

namespace Shoal.Grains.Encoders;

/// <summary>
/// Adapter from <see cref="IEncoderPoolGrain"/> to the silo's <see cref="EncoderPoolRegistry"/>:
/// no state of its own, no model of its own. Placed by <see cref="EncoderPoolPlacement"/> (the silo
/// named in the key) among silos passing <see cref="EncoderRolePlacementFilter"/> (the encoder role).
/// </summary>
[Reentrant]
[EncoderPoolPlacement]
[EncoderRolePlacementFilter]
public sealed class EncoderPoolGrain : Grain, IEncoderPoolGrain
{
    /// <summary>The most texts one <see cref="EncodeAsync"/> call may carry.</summary>
    public const int MaxTextsPerCall = 4096;

    private readonly EncoderPoolRegistry _registry;
    private readonly ILocalSiloDetails _localSilo;
    private readonly ILogger _logger;
    private string _encoder = "";

    /// <summary>Creates the grain.</summary>
    public EncoderPoolGrain(EncoderPoolRegistry registry, ILocalSiloDetails localSilo, ILogger<EncoderPoolGrain> logger)
    {
        _registry = registry;
        _localSilo = localSilo;
        _logger = logger;
    }

    /// <inheritdoc />
    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        // Placement already guarantees both; checking again keeps a pool from ever living elsewhere.
        string key = this.GetPrimaryKeyString();
        if (!EncoderRoles.TryParsePoolKey(key, out var encoder, out var silo))
            throw new ArgumentException($"'{key}' is not an encoder pool key; expected \"{{encoder}}@{{silo}}\" (EncoderRoles.PoolKey).");
        if (!silo.Equals(_localSilo.SiloAddress))
            throw new EncoderUnavailableException(encoder, $"Encoder pool '{key}' belongs on silo {silo}, not on {_localSilo.SiloAddress}.");
        if (!_registry.Hosts(encoder))
            throw new UnknownEncoderException(encoder, _registry.Names, $"silo {_localSilo.SiloAddress} does not host it");
        _encoder = encoder;
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public async Task<EncodeResponse> EncodeAsync(string[] texts, CancellationToken cancellationToken = default)
    {
        if (texts is null) return EncodeResponse.Fail(EncodeStatus.Invalid, "No texts given.");
        if (texts.Length > MaxTextsPerCall)
            return EncodeResponse.Fail(EncodeStatus.Invalid, $"{texts.Length} texts in one call to encoder '{_encoder}'; at most {MaxTextsPerCall} are allowed.");
        try
        {
            var kind = _registry.KindOf(_encoder);
            var results = await _registry.EncodeAsync(_encoder, texts, cancellationToken);
            return EncodeResponse.Pack(kind, results);
        }
        catch (EncoderQueueFullException e)
        {
            return EncodeResponse.Fail(EncodeStatus.QueueFull, $"Encoder '{_encoder}' on silo {_localSilo.SiloAddress}: {e.Message}");
        }
        catch (UnknownEncoderException e)
        {
            return EncodeResponse.Fail(EncodeStatus.UnknownEncoder, e.Message);
        }
        catch (ArgumentException e)
        {
            return EncodeResponse.Fail(EncodeStatus.Invalid, $"Encoder '{_encoder}': {e.Message}");
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
#pragma warning disable CA1031 // a model failure becomes a Failed response carrying its message, which the caller turns into a 503 with an explanation
        catch (Exception e)
#pragma warning restore CA1031
        {
            EncoderPoolLog.EncodeFailed(_logger, e, _encoder, texts.Length);
            return EncodeResponse.Fail(EncodeStatus.Failed, $"Encoder '{_encoder}' on silo {_localSilo.SiloAddress} failed: {e.GetType().Name}: {e.Message}");
        }
    }

    /// <inheritdoc />
    public Task<EncoderDescriptor> DescribeAsync() => Task.FromResult(_registry.Describe(_encoder));

    /// <inheritdoc />
    public Task<EncoderPoolStats> GetStatsAsync() => Task.FromResult(_registry.GetStats(_encoder, _localSilo.SiloAddress));
}

/// <summary>Answers <see cref="IEncoderCatalogGrain"/> from the receiving silo's <see cref="EncoderSiloDirectory"/>.</summary>
[StatelessWorker(1)]
public sealed class EncoderCatalogGrain : Grain, IEncoderCatalogGrain
{
    private readonly EncoderSiloDirectory _directory;

    /// <summary>Creates the grain.</summary>
    public EncoderCatalogGrain(EncoderSiloDirectory directory) => _directory = directory;

    /// <inheritdoc />
    public Task<EncoderCatalog> GetCatalogAsync() => Task.FromResult(_directory.GetCatalog());
}
