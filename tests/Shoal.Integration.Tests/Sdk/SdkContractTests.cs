using System.Collections;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Patterns;
using Shoal.Client;
using Shoal.Gateway;
using Shoal.Gateway.WebConsole;
using Shoal.Grains.Contracts;
using Shoal.Grains.Jobs;
using Shoal.Grains.Placement;
using Shoal.Grains.Status;

namespace Shoal.Integration.Tests.Sdk;

/// <summary>
/// Fails when the HTTP API and the SDK drift apart: the JSON contracts of the gateway's request
/// and response types (as its serializer options see them) against the SDK's source-generated
/// contracts, field by field (name and kind, recursively), and the gateway's routes against the
/// requests the SDK's methods send.
/// </summary>
public sealed class SdkContractTests
{
    /// <summary>The gateway's options (naming, converters, strict members) with the reflection resolver it uses at run time.</summary>
    private static readonly JsonSerializerOptions Gateway = new(ShoalApi.Json) { TypeInfoResolver = new DefaultJsonTypeInfoResolver() };
    private static readonly JsonSerializerOptions Sdk = ShoalJsonContext.Default.Options;

    /// <summary>Bodies the SDK sends (SDK type → gateway type).</summary>
    private static readonly (Type Sdk, Type Gateway)[] Requests =
    [
        (typeof(SearchQuery), typeof(SearchBody)),
        (typeof(Bm25Query), typeof(Bm25Body)),
        (typeof(SparseQuery), typeof(SparseBody)),
        (typeof(DenseQuery), typeof(DenseBody)),
        (typeof(FusionOptions), typeof(FusionBody)),
        (typeof(IngestOptions), typeof(IngestBody)),
        (typeof(JobSubmission), typeof(JobBody)),
        (typeof(UpdateBody), typeof(DocumentsBody)),
        (typeof(DocumentInput), typeof(DocumentBody)),
    ];

    /// <summary>Answers the SDK reads (gateway type → SDK type).</summary>
    private static readonly (Type Gateway, Type Sdk)[] Responses =
    [
        (typeof(SearchResult), typeof(SearchResults)),
        (typeof(HitDto), typeof(SearchHit)),
        (typeof(Coverage), typeof(SearchCoverage)),
        (typeof(IndexList), typeof(IndexListResponse)),
        (typeof(IndexInfo), typeof(IndexDescription)),
        (typeof(ChannelInfo), typeof(ChannelDescription)),
        (typeof(UpdateInfo), typeof(IndexUpdates)),
        (typeof(IngestStatus), typeof(IngestProgress)),
        (typeof(JobList), typeof(JobListResponse)),
        (typeof(IndexJobStatus), typeof(JobProgress)),
        (typeof(IndexJobRequest), typeof(JobSubmission)),
        (typeof(IndexJobSourceStatus), typeof(JobSourceProgress)),
        (typeof(MalformedLineInfo), typeof(JobMalformedLine)),
        (typeof(UpdateResult), typeof(UpdateOutcome)),
        (typeof(IndexPlacement), typeof(PlacementDescription)),
        (typeof(ShardReplicaLocation), typeof(ReplicaLocation)),
        (typeof(ClusterStatus), typeof(ClusterDescription)),
        (typeof(Shoal.Gateway.WebConsole.SiloStatus), typeof(SiloDescription)), // not Orleans.Runtime.SiloStatus
        (typeof(IndexStatus), typeof(ClusterIndexDescription)),
        (typeof(ShardReplicaStatus), typeof(ShardReplicaDescription)),
        (typeof(EncoderPoolStatus), typeof(EncoderPoolDescription)),
        (typeof(IndexVersionList), typeof(IndexVersionListResponse)),
        (typeof(IndexVersionSummary), typeof(IndexVersionDescription)),
    ];

    /// <summary>
    /// Routes that are by design not SDK methods, as exact "METHOD pattern" strings (a new route,
    /// even under one of these prefixes, still needs an SDK method or an entry here).
    /// </summary>
    private static readonly HashSet<string> NotSdkRoutes = new(StringComparer.Ordinal)
    {
        // Prometheus text exposition for scrapers, not JSON.
        "GET /metrics",
        // The OpenAPI document itself: for tools that generate clients, not a call a client makes.
        "GET /openapi/{documentName}.json",
        // The web console's static files (HTML, JavaScript, CSS) for browsers.
        "GET /ui/{**path}",
        // The Scalar API reference page and its assets, for people reading the API.
        "GET /scalar/{documentName?}",
        "GET /scalar/scalar.js",
        "GET /scalar/scalar.aspnetcore.js",
        "GET /scalar/favicon.svg",
    };

