using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Shoal.Client;

namespace Shoal.Integration.Tests.Sdk;

/// <summary>
/// The SDK's resilience, dependency injection, options binding and query builder, against a real
/// Kestrel server on loopback whose answers each test scripts (503 with Retry-After, 500s, slow
/// answers, problem documents), counting the requests that reach it.
/// </summary>
public sealed class SdkResilienceTests : IAsyncLifetime
{
    private WebApplication _app = null!;
    private Uri _base = null!;
    private readonly ConcurrentQueue<(string Method, string Path, string? ApiKey, DateTime At)> _requests = new();
    private Func<HttpContext, int, Task>? _respond;
    private int _count;

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        _app = builder.Build();
        _app.Run(async context =>
        {
            int n = Interlocked.Increment(ref _count);
            // Every value of the header, comma-joined, so a key sent twice shows.
            var keys = context.Request.Headers["X-Api-Key"];
            _requests.Enqueue((context.Request.Method, context.Request.Path.Value!, keys.Count == 0 ? null : keys.ToString(), DateTime.UtcNow));
            await _respond!(context, n);
        });
        await _app.StartAsync();
        string address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        _base = new Uri(address);
    }

    public async Task DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private const string Results = """{"index": "i", "version": 1, "hits": [{"id": "d1", "score": 1.5}], "coverage": {"shards": 1, "answered": 1, "partial": false, "missing": []}, "tookMs": 0.5, "channels": ["bm25"]}""";

    private static Task Json(HttpContext context, int status, string body, string contentType = "application/json")
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = contentType;
        return context.Response.WriteAsync(body);
    }

    private static Task Unavailable(HttpContext context, int retryAfterSeconds)
    {
        context.Response.Headers.RetryAfter = retryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return Json(context, 503, """{"type": "about:blank", "title": "Unavailable", "status": 503, "detail": "too busy, come back later"}""", "application/problem+json");
    }

    [Fact]
    public async Task A_search_is_retried_after_a_503_and_waits_as_long_as_retry_after_says()
    {
        _respond = (c, n) => n == 1 ? Unavailable(c, 1) : Json(c, 200, Results);
        using var client = new ShoalClient(new ShoalClientOptions { BaseAddress = _base, RetryDelay = TimeSpan.FromMilliseconds(10) });
        var results = await client.SearchAsync("i", new SearchQuery("q"));
        Assert.Equal("d1", Assert.Single(results.Hits).Id);
        var requests = _requests.ToArray();
        Assert.Equal(2, requests.Length);
        Assert.All(requests, r => Assert.Equal("/v1/indexes/i/search", r.Path));
        Assert.True(requests[1].At - requests[0].At >= TimeSpan.FromMilliseconds(900), $"retried after {(requests[1].At - requests[0].At).TotalMilliseconds} ms, not after Retry-After (1 s)");
    }

    [Fact]
    public async Task Writes_are_not_retried_and_the_error_carries_the_problem_and_retry_after()
    {
        _respond = (c, _) => Unavailable(c, 7);
        using var client = new ShoalClient(new ShoalClientOptions { BaseAddress = _base, RetryDelay = TimeSpan.FromMilliseconds(10) });
        var e = await Assert.ThrowsAsync<ShoalApiException>(() => client.StartIngestAsync("i", new IngestOptions("c.jsonl")));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, e.StatusCode);
        Assert.Equal("too busy, come back later", e.Detail);
        Assert.Equal("about:blank", e.Problem.Type);
        Assert.Equal(TimeSpan.FromSeconds(7), e.RetryAfter);
        Assert.True(e.IsTransient);
        await Assert.ThrowsAsync<ShoalApiException>(() => client.UpsertAsync("i", [new DocumentInput("d") { Text = "t" }]));
        await Assert.ThrowsAsync<ShoalApiException>(() => client.SubmitJobAsync(new JobSubmission("i", "c.jsonl")));
        await Assert.ThrowsAsync<ShoalApiException>(() => client.MergeAsync("i"));
        Assert.Equal(4, _requests.Count); // one attempt each
    }

    [Fact]
    public async Task Reads_give_up_after_max_retries_and_validation_errors_are_kept()
    {
        _respond = (c, _) => Json(c, 502, "bad gateway", "text/plain");
        using (var client = new ShoalClient(new ShoalClientOptions { BaseAddress = _base, MaxRetries = 2, RetryDelay = TimeSpan.FromMilliseconds(5), EnableCircuitBreaker = false }))
        {
            var e = await Assert.ThrowsAsync<ShoalApiException>(() => client.ListIndexesAsync());
            Assert.Equal(HttpStatusCode.BadGateway, e.StatusCode);
            Assert.Equal("bad gateway", e.Detail);
            Assert.Equal(3, _requests.Count);
        }

        _respond = (c, _) => Json(c, 400, """{"title": "One or more validation errors occurred.", "status": 400, "errors": {"k": ["must be between 1 and 1000"]}, "traceId": "00-abc"}""", "application/problem+json");
        using (var client = new ShoalClient(_base))
        {
            var e = await Assert.ThrowsAsync<ShoalApiException>(() => client.SearchAsync("i", new SearchQuery("q")));
            Assert.Equal(["must be between 1 and 1000"], e.Errors!["k"]);
            Assert.Equal("00-abc", e.Problem.Extensions!["traceId"].GetString());
            Assert.Contains("k: must be between 1 and 1000", e.Message, StringComparison.Ordinal);
            Assert.Equal(4, _requests.Count); // a 400 is not retried
        }
    }

    [Fact]
    public async Task The_circuit_opens_after_repeated_failures_and_calls_stop_reaching_the_server()
    {
        _respond = (c, _) => Json(c, 500, """{"title": "Internal error", "status": 500, "detail": "boom"}""");
        using var client = new ShoalClient(new ShoalClientOptions
        {
            BaseAddress = _base, MaxRetries = 0, CircuitBreakerMinimumThroughput = 4, CircuitBreakerFailureRatio = 0.5,
            CircuitBreakerBreakDuration = TimeSpan.FromSeconds(30),
        });
        for (int i = 0; i < 4; i++) await Assert.ThrowsAsync<ShoalApiException>(() => client.GetIngestAsync("i"));
        var open = await Assert.ThrowsAsync<HttpRequestException>(() => client.GetIngestAsync("i"));
        Assert.Contains("circuit breaker", open.Message, StringComparison.Ordinal);
        Assert.Equal(4, _requests.Count);
    }

    [Fact]
    public async Task A_slow_server_is_a_timeout_exception_within_the_calls_timeout()
    {
        _respond = async (c, _) =>
        {
            await Task.Delay(TimeSpan.FromSeconds(5), c.RequestAborted).ContinueWith(_ => { }, TaskScheduler.Default);
            if (!c.RequestAborted.IsCancellationRequested) await Json(c, 200, Results);
        };
        using var client = new ShoalClient(new ShoalClientOptions
        {
            BaseAddress = _base, Timeout = TimeSpan.FromMilliseconds(800), AttemptTimeout = TimeSpan.FromMilliseconds(300), RetryDelay = TimeSpan.FromMilliseconds(10),
        });
        var watch = Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<TimeoutException>(() => client.SearchAsync("i", new SearchQuery("q")));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(4), $"took {watch.Elapsed}");
        Assert.Contains("within", e.Message, StringComparison.Ordinal);
        Assert.True(_requests.Count >= 2, "the attempt timeout should have let the search be retried"); // attempts of 300 ms inside 800 ms

        // The caller's cancellation is a cancellation, not a timeout.
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.GetIndexAsync("i", cts.Token));
    }

    [Fact]
    public async Task AddShoalClient_binds_configuration_sends_the_api_key_and_uses_the_pipeline()
    {
        int calls = 0;
        _respond = (c, _) => Interlocked.Increment(ref calls) == 1 ? Unavailable(c, 0) : Json(c, 200, """{"indexes": ["a", "b"]}""");
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Shoal:BaseAddress"] = _base.ToString(),
            ["Shoal:ApiKey"] = "secret-key",
            ["Shoal:Timeout"] = "00:00:20",
            ["Shoal:AttemptTimeout"] = "00:00:05",
            ["Shoal:MaxRetries"] = "2",
            ["Shoal:RetryDelay"] = "00:00:00.010",
            ["Shoal:EnableCircuitBreaker"] = "false",
        }).Build();
        var services = new ServiceCollection();
        services.AddShoalClient(configuration);
        await using var provider = services.BuildServiceProvider();
        var options = provider.GetRequiredService<IOptions<ShoalClientOptions>>().Value;
        Assert.Equal(TimeSpan.FromSeconds(20), options.Timeout);
        Assert.Equal(2, options.MaxRetries);
        Assert.False(options.EnableCircuitBreaker);

        var client = provider.GetRequiredService<ShoalClient>();
        Assert.Same(client, provider.GetRequiredService<ShoalClient>());
        Assert.Equal(["a", "b"], await client.ListIndexesAsync());
        Assert.Equal(2, _requests.Count); // the 503 was retried by the factory client's pipeline
        Assert.All(_requests, r => Assert.Equal("secret-key", r.ApiKey));

        // The delegate form, and a clear error for a missing address or a bad value.
        var bare = new ServiceCollection();
        bare.AddShoalClient(o => o.MaxRetries = 1);
        await using (var p = bare.BuildServiceProvider())
        {
            var e = Assert.Throws<OptionsValidationException>(() => p.GetRequiredService<IOptions<ShoalClientOptions>>().Value);
            Assert.Contains("BaseAddress is not set", e.Message, StringComparison.Ordinal);
        }
        var bad = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Shoal:BaseAddress"] = _base.ToString(), ["Shoal:Timeout"] = "soon" }).Build();
        var badServices = new ServiceCollection();
        badServices.AddShoalClient(bad);
        await using (var p = badServices.BuildServiceProvider())
        {
            var e = Assert.Throws<InvalidOperationException>(() => p.GetRequiredService<IOptions<ShoalClientOptions>>().Value);
            Assert.Contains("'Shoal:Timeout' = 'soon'", e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task AddShoalClient_twice_registers_one_pipeline_and_one_key_header()
    {
        _respond = (c, _) => Json(c, 502, "bad gateway", "text/plain");
        var services = new ServiceCollection();
        services.AddShoalClient(o =>
        {
            o.BaseAddress = _base;
            o.ApiKey = "k-first";
            o.MaxRetries = 1;
            o.RetryDelay = TimeSpan.FromMilliseconds(5);
            o.EnableCircuitBreaker = false;
        });
        // The second call's settings apply on top of the first's; its pipeline is not added again.
        services.AddShoalClient(o => o.ApiKey = "k-second");
        await using var provider = services.BuildServiceProvider();
        Assert.Equal("k-second", provider.GetRequiredService<IOptions<ShoalClientOptions>>().Value.ApiKey);
        var client = provider.GetRequiredService<ShoalClient>();
        await Assert.ThrowsAsync<ShoalApiException>(() => client.ListIndexesAsync());
        // One pipeline: one attempt and one retry. Nested pipelines would make (1 + 1) * (1 + 1) = 4.
        Assert.Equal(2, _requests.Count);
        Assert.All(_requests, r => Assert.Equal("k-second", r.ApiKey));
    }

    [Fact]
    public async Task The_di_clients_timeout_exception_names_the_calls_timeout()
    {
        _respond = async (c, _) =>
        {
            await Task.Delay(TimeSpan.FromSeconds(5), c.RequestAborted).ContinueWith(_ => { }, TaskScheduler.Default);
            if (!c.RequestAborted.IsCancellationRequested) await Json(c, 200, Results);
        };
        var services = new ServiceCollection();
        // Attempts of 400 ms are retried; the call's 1 s runs out during the third attempt.
        services.AddShoalClient(o =>
        {
            o.BaseAddress = _base;
            o.Timeout = TimeSpan.FromSeconds(1);
            o.AttemptTimeout = TimeSpan.FromMilliseconds(400);
            o.MaxRetries = 5;
            o.RetryDelay = TimeSpan.FromMilliseconds(10);
            o.EnableCircuitBreaker = false;
        });
        await using var provider = services.BuildServiceProvider();
        var client = provider.GetRequiredService<ShoalClient>();
        var e = await Assert.ThrowsAsync<TimeoutException>(() => client.SearchAsync("i", new SearchQuery("q")));
        Assert.Contains("within 1 s (the call's timeout, retries included)", e.Message, StringComparison.Ordinal);

        // With no retries the attempt's timeout fires first, and the message says so.
        var single = new ServiceCollection();
        single.AddShoalClient(o =>
        {
            o.BaseAddress = _base;
            o.Timeout = TimeSpan.FromSeconds(2);
            o.AttemptTimeout = TimeSpan.FromMilliseconds(300);
            o.MaxRetries = 0;
            o.EnableCircuitBreaker = false;
        });
        await using var singleProvider = single.BuildServiceProvider();
        var attempt = await Assert.ThrowsAsync<TimeoutException>(() => singleProvider.GetRequiredService<ShoalClient>().SearchAsync("i", new SearchQuery("q")));
        Assert.Contains("within 0.3 s (one attempt's timeout)", attempt.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WaitForIngestAsync_returns_a_failed_build_like_WaitForJobAsync()
    {
        _respond = (c, n) => Json(c, 200, n < 3
            ? """{"state": "running", "phase": "reading", "documentsRead": 10}"""
            : """{"state": "failed", "phase": "building", "documentsRead": 20, "error": "disk full", "jobId": "j-1"}""");
        using var client = new ShoalClient(_base);
        var reports = new List<IngestProgress>();
        var done = await client.WaitForIngestAsync("i", new InlineProgress<IngestProgress>(reports.Add), TimeSpan.FromMilliseconds(10));
        Assert.Equal(("failed", "disk full", "j-1"), (done.State, done.Error, done.JobId));
        Assert.Equal(["running", "running", "failed"], reports.Select(p => p.State));
        Assert.All(_requests, r => Assert.Equal("/v1/indexes/i/ingest", r.Path));
    }

    private sealed class InlineProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }

    [Fact]
    public async Task The_plain_client_sends_the_api_key_and_a_user_agent()
    {
        _respond = (c, _) => Json(c, 200, """{"indexes": []}""");
        using var client = new ShoalClient(new ShoalClientOptions { BaseAddress = _base, ApiKey = "k1" });
        Assert.Empty(await client.ListIndexesAsync());
        Assert.Equal("k1", Assert.Single(_requests).ApiKey);
        Assert.Throws<InvalidOperationException>(() => new ShoalClient(new ShoalClientOptions { BaseAddress = _base, ApiKey = "bad\nkey" }));
        Assert.Throws<InvalidOperationException>(() => new ShoalClient(new ShoalClientOptions { BaseAddress = new Uri("ftp://host/") }));
    }

    [Fact]
    public void The_query_builder_writes_the_gateways_shapes_and_refuses_bad_values()
    {
        var hybrid = ShoalQuery.Hybrid(
                Bm25Clause.For("tides", k: 50),
                SparseClause.TermIds([3, 9], [0.5f, 1.5f], SparseSearch.Approximate(queryTermCut: 8, heapFactor: 2)),
                DenseClause.Vector([0.25f, -1f], DenseSearch.Hnsw(ef: 64), k: 40))
            .FusedBy(Fusion.Weighted(bm25Weight: 2, sparseWeight: 0, denseWeight: 1)) with
        { K = 7, DeadlineMs = 250 };
        var json = JsonSerializer.SerializeToElement(hybrid.ToSearchQuery(), ShoalJsonContext.Default.SearchQuery);
        Assert.Equal(7, json.GetProperty("k").GetInt32());
        Assert.Equal(250, json.GetProperty("deadlineMs").GetInt32());
        Assert.False(json.TryGetProperty("text", out _));
        Assert.Equal("tides", json.GetProperty("bm25").GetProperty("text").GetString());
        Assert.Equal(50, json.GetProperty("bm25").GetProperty("k").GetInt32());
        var sparse = json.GetProperty("sparse");
        Assert.Equal([3, 9], sparse.GetProperty("termIds").EnumerateArray().Select(e => e.GetInt32()));
        Assert.False(sparse.GetProperty("exact").GetBoolean());
        Assert.Equal(8, sparse.GetProperty("queryTermCut").GetInt32());
        Assert.False(sparse.TryGetProperty("vector", out _));
        var dense = json.GetProperty("dense");
        Assert.Equal(64, dense.GetProperty("ef").GetInt32());
        Assert.Equal(40, dense.GetProperty("k").GetInt32());
        var fusion = json.GetProperty("fusion");
        Assert.Equal("weighted", fusion.GetProperty("method").GetString());
        Assert.Equal(0, fusion.GetProperty("weights").GetProperty("sparse").GetDouble());

        // Weights only for the channels the query has.
        var two = ShoalQuery.Hybrid(Bm25Clause.For("x"), DenseClause.Vector([1f])).ToSearchQuery();
        Assert.Equal(["bm25", "dense"], two.Fusion!.Weights!.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("rrf", two.Fusion.Method);

        Assert.Throws<ArgumentException>(() => SparseClause.TermIds([1, 2], [0.5f]));
        Assert.Throws<ArgumentException>(() => SparseClause.Tokens(new Dictionary<string, float> { ["a"] = float.NaN }));
        Assert.Throws<ArgumentException>(() => DenseClause.Vector([1f, float.PositiveInfinity]));
        Assert.Throws<ArgumentException>(() => Bm25Clause.For(" "));
        Assert.Throws<ArgumentOutOfRangeException>(() => ShoalQuery.Bm25("x") with { K = 0 });
        Assert.Throws<ArgumentOutOfRangeException>(() => Fusion.Rrf(rankConstant: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Fusion.Weighted(denseWeight: -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => DenseSearch.Hnsw(ef: 0));

        // What the gateway refuses, refused where the clause is made: negative or non-finite sparse
        // weights, repeated term ids, more entries than the gateway's limit, knobs out of range.
        Assert.Throws<ArgumentException>(() => SparseClause.Tokens(new Dictionary<string, float> { ["a"] = -0.5f }));
        Assert.Throws<ArgumentException>(() => SparseClause.Tokens(new Dictionary<string, float> { ["a"] = float.PositiveInfinity }));
        Assert.Throws<ArgumentException>(() => SparseClause.TermIds([1, 2], [0.5f, -1f]));
        Assert.Throws<ArgumentException>(() => SparseClause.TermIds([1, 2], [0.5f, float.NaN]));
        var repeated = Assert.Throws<ArgumentException>(() => SparseClause.TermIds([4, 7, 4], [0.5f, 1f, 2f]));
        Assert.Contains("Term id 4 occurs more than once", repeated.Message, StringComparison.Ordinal);
        int[] tooMany = [.. Enumerable.Range(0, ShoalLimits.MaxSparseTerms + 1)];
        float[] ones = [.. tooMany.Select(_ => 1f)];
        Assert.Throws<ArgumentException>(() => SparseClause.TermIds(tooMany, ones));
        Assert.Throws<ArgumentException>(() => SparseClause.Tokens(tooMany.ToDictionary(i => $"t{i}", _ => 1f)));
        Assert.Throws<ArgumentOutOfRangeException>(() => SparseSearch.Approximate(queryTermCut: ShoalLimits.MaxQueryTermCut + 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => SparseSearch.Approximate(queryTermCut: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => SparseSearch.Approximate(heapFactor: 1000.5));
        Assert.Throws<ArgumentOutOfRangeException>(() => SparseSearch.Approximate(heapFactor: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => SparseSearch.Approximate(heapFactor: double.NaN));
        Assert.Throws<ArgumentOutOfRangeException>(() => SparseSearch.Approximate(heapFactor: double.PositiveInfinity));
        Assert.Throws<ArgumentException>(() => ShoalQuery.Text(new string('a', ShoalLimits.MaxTextLength + 1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => ShoalQuery.Text("x") with { DeadlineMs = ShoalLimits.MaxDeadlineMs + 1 });
        Assert.Throws<ArgumentOutOfRangeException>(() => Fusion.Rrf(rankConstant: ShoalLimits.MaxRankConstant + 1));
        // The limits themselves and zero weights (which the gateway drops) pass.
        int[] most = [.. Enumerable.Range(0, ShoalLimits.MaxSparseTerms)];
        Assert.Equal(ShoalLimits.MaxSparseTerms, SparseClause.TermIds(most, [.. most.Select(_ => 0f)]).Query.TermIds!.Count);
        Assert.Equal(ShoalLimits.MaxSparseTerms, SparseClause.Tokens(most.ToDictionary(i => $"t{i}", _ => 1f)).Query.Vector!.Count);
        var edges = SparseSearch.Approximate(queryTermCut: ShoalLimits.MaxQueryTermCut, heapFactor: ShoalLimits.MaxHeapFactor);
        Assert.Equal((ShoalLimits.MaxQueryTermCut, ShoalLimits.MaxHeapFactor), (edges.QueryTermCut, edges.HeapFactor));
        Assert.Equal(ShoalLimits.MaxTextLength, ShoalQuery.Text(new string('a', ShoalLimits.MaxTextLength)).Query.Length);

        // The shapes that cannot be written: no public constructors, no one-clause hybrid.
        foreach (var type in new[] { typeof(HybridQuery), typeof(ChannelQuery), typeof(TextQuery), typeof(SparseClause), typeof(DenseClause), typeof(Bm25Clause), typeof(Fusion), typeof(SparseSearch), typeof(DenseSearch) })
            Assert.Empty(type.GetConstructors());
        Assert.All(typeof(ShoalQuery).GetMethods().Where(m => m.Name == nameof(ShoalQuery.Hybrid)), m => Assert.True(m.GetParameters().Length >= 2));
    }

    [Fact]
    public void The_builders_limits_are_the_gateways()
    {
        // The SDK cannot reference the server's assemblies, so ShoalLimits mirrors them; this fails
        // when either side changes a limit alone.
        Assert.Equal(ShoalLimits.MaxSparseTerms, Shoal.Grains.Query.SearchCoordinator.MaxSparseTerms);
        Assert.Equal(ShoalLimits.MaxQueryTermCut, Shoal.Grains.Query.SearchCoordinator.MaxQueryTermCut);
        Assert.Equal(ShoalLimits.MaxHeapFactor, Shoal.Grains.Query.SearchCoordinator.MaxHeapFactor);
        Assert.Equal(ShoalLimits.MaxRankConstant, Shoal.Grains.Query.SearchCoordinator.MaxRankConstant);
        Assert.Equal(ShoalLimits.MaxTextLength, Shoal.Grains.Query.SearchCoordinator.MaxTextLength);
        Assert.Equal(ShoalLimits.MaxDeadlineMs, Shoal.Grains.Query.SearchCoordinator.MaxDeadline.TotalMilliseconds);
        Assert.Equal(ShoalLimits.MaxK, new Shoal.Grains.Hosting.ShoalOptions().MaxK);
    }
}
