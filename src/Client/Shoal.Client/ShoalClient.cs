using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Polly;
using Polly.CircuitBreaker;
using Polly.Timeout;

namespace Shoal.Client;

/// <summary>
/// .NET client for Shoal's HTTP API (v1). Thread-safe; reuse one instance.
/// <para>
/// Three ways to make one: register it with
/// <see cref="Microsoft.Extensions.DependencyInjection.ShoalServiceCollectionExtensions.AddShoalClient(Microsoft.Extensions.DependencyInjection.IServiceCollection, Action{ShoalClientOptions})"/>
/// (an <see cref="IHttpClientFactory"/> client with the resilience pipeline, options bound from
/// configuration); <c>new ShoalClient(uri)</c> or <c>new ShoalClient(options)</c> for scripts (the
/// same pipeline on a client of its own); or <c>new ShoalClient(httpClient)</c> over an
/// <see cref="HttpClient"/> you configure (only retries are added).
/// </para>
/// <para>
/// Reads and searches are retried on transient failures (connection errors, 408, 429, 5xx,
/// attempt timeouts) with exponential back-off and jitter, honouring <c>Retry-After</c>; writes
/// (ingest, jobs, updates, merges) are never retried. Every error answer of the server surfaces as
/// <see cref="ShoalApiException"/> carrying its problem document; a call that runs out of time is
/// a <see cref="TimeoutException"/>, an unreachable gateway or an open circuit an
/// <see cref="HttpRequestException"/>. Calls are traced and measured (<see cref="ShoalTelemetry"/>).
/// </para>
/// </summary>
public sealed partial class ShoalClient : IDisposable
{
    private readonly HttpClient? _http;
    private readonly bool _ownsHttp;
    private readonly IHttpClientFactory? _factory;
    private readonly string? _clientName;
    /// <summary>Retries run inside the client (over a caller's HttpClient); null when a handler runs the pipeline.</summary>
    private readonly ResiliencePipeline<HttpResponseMessage>? _retry;
    private readonly TimeSpan? _timeout;

    /// <summary>A client for the gateway at <paramref name="baseAddress"/> (e.g. http://127.0.0.1:5080) with the default resilience settings and <paramref name="maxRetries"/> retries of reads and searches.</summary>
    public ShoalClient(Uri baseAddress, int maxRetries = 3)
        : this(new ShoalClientOptions { BaseAddress = baseAddress, MaxRetries = maxRetries })
    {
    }

    /// <summary>A client of its own (connection pool and resilience pipeline) with <paramref name="options"/>; dispose it when done.</summary>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA2000", Justification = "The HttpClient owns the handler (disposeHandler: true) and this client owns the HttpClient.")]
    public ShoalClient(ShoalClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var settings = options.Clone();
        var http = new HttpClient(ShoalResilience.CreateHandler(settings), disposeHandler: true)
        {
            BaseAddress = settings.NormalizedBaseAddress(),
            // The pipeline's call timeout governs; HttpClient's own would cut it short.
            Timeout = System.Threading.Timeout.InfiniteTimeSpan,
        };
        ConfigureHeaders(http, settings);
        _http = http;
        _ownsHttp = true;
        _timeout = settings.Timeout;
    }

