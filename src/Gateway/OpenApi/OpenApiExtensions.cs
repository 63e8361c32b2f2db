using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;
using Scalar.AspNetCore;
using Shoal.Gateway.Auth;
using Shoal.Gateway.WebConsole;
using Shoal.Grains.Contracts;
using Shoal.Grains.Jobs;

namespace Shoal.Gateway.OpenApi;

/// <summary>
/// The OpenAPI document of the HTTP API at <c>/openapi/v1.json</c> and an interactive reference
/// (Scalar) at <c>/scalar/v1</c>. The endpoints read their bodies themselves (strict JSON, clear
/// 400s), so their request and response types are declared here, per route, in
/// <see cref="Operations"/>; every error is an RFC 7807 problem document.
/// </summary>
public static class OpenApiExtensions
{
    /// <summary>Name of the document (and the last segment of its path).</summary>
    public const string DocumentName = "v1";

    /// <summary>Path of the document.</summary>
    public const string DocumentPath = "/openapi/v1.json";

    private const string ProblemJson = "application/problem+json";

    /// <summary>What one operation takes and answers.</summary>
    /// <param name="Summary">One line for the reference page.</param>
    /// <param name="Request">Type of the JSON request body, or null when it has none.</param>
    /// <param name="Success">Success status code.</param>
    /// <param name="Response">Type of the success body.</param>
    /// <param name="Problems">Status codes answered with a problem document.</param>
    public sealed record OperationSpec(string Summary, Type? Request, int Success, Type Response, params int[] Problems);

    /// <summary>Every operation of the API, keyed "METHOD /route/{pattern}" as ASP.NET Core's API explorer names it.</summary>
    public static IReadOnlyDictionary<string, OperationSpec> Operations { get; } = new Dictionary<string, OperationSpec>(StringComparer.Ordinal)
    {
        ["GET /v1/indexes"] = new("Names of indexes with a published version", null, 200, typeof(IndexList)),
        ["GET /v1/indexes/{name}"] = new("An index: version, shards, documents, channels, online updates", null, 200, typeof(IndexInfo), 400, 404),
        ["DELETE /v1/indexes/{name}"] = new("Delete an index (admin): its shards stop serving, its versions and update log leave the snapshot store", null, 200, typeof(IndexDeletion), 400, 404, 409),
        ["POST /v1/indexes/{name}/search"] = new("Search an index (bm25, sparse, dense; fused by RRF or a weighted sum)", typeof(SearchBody), 200, typeof(SearchResult), 400, 404, 413, 503),
        ["POST /v1/indexes/{name}/ingest"] = new("Build a new version from files readable by the silos", typeof(IngestBody), 202, typeof(IngestStatus), 400, 409),
        ["GET /v1/indexes/{name}/ingest"] = new("Progress of the current or last build", null, 200, typeof(IngestStatus), 400),
        ["POST /v1/indexes/{name}/documents"] = new("Upsert and delete documents by id (durable and visible when it returns)", typeof(DocumentsBody), 200, typeof(UpdateResult), 400, 404, 409, 413, 503),
        ["DELETE /v1/indexes/{name}/documents/{id}"] = new("Delete one document", null, 200, typeof(UpdateResult), 400, 404, 409),
        ["POST /v1/indexes/{name}/merge"] = new("Fold pending updates into a new version in the background", null, 202, typeof(IngestStatus), 400, 404, 409),
        ["GET /v1/indexes/{name}/versions"] = new("Versions in the snapshot store with their size and time", null, 200, typeof(IndexVersionList), 400, 404),
        ["POST /v1/jobs"] = new("Submit an indexing job (checkpointed, resumes after silo loss)", typeof(JobBody), 202, typeof(IndexJobStatus), 400, 409),
        ["GET /v1/jobs"] = new("Recent indexing jobs, newest first", null, 200, typeof(JobList), 400),
        ["GET /v1/jobs/{id}"] = new("One job: phase, documents, rate, ETA", null, 200, typeof(IndexJobStatus), 400, 404),
        ["POST /v1/jobs/{id}/cancel"] = new("Cancel a job", null, 200, typeof(IndexJobStatus), 400, 404),
        ["GET /v1/cluster"] = new("Silos, shard map per replica, encoder pools and recent jobs", null, 200, typeof(ClusterStatus)),
        ["GET /health/live"] = new("Liveness", null, 200, typeof(HealthStatus)),
        ["GET /health/ready"] = new("Readiness: 503 until the start-up index serves", null, 200, typeof(HealthStatus), 503),
    };

