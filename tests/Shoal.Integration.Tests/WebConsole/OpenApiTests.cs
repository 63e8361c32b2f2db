using System.Net;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Shoal.Client;
using Shoal.Gateway.OpenApi;

namespace Shoal.Integration.Tests.WebConsole;

/// <summary>The OpenAPI document describes every mapped endpoint, and the SDK's wire types agree with it.</summary>
[Collection(ConsoleCollection.Name)]
public sealed class OpenApiTests(ConsoleCluster cluster)
{
    /// <summary>Paths served for people and scrapers, not part of the API: left out of the document on purpose.</summary>
    private static readonly string[] NotApi = ["/ui", "/metrics", "/openapi/", "/scalar"];

    private async Task<JsonElement> DocumentAsync()
    {
        using var response = await cluster.Http.GetAsync("openapi/v1.json");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
    }

    [Fact]
    public async Task The_document_covers_every_mapped_endpoint_with_schemas_and_problem_documents()
    {
        var document = await DocumentAsync();
        Assert.StartsWith("3.", document.GetProperty("openapi").GetString(), StringComparison.Ordinal);
        var paths = document.GetProperty("paths");

        var endpoints = cluster.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>().ToList();
        var mapped = new List<string>();
        foreach (var endpoint in endpoints)
        {
            string route = "/" + endpoint.RoutePattern.RawText!.Trim('/');
            bool excluded = endpoint.Metadata.GetMetadata<Microsoft.AspNetCore.Routing.IExcludeFromDescriptionMetadata>()?.ExcludeFromDescription == true;
            var methods = endpoint.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? [];
            if (excluded || methods.Count == 0)
            {
                Assert.True(NotApi.Any(p => route.StartsWith(p, StringComparison.Ordinal)), $"{route} is mapped but left out of the OpenAPI document");
                continue;
            }
            foreach (var method in methods)
            {
                mapped.Add(OpenApiExtensions.KeyOf(method, route));
                Assert.True(paths.TryGetProperty(route, out var path), $"{method} {route} is not in the document");
                Assert.True(path.TryGetProperty(method.ToLowerInvariant(), out _), $"{method} {route} is not in the document");
            }
        }
        // Every API endpoint is declared in the operation table, and the table names no endpoint that is gone.
        Assert.Equal(OpenApiExtensions.Operations.Keys.Order(StringComparer.Ordinal), mapped.Distinct().Order(StringComparer.Ordinal));
        Assert.True(mapped.Count >= 16);

        foreach (var (key, spec) in OpenApiExtensions.Operations)
        {
            var (method, route) = (key[..key.IndexOf(' ')], key[(key.IndexOf(' ') + 1)..]);
            var operation = paths.GetProperty(route).GetProperty(method.ToLowerInvariant());
            var responses = operation.GetProperty("responses");
            var success = responses.GetProperty(spec.Success.ToString(System.Globalization.CultureInfo.InvariantCulture));
            var schema = Resolve(document, success.GetProperty("content").GetProperty("application/json").GetProperty("schema"));
            Assert.True(schema.TryGetProperty("properties", out var props) && props.EnumerateObject().Any(), $"{key}: the success body has no described properties");
            foreach (int status in spec.Problems)
            {
                var problem = Resolve(document, responses.GetProperty(status.ToString(System.Globalization.CultureInfo.InvariantCulture))
                    .GetProperty("content").GetProperty("application/problem+json").GetProperty("schema"));
                foreach (var field in new[] { "type", "title", "status", "detail" })
                    Assert.True(problem.GetProperty("properties").TryGetProperty(field, out _), $"{key} {status}: problem document lacks '{field}'");
            }
            if (spec.Request is not null)
            {
                var body = Resolve(document, operation.GetProperty("requestBody").GetProperty("content").GetProperty("application/json").GetProperty("schema"));
                Assert.True(body.GetProperty("properties").EnumerateObject().Any(), $"{key}: the request body has no described properties");
            }
        }
    }

    /// <summary>The scope each operation needs, as the security model (README) states it.</summary>
    private static string? ExpectedScope(string key) => key switch
    {
        "GET /health/live" or "GET /health/ready" => null,
        "POST /v1/indexes/{name}/ingest" or "POST /v1/jobs" or "POST /v1/jobs/{id}/cancel" or "POST /v1/indexes/{name}/merge" or "DELETE /v1/indexes/{name}" => "admin",
        "POST /v1/indexes/{name}/documents" or "DELETE /v1/indexes/{name}/documents/{id}" => "write",
        _ => "search",
    };

