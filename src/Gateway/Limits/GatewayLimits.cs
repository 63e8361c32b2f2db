using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.RateLimiting;
using Shoal.Gateway.Auth;

namespace Shoal.Gateway.Limits;

/// <summary>
/// Request limits of the gateway (configuration section <c>Shoal:Limits</c>). Per-key limits are
/// partitioned by API key name (by client address without keys); 0 turns a limit off.
/// </summary>
public sealed class GatewayLimitOptions
{
    /// <summary>Sustained requests per second per key (token bucket); 0: no rate limit.</summary>
    public int RequestsPerSecond { get; set; } = 10_000;

    /// <summary>Requests a key may send at once above the sustained rate (bucket size); 0: same as <see cref="RequestsPerSecond"/>.</summary>
    public int Burst { get; set; } = 20_000;

    /// <summary>Requests of one key in flight at once; more are refused with 429. 0: no limit.</summary>
    public int ConcurrentRequestsPerKey { get; set; } = 128;

    /// <summary>Searches this gateway runs at once (over all keys); more wait in the search queue.</summary>
    public int MaxConcurrentSearches { get; set; } = 128;

    /// <summary>Searches that may wait for a slot; beyond it a search is shed at once with 503.</summary>
    public int SearchQueue { get; set; } = 512;

    /// <summary>Longest a search waits in the queue before it is shed with 503.</summary>
    public TimeSpan SearchQueueTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Largest request body, in bytes (update batches with dense vectors are the big ones).</summary>
    public long MaxRequestBodyBytes { get; set; } = 32L << 20;

    /// <summary>Largest search body, in bytes.</summary>
    public long MaxSearchBodyBytes { get; set; } = 4L << 20;

    /// <summary>Seconds a shed or rate-limited client is told to wait (Retry-After) when the limiter gives no better figure.</summary>
    public int RetryAfterSeconds { get; set; } = 1;

    /// <summary>Reads <c>Shoal:Limits</c>; a negative or zero value where one is needed is an <see cref="ArgumentException"/>.</summary>
    public static GatewayLimitOptions From(IConfiguration configuration)
    {
        var o = new GatewayLimitOptions();
        configuration.GetSection("Shoal:Limits").Bind(o);
        if (o.RequestsPerSecond < 0 || o.Burst < 0 || o.ConcurrentRequestsPerKey < 0)
            throw new ArgumentException("Shoal:Limits:RequestsPerSecond, Burst and ConcurrentRequestsPerKey must be 0 (off) or positive.");
        if (o.MaxConcurrentSearches < 1 || o.SearchQueue < 0)
            throw new ArgumentException("Shoal:Limits:MaxConcurrentSearches must be at least 1 and SearchQueue at least 0.");
        if (o.MaxRequestBodyBytes < 1024 || o.MaxSearchBodyBytes < 1024)
            throw new ArgumentException("Shoal:Limits:MaxRequestBodyBytes and MaxSearchBodyBytes must be at least 1024.");
        if (o.RetryAfterSeconds < 1) throw new ArgumentException("Shoal:Limits:RetryAfterSeconds must be at least 1.");
        return o;
    }
}

/// <summary>Endpoint metadata: a search endpoint (search queue, <see cref="GatewayLimitOptions.MaxSearchBodyBytes"/>).</summary>
internal sealed record SearchEndpoint;

/// <summary>
/// The bounded search queue: at most <see cref="GatewayLimitOptions.MaxConcurrentSearches"/> searches
/// run, at most <see cref="GatewayLimitOptions.SearchQueue"/> wait, each for at most
/// <see cref="GatewayLimitOptions.SearchQueueTimeout"/>; the rest are shed with 503 and
/// Retry-After, so latency under overload stays bounded instead of growing with the backlog.
/// </summary>
public sealed class SearchAdmission : IDisposable
{
    private readonly ConcurrencyLimiter _limiter;
    private readonly GatewayLimitOptions _options;
    private long _shed;

    /// <summary>Creates the queue.</summary>
    public SearchAdmission(GatewayLimitOptions options)
    {
        _options = options;
        _limiter = new ConcurrencyLimiter(new ConcurrencyLimiterOptions
        {
            PermitLimit = options.MaxConcurrentSearches,
            QueueLimit = options.SearchQueue,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
        });
    }

    /// <summary>Searches shed so far.</summary>
    public long Shed => Interlocked.Read(ref _shed);

    /// <summary>Searches waiting for a slot.</summary>
    public long Queued => _limiter.GetStatistics()?.CurrentQueuedCount ?? 0;