    /// <summary>
    /// Fields on one side only by design, each with its reason; anything else on one side only fails.
    /// </summary>
    private static readonly HashSet<string> OneSidedByDesign = new(StringComparer.Ordinal)
    {
        // The SDK reads a job's submitted request into JobSubmission, whose optional Id is the
        // job's own id: the gateway reports it once, as the status's id, not inside the request.
        "IndexJobRequest → JobSubmission: the SDK reads 'id'",
    };

    [Fact]
    public void Every_request_field_the_sdk_writes_is_read_by_the_gateway_and_every_gateway_field_can_be_sent()
    {
        var problems = new List<string>();
        foreach (var (sdk, gateway) in Requests)
            Compare(TypeInfo(Sdk, sdk), TypeInfo(Gateway, gateway), writer: "SDK", reader: "gateway", problems);
        Assert.True(problems.Count == 0, "The SDK's request types and the gateway's differ:\n" + string.Join("\n", problems));
    }

    [Fact]
    public void Every_response_field_the_gateway_writes_is_read_by_the_sdk_and_every_sdk_field_is_sent()
    {
        var problems = new List<string>();
        foreach (var (gateway, sdk) in Responses)
            Compare(TypeInfo(Gateway, gateway), TypeInfo(Sdk, sdk), writer: "gateway", reader: "SDK", problems);
        Assert.True(problems.Count == 0, "The gateway's response types and the SDK's differ:\n" + string.Join("\n", problems));
    }