    [Fact]
    public async Task The_document_describes_the_api_key_its_scopes_and_the_rate_limit()
    {
        var document = await DocumentAsync();
        var scheme = document.GetProperty("components").GetProperty("securitySchemes").GetProperty(OpenApiExtensions.SecuritySchemeName);
        Assert.Equal("apiKey", scheme.GetProperty("type").GetString());
        Assert.Equal("header", scheme.GetProperty("in").GetString());
        Assert.Equal("X-Api-Key", scheme.GetProperty("name").GetString());

        var paths = document.GetProperty("paths");
        foreach (var key in OpenApiExtensions.Operations.Keys)
        {
            var (method, route) = (key[..key.IndexOf(' ')], key[(key.IndexOf(' ') + 1)..]);
            var operation = paths.GetProperty(route).GetProperty(method.ToLowerInvariant());
            var responses = operation.GetProperty("responses");
            string? scope = ExpectedScope(key);
            if (scope is null)
            {
                // Anonymous probes: no key, no limit.
                Assert.False(operation.TryGetProperty("security", out _), $"{key} is anonymous but names a security requirement");
                foreach (var status in new[] { "401", "403", "429" })
                    Assert.False(responses.TryGetProperty(status, out _), $"{key} is anonymous but lists {status}");
                continue;
            }
            var requirement = Assert.Single(operation.GetProperty("security").EnumerateArray());
            Assert.True(requirement.TryGetProperty(OpenApiExtensions.SecuritySchemeName, out _), $"{key}: security requirement {requirement}");
            foreach (var status in new[] { "401", "403", "429" })
            {
                Assert.True(responses.TryGetProperty(status, out var response), $"{key} lacks {status}");
                var schema = Resolve(document, response.GetProperty("content").GetProperty("application/problem+json").GetProperty("schema"));
                Assert.True(schema.GetProperty("properties").TryGetProperty("detail", out _), $"{key} {status}: not a problem document");
            }
            Assert.Contains($"'{scope}'", responses.GetProperty("403").GetProperty("description").GetString(), StringComparison.Ordinal);
            Assert.Contains($"'{scope}'", operation.GetProperty("description").GetString(), StringComparison.Ordinal);
            Assert.True(responses.GetProperty("429").GetProperty("headers").TryGetProperty("Retry-After", out _), $"{key}: 429 without Retry-After");
        }
    }

