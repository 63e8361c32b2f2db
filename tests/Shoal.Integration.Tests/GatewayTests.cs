using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Shoal.Client;
using Shoal.Gateway;

namespace Shoal.Integration.Tests;

/// <summary>The embedded default (silo + HTTP API in one process) on a real loopback port.</summary>
public sealed class GatewayFixture : IAsyncLifetime
{
    private readonly string _data = Directory.CreateTempSubdirectory("shoal-gw-").FullName;
    private WebApplication _app = null!;

    public HttpClient Http { get; private set; } = null!;

    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>The gateway's (and its silo's) services.</summary>
    public IServiceProvider Services => _app.Services;

    public async Task InitializeAsync()
    {
        _app = GatewayHost.Build([
            "--urls", "http://127.0.0.1:0",
            "--DataDirectory", _data,
            "--Corpus", Paths.SamplePassages,
            "--Index", "sample",
            "--Shards", "3",
            "--SiloPort", "0",
            "--GatewayPort", "0",
            // Tests write sources to temporary directories: those, the shared data and the samples are the data roots.
            "--Shoal:DataRoots:0", Path.GetTempPath(),
            "--Shoal:DataRoots:1", Path.GetFullPath(Path.Combine(Paths.RepoRoot, "..", "shared", "data")),
            "--Shoal:DataRoots:2", Path.GetDirectoryName(Paths.SamplePassages)!,
            "--Bm25Only", "true", // these tests are about BM25; HybridGatewayTests covers the default dense channel
        ]);
        await _app.StartAsync();
        var address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        BaseAddress = new Uri(address.EndsWith('/') ? address : address + "/");
        Http = new HttpClient { BaseAddress = BaseAddress };
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while (true)
        {
            using var ready = await Http.GetAsync("health/ready");
            if (ready.IsSuccessStatusCode) break;
            if (DateTime.UtcNow > deadline) throw new TimeoutException("gateway not ready: " + await ready.Content.ReadAsStringAsync());
            await Task.Delay(100);
        }
    }

    public async Task DisposeAsync()
    {
        Http.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        TempDirectory.Delete(_data);
    }
}

