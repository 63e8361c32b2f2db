using System.Net;
using Microsoft.Extensions.Http.Resilience;
using Polly;
using Polly.Retry;

namespace Shoal.Client;

/// <summary>
/// The resilience pipeline of Shoal calls, built from <c>Microsoft.Extensions.Http.Resilience</c>'s
/// strategies: an overall timeout, then retries (exponential back-off with jitter, honouring
/// <c>Retry-After</c>) for requests marked idempotent only (reads and searches; GET and HEAD
/// otherwise), then a circuit breaker, then a timeout per attempt. The same pipeline serves the
/// <see cref="IHttpClientFactory"/> registration and the plain <see cref="ShoalClient(Uri, int)"/>.
/// </summary>
internal static class ShoalResilience
{
    /// <summary>Request option: may this request be retried?</summary>
    internal static readonly HttpRequestOptionsKey<bool> Idempotent = new("Shoal.Idempotent");

    /// <summary>Request option: the client operation, for telemetry.</summary>
    internal static readonly HttpRequestOptionsKey<string> Operation = new("Shoal.Operation");

    /// <summary>Adds the strategies to <paramref name="builder"/>; with <paramref name="retriesOnly"/>, only the retry (the caller's HttpClient keeps its own timeout).</summary>
    internal static void Configure(ResiliencePipelineBuilder<HttpResponseMessage> builder, ShoalClientOptions options, bool retriesOnly = false)
    {
        if (!retriesOnly) builder.AddTimeout(new HttpTimeoutStrategyOptions { Name = "shoal-call-timeout", Timeout = options.Timeout });
        if (options.MaxRetries > 0)
        {
            builder.AddRetry(new HttpRetryStrategyOptions
            {
                Name = "shoal-retry",
                MaxRetryAttempts = options.MaxRetries,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = options.RetryDelay,
                MaxDelay = TimeSpan.FromSeconds(30),
                ShouldRetryAfterHeader = true,
                ShouldHandle = args => ValueTask.FromResult(
                    !args.Context.CancellationToken.IsCancellationRequested
                    && IsRetryable(args.Context.GetRequestMessage()) && HttpClientResiliencePredicates.IsTransient(args.Outcome)),
                OnRetry = args =>
                {
                    string operation = args.Context.GetRequestMessage() is { } request && request.Options.TryGetValue(Operation, out string? op) ? op : "unknown";
                    ShoalTelemetry.Retries.Add(1, new KeyValuePair<string, object?>("shoal.operation", operation));
                    return default;
                },
            });
        }
        if (retriesOnly) return;
        if (options.EnableCircuitBreaker)
        {
            builder.AddCircuitBreaker(new HttpCircuitBreakerStrategyOptions
            {
                Name = "shoal-circuit-breaker",
                FailureRatio = options.CircuitBreakerFailureRatio,
                MinimumThroughput = options.CircuitBreakerMinimumThroughput,
                SamplingDuration = options.CircuitBreakerSamplingDuration,
                BreakDuration = options.CircuitBreakerBreakDuration,
            });
        }
        builder.AddTimeout(new HttpTimeoutStrategyOptions { Name = "shoal-attempt-timeout", Timeout = options.AttemptTimeout });
    }

    /// <summary>A request marked by the client says; any other is retryable when it is a GET or HEAD.</summary>
    internal static bool IsRetryable(HttpRequestMessage? request) =>
        request is not null && (request.Options.TryGetValue(Idempotent, out bool idempotent)
            ? idempotent
            : request.Method == HttpMethod.Get || request.Method == HttpMethod.Head);

    /// <summary>The handler chain of a client that owns its HttpClient: the pipeline over a pooled socket handler.</summary>
    internal static HttpMessageHandler CreateHandler(ShoalClientOptions options)
    {
        var pipeline = new ResiliencePipelineBuilder<HttpResponseMessage>();
        Configure(pipeline, options);
        return new ResilienceHandler(pipeline.Build())
        {
            InnerHandler = new SocketsHttpHandler
            {
                PooledConnectionLifetime = TimeSpan.FromMinutes(5),
                AutomaticDecompression = DecompressionMethods.All,
            },
        };
    }
}