    /// <summary>Body of the health endpoints.</summary>
    /// <param name="Status">"live", "ready" or "not ready".</param>
    /// <param name="Detail">What the start-up loader is doing (readiness only).</param>
    public sealed record HealthStatus(string Status, string? Detail);

    /// <summary>Registers the document generator with Shoal's operation table.</summary>
    public static IServiceCollection AddShoalOpenApi(this IServiceCollection services)
    {
        // Schemas as the API writes them: camelCase, enums as camelCase strings (ShoalApi.Json).
        services.ConfigureHttpJsonOptions(o =>
            o.SerializerOptions.Converters.Add(new System.Text.Json.Serialization.JsonStringEnumConverter(System.Text.Json.JsonNamingPolicy.CamelCase)));
        services.AddOpenApi(DocumentName, options =>
        {
            options.AddDocumentTransformer((document, _, _) =>
            {
                document.Info = new OpenApiInfo
                {
                    Title = "Shoal HTTP API",
                    Version = "v1",
                    Description = "A distributed, sharded retrieval cluster: BM25, learned-sparse and dense search with fusion, " +
                                  "online updates and indexing jobs. Errors are RFC 7807 problem documents whose 'detail' says what is wrong.",
                };
                return Task.CompletedTask;
            });
            options.AddDocumentTransformer((document, _, _) =>
            {
                // The API key (GatewayAuth); operations that need it name it from their endpoint metadata.
                var components = document.Components ??= new OpenApiComponents();
                components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>(StringComparer.Ordinal);
                components.SecuritySchemes[SecuritySchemeName] = new OpenApiSecurityScheme
                {
                    Type = SecuritySchemeType.ApiKey,
                    In = ParameterLocation.Header,
                    Name = GatewayAuth.HeaderName,
                    Description = $"An API key, once the gateway has keys configured (Shoal:Auth:Keys), in the {GatewayAuth.HeaderName} header " +
                                  "(or 'Authorization: ApiKey <key>' / 'Bearer <key>'). Keys have scopes: search (reads and searches), write " +
                                  "(online updates) and admin (ingest, jobs, merges; implies the others); each operation says which it needs.",
                };
                return Task.CompletedTask;
            });
            options.AddOperationTransformer(DescribeOperationAsync);
            options.AddDocumentTransformer((document, _, _) =>
            {
                // Responses are declared per route above; schemas the generator inferred from anonymous
                // return values (the health endpoints) are replaced and would only dangle.
                if (document.Components?.Schemas is { } schemas)
                    foreach (var name in schemas.Keys.Where(k => k.StartsWith("AnonymousType", StringComparison.Ordinal)).ToList())
                        schemas.Remove(name);
                return Task.CompletedTask;
            });
        });
        return services;
    }

    /// <summary>Maps the document and the Scalar reference page.</summary>
    public static IEndpointRouteBuilder MapShoalOpenApi(this IEndpointRouteBuilder app)
    {
        // The document and the reference page describe the API and hold no data; the page's browser
        // fetches the document without a key, so both stay anonymous when keys are configured.
        app.MapOpenApi("/openapi/{documentName}.json").AllowAnonymous();
        app.MapScalarApiReference("/scalar", o => o.WithTitle("Shoal API reference").WithOpenApiRoutePattern("/openapi/{documentName}.json")).AllowAnonymous();
        return app;
    }

    /// <summary>Name of the API-key security scheme in the document's components.</summary>
    public const string SecuritySchemeName = "ApiKey";