public sealed class GatewayTests(GatewayFixture fixture) : IClassFixture<GatewayFixture>
{
    private Task<HttpResponseMessage> PostJson(string path, string json) =>
        fixture.Http.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));

    [Fact]
    public async Task Search_over_http_returns_ranked_hits_with_snippets_and_coverage()
    {
        using var response = await PostJson("v1/indexes/sample/search", """{"text": "how does BM25 normalise document length?", "k": 3}""");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        var hits = body.GetProperty("hits");
        Assert.Equal(3, hits.GetArrayLength());
        Assert.Equal("s02", hits[0].GetProperty("id").GetString());
        Assert.Equal("BM25 ranking", hits[0].GetProperty("title").GetString());
        Assert.Contains("inverse document frequency", hits[0].GetProperty("snippet").GetString());
        Assert.True(hits[0].GetProperty("score").GetSingle() >= hits[1].GetProperty("score").GetSingle());
        var coverage = body.GetProperty("coverage");
        Assert.Equal(3, coverage.GetProperty("shards").GetInt32());
        Assert.Equal(3, coverage.GetProperty("answered").GetInt32());
        Assert.False(coverage.GetProperty("partial").GetBoolean());
        Assert.True(body.GetProperty("tookMs").GetDouble() > 0);
    }

    [Fact]
    public async Task Embedded_gateway_runs_searches_on_its_own_silo_and_answers_as_a_coordinator_grain_does()
    {
        var router = fixture.Services.GetRequiredService<SearchRouter>();
        Assert.True(router.Local, "an embedded gateway has a silo in its process");
        var grains = fixture.Services.GetRequiredService<Orleans.IGrainFactory>();
        string[] texts = ["how does BM25 normalise document length?", "wind turbines and electricity", "coffee"];
        long before = router.LocalSearches;
        foreach (var text in texts)
        {
            using var response = await PostJson("v1/indexes/sample/search", JsonSerializer.Serialize(new { text, k = 5 }));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
            string[] ids = [.. body.GetProperty("hits").EnumerateArray().Select(h => h.GetProperty("id").GetString()!)];
            var viaGrain = await grains.GetGrain<Shoal.Grains.Contracts.IQueryCoordinatorGrain>(0)
                .SearchAsync(new Shoal.Grains.Contracts.SearchRequest { Index = "sample", Text = text, K = 5 });
            Assert.NotEmpty(ids);
            Assert.Equal(viaGrain.Hits.Select(h => h.Id), ids);
            Assert.Equal(viaGrain.Version, body.GetProperty("version").GetInt64());
        }
        Assert.True(router.LocalSearches - before >= texts.Length, $"{router.LocalSearches - before} of {texts.Length} HTTP searches ran on the gateway's silo");
    }

    [Theory]
    [InlineData("""{"text": "", "k": 10}""", "'text'")]
    [InlineData("""{"text": "   ", "k": 10}""", "'text'")]
    [InlineData("""{"k": 10}""", "Give 'text', or a channel query")]
    [InlineData("""{"text": "coffee", "k": 0}""", "'k' must be between 1 and 1000")]
    [InlineData("""{"text": "coffee", "k": -5}""", "'k' must be between 1 and 1000")]
    [InlineData("""{"text": "coffee", "k": 100000}""", "'k' must be between 1 and 1000")]
    [InlineData("""{"text": "coffee", "deadlineMs": 0}""", "'deadlineMs'")]
    [InlineData("""{"text": "coffee", "k": "ten"}""", "not valid JSON")]
    [InlineData("""{"text": "coffee" """, "not valid JSON")]
    [InlineData("""[1, 2]""", "not valid JSON")]
    [InlineData("", "not valid JSON")]
    public async Task Bad_searches_get_400_saying_what_is_wrong(string body, string expected)
    {
        using var response = await PostJson("v1/indexes/sample/search", body);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Contains(expected, problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task Unknown_index_is_404_and_invalid_index_name_is_400()
    {
        using var missing = await PostJson("v1/indexes/no-such-index/search", """{"text": "coffee"}""");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Contains("no-such-index", await missing.Content.ReadAsStringAsync());

        using var invalid = await PostJson("v1/indexes/Bad%20Name/search", """{"text": "coffee"}""");
        Assert.Equal(HttpStatusCode.BadRequest, invalid.StatusCode);

        using var info = await fixture.Http.GetAsync("v1/indexes/no-such-index");
        Assert.Equal(HttpStatusCode.NotFound, info.StatusCode);
    }

    [Fact]
    public async Task Ingest_with_a_missing_file_is_400_and_the_sdk_surfaces_it()
    {
        using var client = new ShoalClient(fixture.Http);
        // Inside a data root (the fixture's include the temp directory): the answer says the file is missing.
        var e = await Assert.ThrowsAsync<ShoalApiException>(() => client.StartIngestAsync("other", new IngestOptions(Path.Combine(Path.GetTempPath(), "shoal-nonexistent", "corpus.jsonl"))));
        Assert.Equal(HttpStatusCode.BadRequest, e.StatusCode);
        Assert.Contains("does not exist", e.Detail);
        // Outside every data root: refused without saying whether it exists.
        e = await Assert.ThrowsAsync<ShoalApiException>(() => client.StartIngestAsync("other", new IngestOptions("/nonexistent/corpus.jsonl")));
        Assert.Equal(HttpStatusCode.BadRequest, e.StatusCode);
        Assert.Contains("not an allowed source", e.Detail);
    }

    [Fact]
    public async Task Sdk_lists_describes_builds_and_searches()
    {
        using var client = new ShoalClient(fixture.BaseAddress);
        Assert.Contains("sample", await client.ListIndexesAsync());
        var info = await client.GetIndexAsync("sample");
        Assert.NotNull(info);
        Assert.Equal(40, info.DocCount);
        Assert.Equal(3, info.ShardCount);
        Assert.Null(await client.GetIndexAsync("absent"));

        // A second index built through the API, then searched with the SDK.
        string tsv = Path.Combine(Path.GetTempPath(), $"shoal-{Guid.NewGuid():N}.tsv");
        await File.WriteAllLinesAsync(tsv, ["t1\tthe quick brown fox jumps", "t2\tlazy dogs sleep all day", "t3\tfoxes are quick and clever"]);
        try
        {
            await client.StartIngestAsync("animals", new IngestOptions(tsv, Shards: 2));
            var done = await client.WaitForIngestAsync("animals", pollInterval: TimeSpan.FromMilliseconds(50));
            Assert.Equal("succeeded", done.State);
            var results = await client.SearchAsync("animals", new SearchQuery("quick fox", K: 5));
            Assert.Equal(["t1", "t3"], results.Hits.Select(h => h.Id).Order().ToArray());
            Assert.False(results.Coverage.Partial);

            var e = await Assert.ThrowsAsync<ShoalApiException>(() => client.SearchAsync("animals", new SearchQuery("fox", K: 0)));
            Assert.Equal(HttpStatusCode.BadRequest, e.StatusCode);
        }
        finally
        {
            File.Delete(tsv);
        }
    }

    [Fact]
    public async Task Stopword_only_query_is_answered_with_no_hits()
    {
        using var client = new ShoalClient(fixture.Http);
        var results = await client.SearchAsync("sample", new SearchQuery("the of and"));
        Assert.Empty(results.Hits);
        Assert.False(results.Coverage.Partial);
    }

    [Fact]
    public async Task Loadtest_reports_throughput_and_percentiles_in_both_loops()
    {
        var topics = new[] { "coffee roasting", "how do vaccines work", "wind power", "black holes and light", "sharding a search index" }
            .Select((t, i) => new Shoal.Evaluation.Topic($"q{i}", t)).ToList();
        using var client = new ShoalClient(fixture.Http, maxRetries: 0);

        var closed = await Shoal.Cli.Commands.LoadTestCommand.RunAsync(client,
            new("sample", topics, 10, Clients: 4, Rate: null, DurationSeconds: 2, WarmupSeconds: 0.5, MaxRequests: 100_000, DeadlineMs: null), CancellationToken.None);
        Assert.True(closed.Ok > 20, $"only {closed.Ok} requests");
        Assert.Equal(0, closed.Errors);
        Assert.Equal(0, closed.Partial);
        Assert.True(closed.LatenciesMs[0] <= closed.LatenciesMs[^1]);

        var open = await Shoal.Cli.Commands.LoadTestCommand.RunAsync(client,
            new("sample", topics, 10, Clients: 1, Rate: 50, DurationSeconds: 2, WarmupSeconds: 0, MaxRequests: 60, DeadlineMs: null), CancellationToken.None);
        Assert.Equal(60, open.Ok + open.Errors); // bounded by --max-requests
        Assert.Equal(0, open.Errors);
    }

    [Fact]
    public async Task Vector_channels_and_hybrid_search_over_http_and_the_sdk()
    {
        string dir = Directory.CreateTempSubdirectory("shoal-gw-vectors-").FullName;
        try
        {
            string corpus = Path.Combine(dir, "c.jsonl"), sparse = Path.Combine(dir, "s.jsonl"), dense = Path.Combine(dir, "d.jsonl");
            await File.WriteAllLinesAsync(corpus,
            [
                """{"_id": "p1", "title": "Apples", "text": "apples grow on trees in orchards"}""",
                """{"_id": "p2", "title": "Bananas", "text": "bananas grow in tropical plantations"}""",
                """{"_id": "p3", "title": "Cherries", "text": "cherries are small stone fruit"}""",
            ]);
            await File.WriteAllLinesAsync(sparse,
            [
                """{"id": "p1", "vector": {"apple": 2.5, "tree": 1.0}}""",
                """{"id": "p2", "vector": {"banana": 2.0, "tropical": 1.5}}""",
                """{"id": "p3", "vector": {"cherry": 2.2, "fruit": 0.7}}""",
            ]);
            await File.WriteAllLinesAsync(dense,
            [
                """{"id": "p1", "vector": [1.0, 0.0, 0.0]}""",
                """{"id": "p2", "vector": [0.0, 1.0, 0.0]}""",
                """{"id": "p3", "vector": [0.0, 0.0, 1.0]}""",
            ]);
            using var client = new ShoalClient(fixture.Http);
            await client.StartIngestAsync("fruit", new IngestOptions(corpus, Shards: 2) { SparseVectors = sparse, DenseVectors = dense, DenseMetric = "cosine" });
            Assert.Equal("succeeded", (await client.WaitForIngestAsync("fruit", pollInterval: TimeSpan.FromMilliseconds(50))).State);
            var info = await client.GetIndexAsync("fruit");
            Assert.Equal(["bm25", "sparse", "dense"], info!.Channels!.Select(c => c.Name));
            Assert.Equal(3, info.Channels![2].Dims);
            Assert.Equal("cosine", info.Channels![2].Metric);

            // Each channel alone, through the SDK.
            var bySparse = await client.SearchAsync("fruit", new SearchQuery { Sparse = SparseQuery.FromTokens(new Dictionary<string, float> { ["banana"] = 1f }) });
            Assert.Equal("p2", bySparse.Hits[0].Id);
            Assert.Equal(["sparse"], bySparse.Channels);
            Assert.Equal("bananas grow in tropical plantations", bySparse.Hits[0].Snippet);
            var byDense = await client.SearchAsync("fruit", new SearchQuery { Dense = new DenseQuery([0.1f, 0.2f, 3f], Exact: true) });
            Assert.Equal("p3", byDense.Hits[0].Id);
            Assert.Equal("Cherries", byDense.Hits[0].Title);

            // All three fused: text to bm25, with vectors for the others.
            var hybrid = await client.SearchAsync("fruit", new SearchQuery("apples orchards", K: 3)
            {
                Sparse = SparseQuery.FromTokens(new Dictionary<string, float> { ["apple"] = 1f }),
                Dense = new DenseQuery([1f, 0.1f, 0f]),
            });
            Assert.Equal(["bm25", "sparse", "dense"], hybrid.Channels);
            Assert.Equal("p1", hybrid.Hits[0].Id);
            Assert.Equal("Apples", hybrid.Hits[0].Title);
            Assert.Equal((float)(3.0 / 61), hybrid.Hits[0].Score, 1e-6f);

            // Bad vectors and misspelt fields are 400s that say what is wrong.
            foreach (var (body, expected) in new[]
            {
                ("""{"sparse": {"vector": {"notatoken-xyz": 1.0}}}""", "not in the vocabulary"),
                ("""{"sparse": {"vector": {"apple": -2}}}""", "apple"),
                ("""{"sparse": {"vectr": {"apple": 1}}}""", "vectr"),
                ("""{"dense": {"vector": [1, 2]}}""", "2 dimensions"),
                ("""{"dense": {"vector": [0, 0, 0]}}""", "all zeros"),
                ("""{"dense": {"vector": ["x", 1, 2]}}""", "not valid JSON"),
                ("""{"dense": {"vector": [1e39, 0, 0]}}""", "non-finite value at dimension 0"),
                ("""{"text": "apples", "channels": ["dense"]}""", "no encoder"),
                ("""{"text": "apples", "channels": ["colbert"]}""", "Unknown channel 'colbert'"),
                ("""{"text": "apples", "sparse": {"k": 5}}""", "'sparse' has no query"),
                ("""{"text": "apples", "fusion": {"method": "max"}}""", "'fusion.method'"),
            })
            {
                using var response = await PostJson("v1/indexes/fruit/search", body);
                string detail = await response.Content.ReadAsStringAsync();
                Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{body}: {response.StatusCode} {detail}");
                Assert.Contains(expected, JsonDocument.Parse(detail).RootElement.GetProperty("detail").GetString());
            }

            // Vectors for an index without that channel.
            using var noDense = await PostJson("v1/indexes/sample/search", """{"dense": {"vector": [1, 0, 0]}}""");
            Assert.Equal(HttpStatusCode.BadRequest, noDense.StatusCode);
            Assert.Contains("has no dense channel", await noDense.Content.ReadAsStringAsync());
        }
        finally
        {
            TempDirectory.Delete(dir);
        }
    }

    [Fact]
    public async Task Health_endpoints_answer()
    {
        Assert.Equal(HttpStatusCode.OK, (await fixture.Http.GetAsync("health/live")).StatusCode);
        var ready = await fixture.Http.GetFromJsonAsync<JsonElement>("health/ready");
        Assert.Contains("sample", ready.GetProperty("detail").GetString());
    }
}
