using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans;
using Orleans.Hosting;
using Orleans.Placement;
using Orleans.Runtime;
using Orleans.Runtime.MembershipService.SiloMetadata;

namespace Shoal.Grains.Encoders;

/// <summary>Registers encoder pools on silos and the encoder client on clients.</summary>
public static class EncoderPoolsHostingExtensions
{
    /// <summary>
    /// Adds encoder pools configured in the silo builder's configuration (<c>Shoal:Encoders:&lt;name&gt;</c>,
    /// <c>Shoal:Roles</c>; see <see cref="EncoderPoolsOptions"/>). See <see cref="AddShoalEncoderPools(ISiloBuilder, Action{EncoderPoolsOptions})"/>.
    /// </summary>
    public static ISiloBuilder AddShoalEncoderPools(this ISiloBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.AddShoalEncoderPools(builder.Configuration);
    }

    /// <summary>Configuration section of <see cref="EncoderClientOptions"/> (read by the configuration overloads).</summary>
    public const string EncoderClientSection = "Shoal:EncoderClient";

    /// <summary>
    /// Adds encoder pools configured in <paramref name="configuration"/> (its root holds the
    /// <c>Shoal</c> section; <see cref="EncoderClientOptions"/> come from <c>Shoal:EncoderClient</c>). See <see cref="AddShoalEncoderPools(ISiloBuilder, Action{EncoderPoolsOptions})"/>.
    /// </summary>
    /// <exception cref="Shoal.Encoders.EncoderConfigurationException">A section does not bind (unknown key,
    /// bad value, unknown kind); the message names the encoder.</exception>
    public static ISiloBuilder AddShoalEncoderPools(this ISiloBuilder builder, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        builder.AddShoalEncoderPools(o => o.BindFrom(configuration));
        builder.Services.Configure<EncoderClientOptions>(configuration.GetSection(EncoderClientSection));
        return builder;
    }

    /// <summary>
    /// Adds encoder pools to the silo. Every silo of a Shoal cluster must call this (with or without
    /// encoders): it registers the placement of <see cref="IEncoderPoolGrain"/> (which any silo may
    /// have to decide), publishes the silo's roles and encoders as Orleans silo metadata
    /// (<see cref="EncoderRoles.RolesMetadataKey"/>, <see cref="EncoderRoles.EncodersMetadataKey"/>),
    /// registers the <see cref="EncoderPoolRegistry"/> (models loaded and checked when the silo
    /// starts; a bad file fails startup) and the <see cref="IEncoderService"/> /
    /// <see cref="EncoderClient"/> singleton for grains of this silo. Calling it again adds or replaces
    /// encoders (the infrastructure is registered once). Client settings:
    /// <c>services.Configure&lt;EncoderClientOptions&gt;(...)</c>.
    /// </summary>
    public static ISiloBuilder AddShoalEncoderPools(this ISiloBuilder builder, Action<EncoderPoolsOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        var services = builder.Services;
        var registration = services.FirstOrDefault(d => d.ServiceType == typeof(EncoderPoolsRegistration))?.ImplementationInstance as EncoderPoolsRegistration;
        bool first = registration is null;
        registration ??= new EncoderPoolsRegistration(new EncoderPoolsOptions());
        configure(registration.Options);
        registration.Refresh();
        if (!first) return builder;

        services.AddSingleton(registration);
        // The dictionary is the registration's own: later AddShoalEncoderPools calls update it in place
        // (Orleans reads it when the silo starts; EncoderPoolRegistry checks what was published).
        builder.UseSiloMetadata(registration.Metadata);
        services.AddSingleton(sp => new EncoderPoolRegistry(registration, sp.GetRequiredService<ILoggerFactory>(), sp.GetService<IOptions<SiloMetadata>>()));
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<EncoderPoolRegistry>());
        services.AddSingleton(sp => new EncoderSiloDirectory(
            sp.GetRequiredService<IClusterMembershipService>(), sp.GetRequiredService<ISiloMetadataCache>(), sp.GetRequiredService<ILocalSiloDetails>(), registration));
        services.AddPlacementDirector<EncoderPoolPlacement, EncoderPoolPlacementDirector>();
        services.AddPlacementFilter<EncoderRolePlacementFilter, EncoderRolePlacementFilterDirector>(ServiceLifetime.Transient);
        AddClient(services);
        return builder;
    }

    /// <summary>
    /// Registers <see cref="IEncoderService"/> (an <see cref="EncoderClient"/> singleton) for an Orleans
    /// client process such as the gateway: encoders are reached through grains. Settings come from
    /// <c>Shoal:EncoderClient</c> in the client's configuration, then <paramref name="configure"/>.
    /// </summary>
    public static IClientBuilder AddShoalEncoderClient(this IClientBuilder builder, Action<EncoderClientOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.Configure<EncoderClientOptions>(builder.Configuration.GetSection(EncoderClientSection));
        builder.Services.AddShoalEncoderClient(configure);
        return builder;
    }

    /// <summary>Registers <see cref="IEncoderService"/> in a service collection that has an Orleans <see cref="IGrainFactory"/>.</summary>
    public static IServiceCollection AddShoalEncoderClient(this IServiceCollection services, Action<EncoderClientOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        AddClient(services);
        if (configure is not null) services.Configure(configure);
        return services;
    }

    private static void AddClient(IServiceCollection services)
    {
        services.AddOptions<EncoderClientOptions>();
        services.TryAddSingleton<EncoderClient>();
        services.TryAddSingleton<IEncoderService>(sp => sp.GetRequiredService<EncoderClient>());
    }
}

/// <summary>
/// The encoder configuration of one silo as accumulated by <c>AddShoalEncoderPools</c> calls, and
/// the silo metadata derived from it.
/// </summary>
internal sealed class EncoderPoolsRegistration
{
    public EncoderPoolsRegistration(EncoderPoolsOptions options)
    {
        Options = options;
        Refresh();
    }

    public EncoderPoolsOptions Options { get; }

    /// <summary>Published as Orleans silo metadata; updated in place by <see cref="Refresh"/>.</summary>
    public Dictionary<string, string> Metadata { get; } = new(StringComparer.Ordinal);

    public void Refresh()
    {
        Metadata[EncoderRoles.RolesMetadataKey] = string.Join(",", Options.EffectiveRoles);
        Metadata[EncoderRoles.EncodersMetadataKey] = Options.HoldsEncoderRole
            ? EncoderRoles.FormatEncoders(Options.Encoders.Select(e => new KeyValuePair<string, Shoal.Encoders.EncoderKind>(e.Key, e.Value.Kind)))
            : "";
    }
}
