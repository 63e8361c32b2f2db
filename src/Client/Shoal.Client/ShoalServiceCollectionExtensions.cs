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
        services.TryAddSingleton(sp => new ShoalClient(sp.GetRequiredService<IHttpClientFactory>(), HttpClientName));
        return builder;
    }

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