    /// <summary>
    /// The scope an endpoint needs, from its metadata: null when it is anonymous
    /// (<see cref="IAllowAnonymous"/>), the policy it names (<c>RequireAuthorization("admin")</c>),
    /// else the fallback policy's <see cref="ApiScopes.Search"/>.
    /// </summary>
    public static string? ScopeOf(IReadOnlyList<object> metadata)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        if (metadata.OfType<IAllowAnonymous>().Any()) return null;
        return metadata.OfType<IAuthorizeData>().Select(a => a.Policy).LastOrDefault(p => p is not null) ?? ApiScopes.Search;
    }

    /// <summary>The key of an operation in <see cref="Operations"/>.</summary>
    public static string KeyOf(string method, string route) => method.ToUpperInvariant() + " /" + route.Trim('/');

    private static async Task DescribeOperationAsync(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        var description = context.Description;
        string key = KeyOf(description.HttpMethod ?? "GET", description.RelativePath ?? "");
        if (!Operations.TryGetValue(key, out var spec)) return; // the coverage test names operations missing here
        operation.Summary = spec.Summary;
        operation.Tags = new HashSet<OpenApiTagReference> { new(TagOf(key), context.Document) };
        if (spec.Request is { } request)
        {
            operation.RequestBody = new OpenApiRequestBody
            {
                Required = true,
                Content = new Dictionary<string, OpenApiMediaType>(StringComparer.Ordinal)
                {
                    ["application/json"] = new() { Schema = await SchemaAsync(request, context, cancellationToken) },
                },
            };
        }
        operation.Responses ??= [];
        operation.Responses.Clear();
        operation.Responses[spec.Success.ToString(System.Globalization.CultureInfo.InvariantCulture)] = new OpenApiResponse
        {
            Description = spec.Success == 202 ? "Accepted" : "OK",
            Content = new Dictionary<string, OpenApiMediaType>(StringComparer.Ordinal)
            {
                ["application/json"] = new() { Schema = await SchemaAsync(spec.Response, context, cancellationToken) },
            },
        };
        // Beside each route's own errors: the API key (401, 403 for a missing scope) unless the
        // endpoint is anonymous, and the per-key rate limits (429) on everything but the health probes.
        var problems = new List<int>(spec.Problems);
        string? scope = ScopeOf([.. description.ActionDescriptor.EndpointMetadata]);
        if (scope is not null)
        {
            problems.AddRange([401, 403]);
            operation.Security = [new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(SecuritySchemeName, context.Document)] = [] }];
            operation.Description = $"Needs an API key with scope '{scope}' once keys are configured.";
        }
        if (!key.Contains(" /health/", StringComparison.Ordinal)) problems.Add(429);
        foreach (int status in problems.Distinct().Order())
        {
            var response = new OpenApiResponse
            {
                Description = status switch
                {
                    403 => $"The API key lacks the scope '{scope}'",
                    _ => ProblemDescription(status),
                },
                Content = new Dictionary<string, OpenApiMediaType>(StringComparer.Ordinal)
                {
                    [ProblemJson] = new() { Schema = await SchemaAsync(typeof(ProblemDetails), context, cancellationToken) },
                },
            };
            if (status == 429)
            {
                response.Headers = new Dictionary<string, IOpenApiHeader>(StringComparer.Ordinal)
                {
                    ["Retry-After"] = new OpenApiHeader { Description = "Seconds to wait before retrying", Schema = new OpenApiSchema { Type = JsonSchemaType.Integer } },
                };
            }
            operation.Responses[status.ToString(System.Globalization.CultureInfo.InvariantCulture)] = response;
        }
    }

    private static async Task<IOpenApiSchema> SchemaAsync(Type type, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        var schema = await context.GetOrCreateSchemaAsync(type, null, cancellationToken);
        // One named component per type, so the document reads like a reference and clients can share types.
        string id = type.Name;
        var components = context.Document!.Components ??= new OpenApiComponents();
        components.Schemas ??= new Dictionary<string, IOpenApiSchema>(StringComparer.Ordinal);
        components.Schemas.TryAdd(id, schema);
        return new OpenApiSchemaReference(id, context.Document);
    }

    private static string TagOf(string key) =>
        key.Contains("/jobs", StringComparison.Ordinal) ? "jobs"
        : key.Contains("/health", StringComparison.Ordinal) ? "health"
        : key.Contains("/cluster", StringComparison.Ordinal) || key.EndsWith("/versions", StringComparison.Ordinal) ? "cluster"
        : key.Contains("/documents", StringComparison.Ordinal) || key.EndsWith("/merge", StringComparison.Ordinal) ? "updates"
        : "indexes";

    private static string ProblemDescription(int status) => status switch
    {
        400 => "Invalid input; 'detail' says what is wrong",
        401 => "No API key, or one that is not valid (once keys are configured); WWW-Authenticate names the header",
        429 => "Too many requests from this API key or client (the per-key limits Shoal:Limits:*, when set)",
        404 => "Unknown index or job",
        409 => "Conflict: a build is running, the index has no published version, or a job id is taken",
        413 => "Request body over the server's size limit",
        503 => "Unavailable: an encoder pool cannot serve, or the start-up index is not ready",
        _ => "Error",
    };
}