    /// <summary>The comparison is not vacuous: a field on one side only, or of another kind, is reported.</summary>
    [Fact]
    public void A_field_added_on_one_side_only_or_changed_in_kind_is_reported()
    {
        var problems = new List<string>();
        Compare(TypeInfo(Sdk, typeof(SearchHit)), TypeInfo(Gateway, typeof(DriftedHit)), writer: "SDK", reader: "gateway", problems);
        Assert.Contains(problems, p => p.Contains("'snippet'", StringComparison.Ordinal) && p.Contains("gateway has no such field", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("'rank'", StringComparison.Ordinal) && p.Contains("SDK has no such field", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains(".score:", StringComparison.Ordinal) && p.Contains("number", StringComparison.Ordinal) && p.Contains("string", StringComparison.Ordinal));
        Assert.Equal(3, problems.Count);
    }

    /// <summary>Every route of the gateway is called by some SDK method, and every SDK request goes to a route the gateway has.</summary>
    [Fact]
    public async Task Every_gateway_route_has_an_sdk_method()
    {
        string data = Directory.CreateTempSubdirectory("shoal-contract-").FullName;
        var app = GatewayHost.Build(["--urls", "http://127.0.0.1:0", "--DataDirectory", data, "--Index", "", "--SiloPort", "0", "--GatewayPort", "0"]);
        List<(string Method, string Pattern, Regex Match)> routes;
        try
        {
            routes = [.. ((IEndpointRouteBuilder)app).DataSources.SelectMany(s => s.Endpoints).OfType<RouteEndpoint>()
                .SelectMany(e => (e.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? ["GET"]).Select(m => (m, e.RoutePattern.RawText!, ToRegex(e.RoutePattern))))];
        }
        finally
        {
            await app.DisposeAsync();
            TempDirectory.Delete(data);
        }
        Assert.True(routes.Count >= 14, $"only {routes.Count} routes found");

        using var recorder = new RecordingHandler();
        using var http = new HttpClient(recorder, disposeHandler: false) { BaseAddress = new Uri("http://shoal.test/") };
        using var client = new ShoalClient(http, maxRetries: 0);
        await foreach (var _ in client.GetIndexesAsync()) { }
        await client.GetIndexAsync("i");
        await client.SearchAsync("i", new SearchQuery("text"));
        await client.StartIngestAsync("i", new IngestOptions("corpus.jsonl"));
        await client.GetIngestAsync("i");
        await client.UpsertAsync("i", [new DocumentInput("d1") { Text = "t" }]);
        await client.DeleteAsync("i", "d1");
        await client.MergeAsync("i");
        await client.SubmitJobAsync(new JobSubmission("i", "corpus.jsonl"));
        await client.ListJobsAsync();
        await client.GetJobAsync("j");
        await client.CancelJobAsync("j");
        await client.IsLiveAsync();
        await client.IsReadyAsync();
        await client.GetClusterAsync();
        await client.ListVersionsAsync("i");
        var deleted = await client.DeleteIndexAsync("i");
        Assert.Equal([1L], deleted!.RemovedVersions);
        Assert.Equal(2, deleted.ShardReplicasDropped);

        var unmatched = recorder.Requests.Where(r => !routes.Any(route => route.Method == r.Method && route.Match.IsMatch(r.Path))).ToList();
        Assert.True(unmatched.Count == 0, "The SDK sends requests the gateway has no route for: " + string.Join(", ", unmatched));
        // The exclusions name routes the gateway has: one that is gone must leave the list.
        var stale = NotSdkRoutes.Where(n => !routes.Any(route => $"{route.Method} {route.Pattern}" == n)).ToList();
        Assert.True(stale.Count == 0, "Routes excluded from the SDK that the gateway no longer has: " + string.Join(", ", stale));
        var uncovered = routes.Where(route => !recorder.Requests.Any(r => route.Method == r.Method && route.Match.IsMatch(r.Path)))
            .Select(r => $"{r.Method} {r.Pattern}").Where(r => !NotSdkRoutes.Contains(r)).ToList();
        Assert.True(uncovered.Count == 0, "Gateway routes no SDK method calls: " + string.Join(", ", uncovered));
    }

    private static Regex ToRegex(RoutePattern pattern) =>
        new("^/" + string.Join("/", pattern.PathSegments.Select(s => string.Concat(s.Parts.Select(p => p switch
        {
            RoutePatternLiteralPart literal => Regex.Escape(literal.Content),
            RoutePatternParameterPart => "[^/]+",
            _ => ".*",
        })))) + "$", RegexOptions.CultureInvariant);

    private static JsonTypeInfo TypeInfo(JsonSerializerOptions options, Type type) =>
        options.GetTypeInfo(type);

    /// <summary>
    /// What <paramref name="writerInfo"/> writes must be read by <paramref name="readerInfo"/>, and
    /// what the reader can take must be written: field names (JSON, after naming policies) on both
    /// sides, of one kind, with nested objects compared the same way.
    /// </summary>
    private static void Compare(JsonTypeInfo writerInfo, JsonTypeInfo readerInfo, string writer, string reader, List<string> problems, string path = "")
    {
        string where = path.Length == 0 ? $"{writerInfo.Type.Name} → {readerInfo.Type.Name}" : path;
        var written = writerInfo.Properties.Where(p => p.Get is not null).ToDictionary(p => p.Name, StringComparer.OrdinalIgnoreCase);
        var readable = readerInfo.Properties.Where(p => p.Set is not null || IsCtorParameter(readerInfo, p)).ToDictionary(p => p.Name, StringComparer.OrdinalIgnoreCase);
        var all = readerInfo.Properties.ToDictionary(p => p.Name, StringComparer.OrdinalIgnoreCase);
        foreach (var (name, property) in written)
        {
            if (!all.TryGetValue(name, out var other))
            {
                problems.Add($"{where}: the {writer} writes '{name}' but the {reader} has no such field");
                continue;
            }
            CompareKinds(property.PropertyType, other.PropertyType, writerInfo.Options, readerInfo.Options, writer, reader, problems, $"{where}.{name}");
        }
        foreach (var name in readable.Keys)
            if (!written.ContainsKey(name) && !OneSidedByDesign.Contains($"{writerInfo.Type.Name} → {readerInfo.Type.Name}: the {reader} reads '{name}'"))
                problems.Add($"{where}: the {reader} reads '{name}' but the {writer} has no such field");
    }

    private static bool IsCtorParameter(JsonTypeInfo info, JsonPropertyInfo property) =>
        info.Type.GetConstructors().Any(c => c.GetParameters().Any(p => string.Equals(p.Name, property.Name, StringComparison.OrdinalIgnoreCase)));

    private static void CompareKinds(Type writerType, Type readerType, JsonSerializerOptions writerOptions, JsonSerializerOptions readerOptions,
        string writer, string reader, List<string> problems, string path)
    {
        var (wk, we) = Kind(writerType);
        var (rk, re) = Kind(readerType);
        if (wk != rk)
        {
            problems.Add($"{path}: the {writer} writes a {wk} ({writerType.Name}) but the {reader} reads a {rk} ({readerType.Name})");
            return;
        }
        if (wk is "array" or "map") CompareKinds(we!, re!, writerOptions, readerOptions, writer, reader, problems, path + "[]");
        else if (wk == "object") Compare(writerOptions.GetTypeInfo(writerType), readerOptions.GetTypeInfo(readerType), writer, reader, problems, path);
    }

    /// <summary>The JSON kind of a CLR type (with the element type of arrays and maps).</summary>
    private static (string Kind, Type? Element) Kind(Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (type == typeof(string) || type.IsEnum) return ("string", null); // enums are written as names (JsonStringEnumConverter)
        if (type == typeof(bool)) return ("boolean", null);
        if (type == typeof(DateTimeOffset) || type == typeof(DateTime)) return ("date", null);
        if (type == typeof(Guid) || type == typeof(TimeSpan)) return ("string", null);
        if (type.IsPrimitive || type == typeof(decimal)) return ("number", null);
        var dictionary = type.GetInterfaces().Append(type).FirstOrDefault(i => i.IsGenericType &&
            (i.GetGenericTypeDefinition() == typeof(IDictionary<,>) || i.GetGenericTypeDefinition() == typeof(IReadOnlyDictionary<,>)));
        if (dictionary is not null) return ("map", dictionary.GetGenericArguments()[1]);
        if (type.IsArray) return ("array", type.GetElementType());
        var enumerable = type.GetInterfaces().Append(type).FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IEnumerable<>));
        if (enumerable is not null) return ("array", enumerable.GetGenericArguments()[0]);
        if (typeof(IEnumerable).IsAssignableFrom(type)) return ("array", typeof(object));
        return ("object", null);
    }