    [Fact]
    public async Task The_reference_page_is_served()
    {
        using var response = await cluster.Http.GetAsync("scalar/v1");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        string html = await response.Content.ReadAsStringAsync();
        Assert.Contains("Shoal API reference", html, StringComparison.Ordinal);
        Assert.Contains("scalar", html, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>What the SDK sends and reads, by operation: (operation, "request" or "response", SDK type).</summary>
    private static readonly (string Operation, string Part, Type SdkType)[] SdkWireTypes =
    [
        ("POST /v1/indexes/{name}/search", "request", typeof(SearchQuery)),
        ("POST /v1/indexes/{name}/search", "response", typeof(SearchResults)),
        ("GET /v1/indexes/{name}", "response", typeof(IndexDescription)),
        ("DELETE /v1/indexes/{name}", "response", typeof(IndexDeletionResult)),
        ("POST /v1/indexes/{name}/ingest", "request", typeof(IngestOptions)),
        ("GET /v1/indexes/{name}/ingest", "response", typeof(IngestProgress)),
        ("POST /v1/indexes/{name}/documents", "response", typeof(UpdateOutcome)),
        ("POST /v1/indexes/{name}/merge", "response", typeof(IngestProgress)),
        ("POST /v1/jobs", "request", typeof(JobSubmission)),
        ("GET /v1/jobs/{id}", "response", typeof(JobProgress)),
        ("POST /v1/indexes/{name}/documents", "request.documents[]", typeof(DocumentInput)),
        ("GET /v1/cluster", "response", typeof(ClusterDescription)),
        ("GET /v1/indexes/{name}/versions", "response", typeof(IndexVersionListResponse)),
    ];

    /// <summary>
    /// Fields the server has and the SDK does not expose yet (path in the document's body). Kept
    /// exact: a field the SDK gains must leave this list, and a new server field must be added to
    /// the SDK or, deliberately, here.
    /// </summary>
    private static readonly string[] KnownSdkGaps =
    [
        // The SDK computes IsFinished from the state instead of reading it (JobProgress reads updatedUtc).
        "GET /v1/jobs/{id} response: isFinished",
        "GET /v1/cluster response: jobs[].isFinished",
    ];

    /// <summary>
    /// SDK properties that are not on the wire on purpose, kept exact like the gaps: the job id it
    /// sends, which the server keeps on the job rather than in the echoed request (in a job's
    /// status, and in the recent jobs of the cluster's status). (The SDK's own
    /// running count of requests, UpdateOutcome.Requests, is [JsonIgnore]: it is not a wire
    /// property, so it is not compared and not listed.)
    /// </summary>
    private static readonly string[] KnownSdkExtras =
    [
        "GET /v1/jobs/{id} response: request.id: JobSubmission.Id is not in the document",
        "GET /v1/cluster response: jobs[].request.id: JobSubmission.Id is not in the document",
    ];

    [Fact]
    public async Task The_sdk_wire_types_and_the_document_do_not_drift()
    {
        var document = await DocumentAsync();
        var errors = new List<string>();
        var gaps = new List<string>();
        foreach (var (operation, part, sdkType) in SdkWireTypes)
        {
            var (method, route) = (operation[..operation.IndexOf(' ')], operation[(operation.IndexOf(' ') + 1)..]);
            var op = document.GetProperty("paths").GetProperty(route).GetProperty(method.ToLowerInvariant());
            string[] steps = part.Split('.');
            JsonElement schema = steps[0] == "request"
                ? op.GetProperty("requestBody").GetProperty("content").GetProperty("application/json").GetProperty("schema")
                : op.GetProperty("responses").EnumerateObject().First(r => r.Name.StartsWith('2')).Value.GetProperty("content").GetProperty("application/json").GetProperty("schema");
            foreach (var step in steps.Skip(1))
            {
                schema = Resolve(document, schema).GetProperty("properties").GetProperty(step.TrimEnd('[', ']'));
                if (step.EndsWith("[]", StringComparison.Ordinal)) schema = Resolve(document, schema).GetProperty("items");
            }
            Compare(document, schema, sdkType, $"{operation} {steps[0]}: ", "", errors, gaps);
        }
        var unexpected = errors.Except(KnownSdkExtras, StringComparer.Ordinal).ToList();
        Assert.True(unexpected.Count == 0, "The SDK and the OpenAPI document disagree:\n" + string.Join('\n', unexpected));
        Assert.Equal(KnownSdkExtras.Order(StringComparer.Ordinal), errors.Order(StringComparer.Ordinal));
        Assert.Equal(KnownSdkGaps.Order(StringComparer.Ordinal), gaps.Distinct().Order(StringComparer.Ordinal));
    }

    /// <summary>
    /// Every property the SDK type carries must exist in the schema (the SDK must not send or expect
    /// what the server does not know); every schema property should exist on the SDK type
    /// (recorded as a gap otherwise). Nested SDK records are compared with their sub-schemas.
    /// </summary>
    private static void Compare(JsonElement document, JsonElement schema, Type sdkType, string where, string path, List<string> errors, List<string> gaps)
    {
        schema = Resolve(document, schema);
        if (!schema.TryGetProperty("properties", out var properties))
        {
            errors.Add($"{where}{path}: the document has no object schema for {sdkType.Name}");
            return;
        }
        var sdk = WireProperties(sdkType);
        foreach (var (name, property) in sdk)
        {
            if (!properties.TryGetProperty(name, out var sub))
            {
                errors.Add($"{where}{path}{name}: {sdkType.Name}.{property.Name} is not in the document");
                continue;
            }
            var nested = NestedSdkType(property.PropertyType, out bool isList);
            if (nested is null) continue;
            sub = Resolve(document, sub);
            if (isList) sub = Resolve(document, sub.GetProperty("items"));
            Compare(document, sub, nested, where, $"{path}{name}{(isList ? "[]" : "")}.", errors, gaps);
        }
        foreach (var documented in properties.EnumerateObject())
            if (!sdk.ContainsKey(documented.Name)) gaps.Add($"{where.TrimEnd(' ', ':')}: {path}{documented.Name}");
    }

    private static Dictionary<string, PropertyInfo> WireProperties(Type type) =>
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.SetMethod is not null && p.GetCustomAttribute<JsonIgnoreAttribute>() is null && p.GetIndexParameters().Length == 0)
            .ToDictionary(p => p.GetCustomAttribute<JsonPropertyNameAttribute>()?.Name ?? JsonNamingPolicy.CamelCase.ConvertName(p.Name), StringComparer.Ordinal);

    private static Type? NestedSdkType(Type type, out bool isList)
    {
        isList = false;
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (type.IsArray) { isList = true; type = type.GetElementType()!; }
        else if (type.IsGenericType && type.GetGenericTypeDefinition() is var g && (g == typeof(IReadOnlyList<>) || g == typeof(IList<>) || g == typeof(List<>) || g == typeof(IEnumerable<>)))
        {
            isList = true;
            type = type.GetGenericArguments()[0];
        }
        return type.Namespace == typeof(ShoalClient).Namespace && !type.IsEnum && type.IsClass && type != typeof(string) ? type : null;
    }

    /// <summary>Follows a <c>$ref</c> to its component; unwraps a nullable <c>oneOf</c>/<c>anyOf</c>.</summary>
    internal static JsonElement Resolve(JsonElement document, JsonElement schema)
    {
        for (int i = 0; i < 8; i++)
        {
            if (schema.TryGetProperty("$ref", out var reference))
            {
                string name = reference.GetString()!.Split('/')[^1];
                schema = document.GetProperty("components").GetProperty("schemas").GetProperty(name);
                continue;
            }
            foreach (var combinator in new[] { "oneOf", "anyOf", "allOf" })
            {
                if (schema.TryGetProperty(combinator, out var options))
                {
                    var chosen = options.EnumerateArray().FirstOrDefault(o => o.TryGetProperty("$ref", out _) || o.TryGetProperty("properties", out _) || o.TryGetProperty("items", out _));
                    if (chosen.ValueKind != JsonValueKind.Undefined) { schema = chosen; goto next; }
                }
            }
            return schema;
        next:;
        }
        return schema;
    }
}
