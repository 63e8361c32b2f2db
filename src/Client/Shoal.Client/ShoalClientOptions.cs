using System.Globalization;
using Microsoft.Extensions.Configuration;

namespace Shoal.Client;

/// <summary>
/// Settings of a <see cref="ShoalClient"/>: the gateway's address, the API key, and the
/// resilience of its calls (an overall timeout per call, a timeout per attempt, retries with
/// exponential back-off and jitter for reads and searches only, honouring <c>Retry-After</c>,
/// and a circuit breaker). Bound from configuration by
/// <see cref="Microsoft.Extensions.DependencyInjection.ShoalServiceCollectionExtensions.AddShoalClient(Microsoft.Extensions.DependencyInjection.IServiceCollection, IConfiguration, Action{ShoalClientOptions})"/>
/// with the property names as keys (<c>Shoal:BaseAddress</c>, <c>Shoal:ApiKey</c>, <c>Shoal:Timeout</c> as
/// <c>hh:mm:ss</c>, <c>Shoal:MaxRetries</c>, ...).
/// </summary>
public sealed class ShoalClientOptions
{
    /// <summary>The configuration section <c>AddShoalClient(configuration)</c> reads when given the root: <c>Shoal</c>.</summary>
    public const string SectionName = "Shoal";

    /// <summary>The HTTP header that carries <see cref="ApiKey"/>.</summary>
    public const string ApiKeyHeader = "X-Api-Key";

    /// <summary>The environment variable the API key is read from when <see cref="ApiKey"/> is not set: <c>SHOAL_API_KEY</c> (the <c>shoal</c> CLI reads it too).</summary>
    public const string ApiKeyEnvironmentVariable = "SHOAL_API_KEY";

    /// <summary>The gateway, e.g. <c>http://127.0.0.1:5080</c>. Required.</summary>
    public Uri? BaseAddress { get; set; }

    /// <summary>
    /// API key sent in the <c>X-Api-Key</c> header of every request. When null (the default), the
    /// client falls back to the <c>SHOAL_API_KEY</c> environment variable
    /// (<see cref="ApiKeyEnvironmentVariable"/>), read when the client's <see cref="HttpClient"/> is
    /// made (once for <c>new ShoalClient(options)</c>; on each factory client for <c>AddShoalClient</c>);
    /// when that is unset or empty too, no key is sent. A key set here wins over the variable.
    /// </summary>
    public string? ApiKey { get; set; }

    /// <summary>Longest a call may take, all attempts and back-off delays included (default 100 s).</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(100);

    /// <summary>Longest one attempt may take before it is abandoned (and retried when the call may be) (default 30 s).</summary>
    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Retries of a read or search after a transient failure (connection error, 408, 429, 5xx, attempt timeout); 0 disables them. Writes are never retried. Default 3.</summary>
    public int MaxRetries { get; set; } = 3;

    /// <summary>First back-off delay; later ones grow exponentially, with jitter. A <c>Retry-After</c> header from the server takes precedence. Default 200 ms.</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Whether a circuit breaker stops calls for <see cref="CircuitBreakerBreakDuration"/> when too many fail (default true).</summary>
    public bool EnableCircuitBreaker { get; set; } = true;

    /// <summary>Fraction of failed attempts within <see cref="CircuitBreakerSamplingDuration"/> that opens the circuit (default 0.5).</summary>
    public double CircuitBreakerFailureRatio { get; set; } = 0.5;

    /// <summary>Attempts within the sampling window before the circuit may open (default 20).</summary>
    public int CircuitBreakerMinimumThroughput { get; set; } = 20;