    /// <summary>A gateway-side hit that drifted: no snippet, a new rank, a score as text (its per-channel ranks as the real one).</summary>
    private sealed record DriftedHit(string Id, string Score, string? Title, int Rank, IReadOnlyList<int>? Ranks);

    private sealed class RecordingHandler : HttpMessageHandler
    {
        public List<(string Method, string Path)> Requests { get; } = [];

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            string path = request.RequestUri!.AbsolutePath;
            Requests.Add((request.Method.Method, path));
            string body = path switch
            {
                "/v1/indexes" => """{"indexes": ["i"]}""",
                "/v1/indexes/i" when request.Method == HttpMethod.Delete => """{"index": "i", "removedVersions": [1], "removedObjects": 5, "shardReplicasDropped": 2, "warnings": []}""",
                "/v1/cluster" => """{"takenUtc": "2026-01-01T00:00:00Z", "silos": [], "indexes": [], "encoderPools": [], "jobs": []}""",
                _ when path.EndsWith("/versions", StringComparison.Ordinal) => """{"index": "i", "versions": []}""",
                "/v1/jobs" when request.Method == HttpMethod.Get => """{"jobs": []}""",
                _ when path.StartsWith("/v1/jobs", StringComparison.Ordinal) => """{"id": "j", "state": "running", "phase": "reading", "malformedLines": [], "createdUtc": "2026-01-01T00:00:00Z", "silo": "s"}""",
                _ when path.EndsWith("/search", StringComparison.Ordinal) => """{"index": "i", "version": 1, "hits": [], "coverage": {"shards": 1, "answered": 1, "partial": false}, "tookMs": 1}""",
                _ when path.EndsWith("/ingest", StringComparison.Ordinal) || path.EndsWith("/merge", StringComparison.Ordinal) => """{"state": "running", "documentsRead": 0}""",
                _ when path.Contains("/documents", StringComparison.Ordinal) => """{"index": "i", "version": 1, "upserted": 1, "deleted": 0, "pendingOperations": 1}""",
                _ when path.StartsWith("/health", StringComparison.Ordinal) => """{"status": "ready"}""",
                _ => """{"name": "i", "version": 1, "shardCount": 1, "docCount": 1, "analyzer": "english", "k1": 0.9, "b": 0.4, "createdUtc": "2026-01-01T00:00:00Z"}""",
            };
            return Task.FromResult(new HttpResponseMessage(System.Net.HttpStatusCode.OK)
            {
                Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json"),
            });
        }
    }
}