    /// <summary>A slot, or null when the search is shed (queue full or waited too long).</summary>
    public async Task<RateLimitLease?> EnterAsync(CancellationToken cancellationToken)
    {
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        wait.CancelAfter(_options.SearchQueueTimeout);
        RateLimitLease lease;
        try
        {
            lease = await _limiter.AcquireAsync(1, wait.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            Interlocked.Increment(ref _shed);
            return null;
        }
        if (lease.IsAcquired) return lease;
        lease.Dispose();
        Interlocked.Increment(ref _shed);
        return null;
    }

    /// <inheritdoc />
    public void Dispose() => _limiter.Dispose();
}

/// <summary>Registration of the limits.</summary>
public static class GatewayLimits
{
    /// <summary>Registers the per-key rate and concurrency limiters and the search queue.</summary>
    public static IServiceCollection AddShoalLimits(this IServiceCollection services, GatewayLimitOptions options)
    {
        services.AddSingleton(options);
        services.AddSingleton<SearchAdmission>();
        services.AddRateLimiter(o =>
        {
            o.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            var limiters = new List<PartitionedRateLimiter<HttpContext>>();
            if (options.RequestsPerSecond > 0)
                limiters.Add(PartitionedRateLimiter.Create<HttpContext, string>(context => Exempt(context)
                    ? RateLimitPartition.GetNoLimiter("")
                    : RateLimitPartition.GetTokenBucketLimiter(GatewayAuth.PartitionOf(context), _ => new TokenBucketRateLimiterOptions
                    {
                        TokenLimit = options.Burst > 0 ? options.Burst : options.RequestsPerSecond,
                        TokensPerPeriod = options.RequestsPerSecond,
                        ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                        QueueLimit = 0,
                        AutoReplenishment = true,
                    })));
            if (options.ConcurrentRequestsPerKey > 0)
                limiters.Add(PartitionedRateLimiter.Create<HttpContext, string>(context => Exempt(context)
                    ? RateLimitPartition.GetNoLimiter("")
                    : RateLimitPartition.GetConcurrencyLimiter(GatewayAuth.PartitionOf(context), _ => new ConcurrencyLimiterOptions
                    {
                        PermitLimit = options.ConcurrentRequestsPerKey,
                        QueueLimit = 0,
                    })));
            if (limiters.Count > 0) o.GlobalLimiter = limiters.Count == 1 ? limiters[0] : PartitionedRateLimiter.CreateChained([.. limiters]);
            o.OnRejected = async (context, cancellationToken) =>
            {
                var http = context.HttpContext;
                int seconds = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var after)
                    ? Math.Max(1, (int)Math.Ceiling(after.TotalSeconds))
                    : options.RetryAfterSeconds;
                http.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
                string who = GatewayAuth.PartitionOf(http).StartsWith("key:", StringComparison.Ordinal) ? "this API key" : "this client";
                await TypedResults.Problem(
                    $"Too many requests from {who} (limits: {options.RequestsPerSecond} per second, {options.ConcurrentRequestsPerKey} at once); retry after {seconds} s.",
                    statusCode: StatusCodes.Status429TooManyRequests, title: "Too many requests").ExecuteAsync(http);
            };
        });
        return services;
    }

    /// <summary>Sets each request's body limit: <see cref="GatewayLimitOptions.MaxSearchBodyBytes"/> for searches, else the default; runs after routing.</summary>
    public static IApplicationBuilder UseShoalBodyLimits(this IApplicationBuilder app, GatewayLimitOptions options) =>
        app.Use((context, next) =>
        {
            var feature = context.Features.Get<IHttpMaxRequestBodySizeFeature>();
            if (feature is { IsReadOnly: false })
                feature.MaxRequestBodySize = context.GetEndpoint()?.Metadata.GetMetadata<SearchEndpoint>() is null ? options.MaxRequestBodyBytes : options.MaxSearchBodyBytes;
            return next(context);
        });

    /// <summary>Runs a search endpoint through the bounded search queue (a shed search is a 503 with Retry-After) with the search body limit.</summary>
    public static TBuilder WithSearchAdmission<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder
    {
        builder.WithMetadata(new SearchEndpoint());
        builder.AddEndpointFilter(async (context, next) =>
        {
            var http = context.HttpContext;
            var admission = http.RequestServices.GetRequiredService<SearchAdmission>();
            var options = http.RequestServices.GetRequiredService<GatewayLimitOptions>();
            using var lease = await admission.EnterAsync(http.RequestAborted);
            if (lease is null)
            {
                http.Response.Headers.RetryAfter = options.RetryAfterSeconds.ToString(CultureInfo.InvariantCulture);
                return TypedResults.Problem(
                    $"The gateway is overloaded: {options.MaxConcurrentSearches} searches running and the queue of {options.SearchQueue} full or not moving within {options.SearchQueueTimeout.TotalSeconds:0.###} s; retry after {options.RetryAfterSeconds} s.",
                    statusCode: StatusCodes.Status503ServiceUnavailable, title: "Overloaded");
            }
            return await next(context);
        });
        return builder;
    }

    /// <summary>Health probes are never limited.</summary>
    private static bool Exempt(HttpContext context) => context.Request.Path.StartsWithSegments("/health", StringComparison.OrdinalIgnoreCase);
}