    /// <summary>
    /// A client over an existing <see cref="HttpClient"/> whose BaseAddress is the gateway. Its
    /// handlers, timeout and headers are yours (set <c>X-Api-Key</c> there: this form does not read
    /// <c>SHOAL_API_KEY</c>); the client adds
    /// <paramref name="maxRetries"/> retries of reads and searches and does not dispose it.
    /// </summary>
    public ShoalClient(HttpClient http, int maxRetries = 3)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(http.BaseAddress, "http.BaseAddress");
        ArgumentOutOfRangeException.ThrowIfNegative(maxRetries);
        _http = http;
        if (maxRetries > 0)
        {
            var builder = new ResiliencePipelineBuilder<HttpResponseMessage>();
            ShoalResilience.Configure(builder, new ShoalClientOptions { BaseAddress = http.BaseAddress, MaxRetries = maxRetries }, retriesOnly: true);
            _retry = builder.Build();
        }
    }

    /// <summary>
    /// A client whose every call takes an <see cref="HttpClient"/> named <paramref name="clientName"/>
    /// from <paramref name="httpClientFactory"/> (its handlers, the resilience pipeline among them,
    /// come from the factory's configuration).
    /// </summary>
    public ShoalClient(IHttpClientFactory httpClientFactory, string clientName)
    {
        ArgumentNullException.ThrowIfNull(httpClientFactory);
        ArgumentNullException.ThrowIfNull(clientName);
        _factory = httpClientFactory;
        _clientName = clientName;
    }

    /// <summary>
    /// As <see cref="ShoalClient(IHttpClientFactory, string)"/>, told the whole call's timeout of the
    /// factory client's pipeline (<see cref="ShoalClientOptions.Timeout"/>), so that a
    /// <see cref="TimeoutException"/> says whether the call's or one attempt's timeout fired. This is
    /// what <c>AddShoalClient</c> registers.
    /// </summary>
    public ShoalClient(IHttpClientFactory httpClientFactory, string clientName, TimeSpan callTimeout)
        : this(httpClientFactory, clientName)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(callTimeout, TimeSpan.Zero);
        _timeout = callTimeout;
    }

    internal static void ConfigureHeaders(HttpClient http, ShoalClientOptions options)
    {
        if (options.EffectiveApiKey() is { } key) http.DefaultRequestHeaders.Add(ShoalClientOptions.ApiKeyHeader, key);
        http.DefaultRequestHeaders.UserAgent.ParseAdd(ShoalTelemetry.UserAgent);
    }

    private HttpClient Http => _http ?? _factory!.CreateClient(_clientName!);

    /// <summary>Searches an index.</summary>
    /// <exception cref="ShoalApiException">400 for an invalid query (the detail says what), 404 for an unknown index, 503 when an encoder cannot serve.</exception>
    public async Task<SearchResults> SearchAsync(string index, SearchQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(index);
        ArgumentNullException.ThrowIfNull(query);
        var results = (await CallAsync("search", index, HttpMethod.Post, $"v1/indexes/{Escape(index)}/search",
            () => JsonContent.Create(query, ShoalJsonContext.Default.SearchQuery), idempotent: true,
            ShoalJsonContext.Default.SearchResults, nullOnNotFound: false, cancellationToken).ConfigureAwait(false))!;
        if (results.Coverage.Partial) ShoalTelemetry.PartialSearches.Add(1);
        return results;
    }

    /// <summary>Searches an index with a query made by <see cref="ShoalQuery"/>'s builder.</summary>
    public Task<SearchResults> SearchAsync(string index, ShoalQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        return SearchAsync(index, query.ToSearchQuery(), cancellationToken);
    }

    /// <summary>
    /// Pages through the ranking of a search, <paramref name="pageSize"/> hits a page, up to
    /// <paramref name="maxHits"/> (at most 1,000, the gateway's largest k). Each page is a search
    /// for the top <c>page × pageSize</c> of which the new hits are returned; ties break by id, so
    /// pages neither repeat nor skip a hit while the index does not change. Stops after the last
    /// hit; throws <see cref="InvalidOperationException"/> when a new version of the index is
    /// published between pages (restart the enumeration).
    /// </summary>
    /// <exception cref="InvalidOperationException">The index moved to a new version between two pages.</exception>
    /// <exception cref="ShoalApiException">The gateway refused a page's search (see <see cref="SearchAsync(string, SearchQuery, CancellationToken)"/>).</exception>
    public async IAsyncEnumerable<SearchResults> SearchPagesAsync(string index, SearchQuery query, int pageSize = 10, int maxHits = 1000,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentOutOfRangeException.ThrowIfLessThan(pageSize, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(pageSize, 1000);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxHits, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxHits, 1000);
        long? version = null;
        for (int seen = 0; seen < maxHits;)
        {
            int k = Math.Min(seen + pageSize, maxHits);
            var results = await SearchAsync(index, query with { K = k }, cancellationToken).ConfigureAwait(false);
            if (version is { } first && results.Version != first)
                throw new InvalidOperationException($"Index '{index}' moved from version {first} to {results.Version} while paging; start again.");
            version = results.Version;
            if (results.Hits.Count <= seen) yield break;
            yield return results with { Hits = [.. results.Hits.Skip(seen)] };
            if (results.Hits.Count < k) yield break;
            seen = results.Hits.Count;
        }
    }

    /// <summary>Names of indexes with a published version.</summary>
    public async Task<IReadOnlyList<string>> ListIndexesAsync(CancellationToken cancellationToken = default) =>
        (await CallAsync("list_indexes", null, HttpMethod.Get, "v1/indexes", null, idempotent: true,
            ShoalJsonContext.Default.IndexListResponse, nullOnNotFound: false, cancellationToken).ConfigureAwait(false))!.Indexes;

    /// <summary>
    /// Every index with a published version and its description, one request per index made as
    /// the enumeration reaches it (an index deleted meanwhile is skipped).
    /// </summary>
    public async IAsyncEnumerable<IndexDescription> GetIndexesAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        foreach (string name in await ListIndexesAsync(cancellationToken).ConfigureAwait(false))
        {
            if (await GetIndexAsync(name, cancellationToken).ConfigureAwait(false) is { } description)
                yield return description;
        }
    }

    /// <summary>An index's published version and schema, or null when it does not exist.</summary>
    public Task<IndexDescription?> GetIndexAsync(string index, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(index);
        return CallAsync("get_index", index, HttpMethod.Get, $"v1/indexes/{Escape(index)}", null, idempotent: true,
            ShoalJsonContext.Default.IndexDescription, nullOnNotFound: true, cancellationToken);
    }

    /// <summary>Starts building a new version of an index from its sources (paths as the silos see them); not retried.</summary>
    /// <exception cref="ShoalApiException">400 for bad options or a missing file, 409 when a build of the index is already running.</exception>
    public async Task<IngestProgress> StartIngestAsync(string index, IngestOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(index);
        ArgumentNullException.ThrowIfNull(options);
        return (await CallAsync("start_ingest", index, HttpMethod.Post, $"v1/indexes/{Escape(index)}/ingest",
            () => JsonContent.Create(options, ShoalJsonContext.Default.IngestOptions), idempotent: false,
            ShoalJsonContext.Default.IngestProgress, nullOnNotFound: false, cancellationToken).ConfigureAwait(false))!;
    }

    /// <summary>Progress of the current or last build.</summary>
    public async Task<IngestProgress> GetIngestAsync(string index, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(index);
        return (await CallAsync("get_ingest", index, HttpMethod.Get, $"v1/indexes/{Escape(index)}/ingest", null, idempotent: true,
            ShoalJsonContext.Default.IngestProgress, nullOnNotFound: false, cancellationToken).ConfigureAwait(false))!;
    }

    /// <summary>
    /// Polls a build until it finishes, reporting progress; returns its final progress, succeeded or
    /// failed (check <see cref="IngestProgress.State"/>; <see cref="IngestProgress.Error"/> says why a
    /// build failed), as <see cref="WaitForJobAsync"/> does for a job.
    /// </summary>
    /// <exception cref="ShoalApiException">The gateway answered a poll with an error (e.g. 404 for an unknown index).</exception>
    public async Task<IngestProgress> WaitForIngestAsync(string index, IProgress<IngestProgress>? progress = null, TimeSpan? pollInterval = null, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            var status = await GetIngestAsync(index, cancellationToken).ConfigureAwait(false);
            progress?.Report(status);
            if (status.IsFinished) return status;
            await Task.Delay(pollInterval ?? TimeSpan.FromMilliseconds(500), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>True when the gateway answers its readiness probe (<c>GET /health/ready</c>): its start-up index serves.</summary>
    public async Task<bool> IsReadyAsync(CancellationToken cancellationToken = default)
    {
        using var response = await SendAsync("ready", HttpMethod.Get, "health/ready", null, idempotent: false, cancellationToken).ConfigureAwait(false);
        return response.IsSuccessStatusCode;
    }

    /// <summary>True when the gateway process answers its liveness probe (<c>GET /health/live</c>).</summary>
    public async Task<bool> IsLiveAsync(CancellationToken cancellationToken = default)
    {
        using var response = await SendAsync("live", HttpMethod.Get, "health/live", null, idempotent: false, cancellationToken).ConfigureAwait(false);
        return response.IsSuccessStatusCode;
    }

    private static string Escape(string segment) => Uri.EscapeDataString(segment);

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// One call: an activity and a duration measurement around the request (retried by the
    /// pipeline when <paramref name="idempotent"/>), then the answer read with the source-generated
    /// contract, or the error answer turned into <see cref="ShoalApiException"/>.
    /// </summary>
    private async Task<T?> CallAsync<T>(string operation, string? index, HttpMethod method, string path, Func<HttpContent>? content, bool idempotent,
        JsonTypeInfo<T> type, bool nullOnNotFound, CancellationToken cancellationToken) where T : class
    {
        using var activity = ShoalTelemetry.Source.StartActivity($"shoal {operation}", ActivityKind.Client);
        activity?.SetTag("shoal.operation", operation);
        if (index is not null) activity?.SetTag("shoal.index", index);
        long started = Stopwatch.GetTimestamp();
        int? status = null;
        string? error = null;
        try
        {
            using var response = await SendAsync(operation, method, path, content, idempotent, cancellationToken).ConfigureAwait(false);
            status = (int)response.StatusCode;
            activity?.SetTag("http.response.status_code", status);
            if (nullOnNotFound && response.StatusCode == HttpStatusCode.NotFound) return null;
            if (!response.IsSuccessStatusCode) throw await ErrorAsync(response, cancellationToken).ConfigureAwait(false);
            try
            {
                return await response.Content.ReadFromJsonAsync(type, cancellationToken).ConfigureAwait(false)
                    ?? throw new ShoalApiException(response.StatusCode, "Empty response", "The server returned no body.");
            }
            catch (JsonException e)
            {
                throw new ShoalApiException(response.StatusCode,
                    new ShoalProblem { Status = status, Title = "Unreadable response", Detail = $"The server's answer to {operation} is not the JSON this client expects: {e.Message}" },
                    innerException: e);
            }
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            error = e is ShoalApiException api ? ((int)api.StatusCode).ToString(CultureInfo.InvariantCulture) : e.GetType().FullName;
            activity?.SetStatus(ActivityStatusCode.Error, e.Message);
            activity?.SetTag("error.type", error);
            throw;
        }
        finally
        {
            var tags = new TagList { { "shoal.operation", operation } };
            if (status is { } s) tags.Add("http.response.status_code", s);
            if (error is not null) tags.Add("error.type", error);
            ShoalTelemetry.OperationDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, tags);
        }
    }

    /// <summary>Sends one request through the pipeline; timeouts and an open circuit become the exceptions .NET callers expect.</summary>
    private async Task<HttpResponseMessage> SendAsync(string operation, HttpMethod method, string path, Func<HttpContent>? content, bool idempotent, CancellationToken cancellationToken)
    {
        HttpRequestMessage Create()
        {
            var request = new HttpRequestMessage(method, path) { Content = content?.Invoke() };
            request.Options.Set(ShoalResilience.Idempotent, idempotent);
            request.Options.Set(ShoalResilience.Operation, operation);
            return request;
        }

        try
        {
            if (_retry is null)
            {
                using var request = Create();
                return await Http.SendAsync(request, cancellationToken).ConfigureAwait(false);
            }
            var context = ResilienceContextPool.Shared.Get(cancellationToken);
            try
            {
                return await _retry.ExecuteAsync(async ctx =>
                {
                    using var request = Create();
                    ctx.SetRequestMessage(request);
                    return await Http.SendAsync(request, ctx.CancellationToken).ConfigureAwait(false);
                }, context).ConfigureAwait(false);
            }
            finally
            {
                ResilienceContextPool.Shared.Return(context);
            }
        }
        catch (TimeoutRejectedException e)
        {
            throw new TimeoutException($"Shoal did not answer {operation} ({method} {path}) within {e.Timeout.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture)} s"
                + (_timeout is { } t && e.Timeout == t ? " (the call's timeout, retries included)." : " (one attempt's timeout)."), e);
        }
        catch (BrokenCircuitException e)
        {
            throw new HttpRequestException($"Calls to Shoal are paused: too many recent calls failed, so the circuit breaker is open for a while. {e.Message}", e);
        }
    }

    /// <summary>The error answer as <see cref="ShoalApiException"/>: the problem document when the body is one, else the body or status line.</summary>
    private static async Task<ShoalApiException> ErrorAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        string body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        ShoalProblem? problem = null;
        if (body.Length > 0 && body[0] == '{')
        {
            try { problem = JsonSerializer.Deserialize(body, ShoalJsonContext.Default.ShoalProblem); }
            catch (JsonException) { problem = null; }
        }
        if (problem is null || (problem.Detail is null && problem.Title is null))
        {
            problem = (problem ?? new ShoalProblem()) with
            {
                Status = (int)response.StatusCode,
                Title = response.ReasonPhrase,
                Detail = body.Length > 0 ? body : response.ReasonPhrase ?? "no detail",
            };
        }
        TimeSpan? retryAfter = response.Headers.RetryAfter switch
        {
            { Delta: { } delta } => delta,
            { Date: { } date } => date - DateTimeOffset.UtcNow is var wait && wait > TimeSpan.Zero ? wait : TimeSpan.Zero,
            _ => null,
        };
        return new ShoalApiException(response.StatusCode, problem, retryAfter);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_ownsHttp) _http!.Dispose();
    }
}