    /// <summary>Window over which failures are counted (default 30 s).</summary>
    public TimeSpan CircuitBreakerSamplingDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long an open circuit refuses calls before it lets one through to test the server (default 5 s).</summary>
    public TimeSpan CircuitBreakerBreakDuration { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Checks the settings; throws <see cref="InvalidOperationException"/> saying which one is wrong and why.</summary>
    public void Validate()
    {
        if (BaseAddress is null)
            throw new InvalidOperationException($"ShoalClientOptions.BaseAddress is not set: give the gateway's address (configuration key '{SectionName}:BaseAddress', e.g. http://127.0.0.1:5080).");
        if (!BaseAddress.IsAbsoluteUri || (BaseAddress.Scheme != Uri.UriSchemeHttp && BaseAddress.Scheme != Uri.UriSchemeHttps))
            throw new InvalidOperationException($"ShoalClientOptions.BaseAddress '{BaseAddress}' is not an absolute http(s) address.");
        if (ApiKey is { Length: 0 } || (ApiKey is not null && ApiKey.AsSpan().IndexOfAny('\r', '\n') >= 0))
            throw new InvalidOperationException("ShoalClientOptions.ApiKey is empty or holds a line break; leave it null to send no key.");
        CheckPositive(Timeout, nameof(Timeout));
        CheckPositive(AttemptTimeout, nameof(AttemptTimeout));
        if (AttemptTimeout > Timeout)
            throw new InvalidOperationException($"ShoalClientOptions.AttemptTimeout ({AttemptTimeout}) is longer than Timeout ({Timeout}), the whole call's limit.");
        if (MaxRetries is < 0 or > 100) throw new InvalidOperationException($"ShoalClientOptions.MaxRetries must be between 0 and 100 (got {MaxRetries}).");
        if (RetryDelay < TimeSpan.Zero) throw new InvalidOperationException($"ShoalClientOptions.RetryDelay must not be negative (got {RetryDelay}).");
        if (CircuitBreakerFailureRatio is <= 0 or > 1) throw new InvalidOperationException($"ShoalClientOptions.CircuitBreakerFailureRatio must be in (0, 1] (got {CircuitBreakerFailureRatio}).");
        if (CircuitBreakerMinimumThroughput < 2) throw new InvalidOperationException($"ShoalClientOptions.CircuitBreakerMinimumThroughput must be at least 2 (got {CircuitBreakerMinimumThroughput}).");
        CheckPositive(CircuitBreakerSamplingDuration, nameof(CircuitBreakerSamplingDuration));
        CheckPositive(CircuitBreakerBreakDuration, nameof(CircuitBreakerBreakDuration));
    }

    private static void CheckPositive(TimeSpan value, string name)
    {
        if (value <= TimeSpan.Zero) throw new InvalidOperationException($"ShoalClientOptions.{name} must be positive (got {value}).");
    }

    /// <summary>
    /// The key to send: <see cref="ApiKey"/>, else the <c>SHOAL_API_KEY</c> environment variable when
    /// it is set and not empty, else null. A variable holding a line break is an
    /// <see cref="InvalidOperationException"/> naming it (it cannot be a header value).
    /// </summary>
    internal string? EffectiveApiKey()
    {
        if (ApiKey is not null) return ApiKey;
        string? fromEnvironment = Environment.GetEnvironmentVariable(ApiKeyEnvironmentVariable);
        if (string.IsNullOrEmpty(fromEnvironment)) return null;
        if (fromEnvironment.AsSpan().IndexOfAny('\r', '\n') >= 0)
            throw new InvalidOperationException($"The {ApiKeyEnvironmentVariable} environment variable holds a line break; it cannot be sent as the {ApiKeyHeader} header.");
        return fromEnvironment;
    }

    /// <summary>The base address with a trailing '/', so relative paths keep a path prefix.</summary>
    internal Uri NormalizedBaseAddress()
    {
        Validate();
        var uri = BaseAddress!;
        return uri.AbsolutePath.EndsWith('/') ? uri : new Uri(uri.AbsoluteUri + "/");
    }

    /// <summary>A copy, so a client keeps the settings it was made with.</summary>
    internal ShoalClientOptions Clone() => (ShoalClientOptions)MemberwiseClone();

    /// <summary>
    /// Reads the settings present in <paramref name="section"/> (keys are the property names,
    /// case-insensitive; durations as <c>hh:mm:ss[.fff]</c>). Written out rather than through the
    /// reflection binder, so it is trimming and AOT safe. A value that does not parse is an
    /// <see cref="InvalidOperationException"/> naming the key.
    /// </summary>
    public void Bind(IConfiguration section)
    {
        ArgumentNullException.ThrowIfNull(section);
        if (section[nameof(BaseAddress)] is { } address)
        {
            if (!Uri.TryCreate(address, UriKind.Absolute, out var uri))
                throw Invalid(section, nameof(BaseAddress), address, "an absolute http(s) address");
            BaseAddress = uri;
        }
        if (section[nameof(ApiKey)] is { } key) ApiKey = key.Length == 0 ? null : key;
        Timeout = ReadTimeSpan(section, nameof(Timeout), Timeout);
        AttemptTimeout = ReadTimeSpan(section, nameof(AttemptTimeout), AttemptTimeout);
        MaxRetries = ReadInt(section, nameof(MaxRetries), MaxRetries);
        RetryDelay = ReadTimeSpan(section, nameof(RetryDelay), RetryDelay);
        if (section[nameof(EnableCircuitBreaker)] is { } enable)
            EnableCircuitBreaker = bool.TryParse(enable, out bool b) ? b : throw Invalid(section, nameof(EnableCircuitBreaker), enable, "true or false");
        if (section[nameof(CircuitBreakerFailureRatio)] is { } ratio)
            CircuitBreakerFailureRatio = double.TryParse(ratio, NumberStyles.Float, CultureInfo.InvariantCulture, out double r) ? r : throw Invalid(section, nameof(CircuitBreakerFailureRatio), ratio, "a number");
        CircuitBreakerMinimumThroughput = ReadInt(section, nameof(CircuitBreakerMinimumThroughput), CircuitBreakerMinimumThroughput);
        CircuitBreakerSamplingDuration = ReadTimeSpan(section, nameof(CircuitBreakerSamplingDuration), CircuitBreakerSamplingDuration);
        CircuitBreakerBreakDuration = ReadTimeSpan(section, nameof(CircuitBreakerBreakDuration), CircuitBreakerBreakDuration);
    }

    private static TimeSpan ReadTimeSpan(IConfiguration section, string key, TimeSpan current) =>
        section[key] is not { } text ? current
        : TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out var value) ? value
        : throw Invalid(section, key, text, "a duration such as 00:00:30");

    private static int ReadInt(IConfiguration section, string key, int current) =>
        section[key] is not { } text ? current
        : int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value) ? value
        : throw Invalid(section, key, text, "an integer");

    private static InvalidOperationException Invalid(IConfiguration section, string key, string value, string expected)
    {
        string path = section is IConfigurationSection s ? $"{s.Path}:{key}" : key;
        return new InvalidOperationException($"Configuration '{path}' = '{value}' is not {expected}.");
    }
}
