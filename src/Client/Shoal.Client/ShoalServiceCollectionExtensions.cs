using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Options;
using Shoal.Client;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers <see cref="ShoalClient"/> with dependency injection.</summary>
public static class ShoalServiceCollectionExtensions
{
    /// <summary>Name of the <see cref="IHttpClientFactory"/> client the registered <see cref="ShoalClient"/> uses.</summary>
    public const string HttpClientName = "Shoal";

    /// <summary>
    /// Registers a singleton <see cref="ShoalClient"/> over an <see cref="IHttpClientFactory"/> client
    /// named <see cref="HttpClientName"/> whose base address, API key and resilience pipeline
    /// (<c>Microsoft.Extensions.Http.Resilience</c>: call timeout, retries of reads and searches
    /// with jitter honouring <c>Retry-After</c>, circuit breaker, attempt timeout) come from
    /// <see cref="ShoalClientOptions"/> set by <paramref name="configure"/>.
    /// </summary>
    /// <remarks>
    /// Calling it again (either overload) adds its configuration on top of the earlier one (options
    /// configure actions run in order, the last value set wins), but registers the client, its
    /// headers and its resilience pipeline only once, so pipelines do not nest and retries do not multiply.
    /// </remarks>
    /// <returns>The HTTP client builder, to add handlers of your own.</returns>
    public static IHttpClientBuilder AddShoalClient(this IServiceCollection services, Action<ShoalClientOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<ShoalClientOptions>().Configure(configure);
        return AddCore(services);
    }

    /// <summary>
    /// As <see cref="AddShoalClient(IServiceCollection, Action{ShoalClientOptions})"/>, with the options
    /// read from <paramref name="configuration"/>: its <c>Shoal</c> section when it has one
    /// (e.g. the application's root configuration), else <paramref name="configuration"/> itself.
    /// Keys are the <see cref="ShoalClientOptions"/> property names (<c>BaseAddress</c>,
    /// <c>ApiKey</c>, <c>Timeout</c>, <c>AttemptTimeout</c>, <c>MaxRetries</c>, <c>RetryDelay</c>,
    /// <c>EnableCircuitBreaker</c>, ...); <paramref name="configure"/>, when given, runs after binding.
    /// With no <c>ApiKey</c> set, the <c>SHOAL_API_KEY</c> environment variable is used (<see cref="ShoalClientOptions.ApiKey"/>).
    /// Calling it twice registers the pipeline once (see the other overload).
    /// </summary>
    public static IHttpClientBuilder AddShoalClient(this IServiceCollection services, IConfiguration configuration, Action<ShoalClientOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        var section = configuration.GetSection(ShoalClientOptions.SectionName);
        IConfiguration source = section.Exists() ? section : configuration;
        services.AddOptions<ShoalClientOptions>().Configure(o =>
        {
            o.Bind(source);
            configure?.Invoke(o);
        });
        return AddCore(services);
    }

    private static IHttpClientBuilder AddCore(IServiceCollection services)
    {
        // A second call must not add a second configure action (the API key header twice) or a
        // second resilience handler (nested pipelines: retries of retries); the marker says the
        // first call did both.
        if (services.Any(d => d.ServiceType == typeof(ShoalClientRegistration)))
            return services.AddHttpClient(HttpClientName);
        services.AddSingleton(new ShoalClientRegistration());
        services.TryAddSingleton<IValidateOptions<ShoalClientOptions>, ShoalClientOptionsValidator>();
        var builder = services.AddHttpClient(HttpClientName, (sp, http) =>
        {
            var options = sp.GetRequiredService<IOptions<ShoalClientOptions>>().Value;
            http.BaseAddress = options.NormalizedBaseAddress();
            // The pipeline's call timeout governs; HttpClient's own would cut it short.
            http.Timeout = Timeout.InfiniteTimeSpan;
            ShoalClient.ConfigureHeaders(http, options);
        });
        builder.AddResilienceHandler("shoal", (pipeline, context) =>
            ShoalResilience.Configure(pipeline, context.ServiceProvider.GetRequiredService<IOptions<ShoalClientOptions>>().Value));
        services.TryAddSingleton(sp => new ShoalClient(sp.GetRequiredService<IHttpClientFactory>(), HttpClientName,
            sp.GetRequiredService<IOptions<ShoalClientOptions>>().Value.Timeout));
        return builder;
    }

    /// <summary>Marks a service collection that <c>AddShoalClient</c> has registered the client in.</summary>
    private sealed class ShoalClientRegistration;

    private sealed class ShoalClientOptionsValidator : IValidateOptions<ShoalClientOptions>
    {
        public ValidateOptionsResult Validate(string? name, ShoalClientOptions options)
        {
            try
            {
                options.Validate();
                return ValidateOptionsResult.Success;
            }
            catch (InvalidOperationException e)
            {
                return ValidateOptionsResult.Fail(e.Message);
            }
        }
    }
}
