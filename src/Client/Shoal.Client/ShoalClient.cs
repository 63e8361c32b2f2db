using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization;
using Polly;
using Polly.Retry;

namespace Shoal.Client;

/// <summary>
/// .NET client for Shoal's HTTP API. Idempotent calls (reads and searches) are retried with
/// exponential back-off on transient failures (connection errors, 502/503/504, timeouts);
/// builds are not retried. Errors surface as <see cref="ShoalApiException"/> carrying the
/// server's explanation. Thread-safe; reuse one instance.
/// </summary>
public sealed partial class ShoalClient : IDisposable
{
    private static readonly JsonSerializerOptions Json = CreateJson();
    private readonly HttpClient _http;
    private readonly bool _ownsHttp;
    private readonly ResiliencePipeline<HttpResponseMessage> _retry;

    /// <summary>A client for the gateway at <paramref name="baseAddress"/> (e.g. http://127.0.0.1:5080).</summary>
    public ShoalClient(Uri baseAddress, int maxRetries = 3)
        : this(new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(100) }, maxRetries, ownsHttp: true)
    {
    }

    /// <summary>A client over an existing <see cref="HttpClient"/> whose BaseAddress is the gateway.</summary>
    public ShoalClient(HttpClient http, int maxRetries = 3) : this(http, maxRetries, ownsHttp: false)
    {
    }

    private ShoalClient(HttpClient http, int maxRetries, bool ownsHttp)
    {
        ArgumentNullException.ThrowIfNull(http.BaseAddress, "http.BaseAddress");
        _http = http;
        _ownsHttp = ownsHttp;
        var builder = new ResiliencePipelineBuilder<HttpResponseMessage>();
        if (maxRetries > 0)
        {
            builder.AddRetry(new RetryStrategyOptions<HttpResponseMessage>
            {
                MaxRetryAttempts = maxRetries,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = TimeSpan.FromMilliseconds(200),
                ShouldHandle = new PredicateBuilder<HttpResponseMessage>()
                    .Handle<HttpRequestException>()
                    .Handle<TaskCanceledException>(e => e.InnerException is TimeoutException)
                    .HandleResult(r => r.StatusCode is HttpStatusCode.BadGateway or HttpStatusCode.ServiceUnavailable or HttpStatusCode.GatewayTimeout),
            });
        }
        _retry = builder.Build();
    }

    private static JsonSerializerOptions CreateJson()
    {
        var o = new JsonSerializerOptions(JsonSerializerDefaults.Web) { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };
        o.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase));
        return o;
    }

    /// <summary>Searches an index.</summary>
    public async Task<SearchResults> SearchAsync(string index, SearchQuery query, CancellationToken cancellationToken = default)
    {
        using var response = await SendIdempotentAsync(() => new HttpRequestMessage(HttpMethod.Post, $"v1/indexes/{Uri.EscapeDataString(index)}/search")
        {
            Content = JsonContent.Create(query, options: Json),
        }, cancellationToken).ConfigureAwait(false);
        return await ReadAsync<SearchResults>(response, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Names of indexes with a published version.</summary>
    public async Task<IReadOnlyList<string>> ListIndexesAsync(CancellationToken cancellationToken = default)
    {
        using var response = await SendIdempotentAsync(() => new HttpRequestMessage(HttpMethod.Get, "v1/indexes"), cancellationToken).ConfigureAwait(false);
        return (await ReadAsync<IndexListResponse>(response, cancellationToken).ConfigureAwait(false)).Indexes;
    }

    /// <summary>An index's published version and schema, or null when it does not exist.</summary>
    public async Task<IndexDescription?> GetIndexAsync(string index, CancellationToken cancellationToken = default)
    {
        using var response = await SendIdempotentAsync(() => new HttpRequestMessage(HttpMethod.Get, $"v1/indexes/{Uri.EscapeDataString(index)}"), cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotFound) return null;
        return await ReadAsync<IndexDescription>(response, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Starts building a new version of an index from a corpus file.</summary>
    public async Task<IngestProgress> StartIngestAsync(string index, IngestOptions options, CancellationToken cancellationToken = default)
    {
        using var response = await _http.PostAsJsonAsync($"v1/indexes/{Uri.EscapeDataString(index)}/ingest", options, Json, cancellationToken).ConfigureAwait(false);
        return await ReadAsync<IngestProgress>(response, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Progress of the current or last build.</summary>
    public async Task<IngestProgress> GetIngestAsync(string index, CancellationToken cancellationToken = default)
    {
        using var response = await SendIdempotentAsync(() => new HttpRequestMessage(HttpMethod.Get, $"v1/indexes/{Uri.EscapeDataString(index)}/ingest"), cancellationToken).ConfigureAwait(false);
        return await ReadAsync<IngestProgress>(response, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Polls a build until it finishes, reporting progress; throws when it fails.</summary>
    public async Task<IngestProgress> WaitForIngestAsync(string index, IProgress<IngestProgress>? progress = null, TimeSpan? pollInterval = null, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            var status = await GetIngestAsync(index, cancellationToken).ConfigureAwait(false);
            progress?.Report(status);
            if (status.State == "failed") throw new InvalidOperationException($"Build of index '{index}' failed: {status.Error}");
            if (status.IsFinished) return status;
            await Task.Delay(pollInterval ?? TimeSpan.FromMilliseconds(500), cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<HttpResponseMessage> SendIdempotentAsync(Func<HttpRequestMessage> request, CancellationToken cancellationToken) =>
        await _retry.ExecuteAsync(async ct =>
        {
            using var message = request();
            return await _http.SendAsync(message, ct).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);

    private static async Task<T> ReadAsync<T>(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (!response.IsSuccessStatusCode)
        {
            string body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            ProblemResponse? problem = null;
            try { problem = JsonSerializer.Deserialize<ProblemResponse>(body, Json); }
            catch (JsonException) { }
            throw new ShoalApiException(response.StatusCode, problem?.Title, problem?.Detail ?? (body.Length > 0 ? body : response.ReasonPhrase ?? "no detail"));
        }
        return await response.Content.ReadFromJsonAsync<T>(Json, cancellationToken).ConfigureAwait(false)
            ?? throw new ShoalApiException(response.StatusCode, "Empty response", "The server returned no body.");
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_ownsHttp) _http.Dispose();
    }
}
