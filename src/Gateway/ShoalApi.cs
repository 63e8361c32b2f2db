using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Orleans;
using Shoal.Engine.Snapshots;
using Shoal.Grains.Contracts;

namespace Shoal.Gateway;

/// <summary>
/// Shoal's HTTP API (v1). Errors are RFC 7807 problem documents whose <c>detail</c> says what
/// is wrong: 400 for invalid input, 404 for an unknown index, 409 for a conflicting build.
/// </summary>
public static class ShoalApi
{
    internal static readonly JsonSerializerOptions Json = CreateJsonOptions();

    private static JsonSerializerOptions CreateJsonOptions()
    {
        var o = new JsonSerializerOptions(JsonSerializerDefaults.Web);
        o.Converters.Add(new System.Text.Json.Serialization.JsonStringEnumConverter(JsonNamingPolicy.CamelCase));
        return o;
    }

    /// <summary>Maps the v1 endpoints.</summary>
    public static IEndpointRouteBuilder MapShoalApi(this IEndpointRouteBuilder app)
    {
        var v1 = app.MapGroup("/v1");
        v1.MapGet("/indexes", ListIndexes);
        v1.MapGet("/indexes/{name}", GetIndex);
        v1.MapPost("/indexes/{name}/search", Search);
        v1.MapPost("/indexes/{name}/ingest", StartIngest);
        v1.MapGet("/indexes/{name}/ingest", GetIngest);
        return app;
    }

    private static async Task<IResult> ListIndexes(IGrainFactory grains)
    {
        var names = await grains.GetGrain<ICatalogGrain>(0).ListIndexesAsync();
        return TypedResults.Json(new IndexList(names), Json);
    }

    private static async Task<IResult> GetIndex(string name, IGrainFactory grains)
    {
        if (SnapshotCatalog.ValidateIndexName(name) is { } error) return BadRequest(error);
        var info = await grains.GetGrain<IIndexGrain>(name).GetInfoAsync();
        return info is null ? NotFound($"Index '{name}' does not exist.") : TypedResults.Json(info, Json);
    }

    private static async Task<IResult> Search(string name, HttpRequest http, IGrainFactory grains, CancellationToken cancellationToken)
    {
        var (body, error) = await ReadJsonAsync<SearchBody>(http, cancellationToken);
        if (error is not null) return error;
        if (body!.Text is null) return BadRequest("'text' is required.");
        var request = new SearchRequest
        {
            Index = name,
            Text = body.Text,
            K = body.K ?? 10,
            DeadlineMs = body.DeadlineMs,
            IncludeStored = body.IncludeStored ?? true,
        };
        var response = await grains.GetGrain<IQueryCoordinatorGrain>(0).SearchAsync(request, cancellationToken);
        return response.Status switch
        {
            SearchStatus.Invalid => BadRequest(response.Error!),
            SearchStatus.IndexNotFound => NotFound(response.Error!),
            _ => TypedResults.Json(new SearchResult(
                response.Index,
                response.Version,
                response.Hits.Select(h => new HitDto(h.Id, h.Score, h.Title, h.Snippet)).ToArray(),
                response.Coverage,
                response.TookMs), Json),
        };
    }

    private static async Task<IResult> StartIngest(string name, HttpRequest http, IGrainFactory grains, CancellationToken cancellationToken)
    {
        if (SnapshotCatalog.ValidateIndexName(name) is { } nameError) return BadRequest(nameError);
        var (body, error) = await ReadJsonAsync<IngestBody>(http, cancellationToken);
        if (error is not null) return error;
        if (string.IsNullOrWhiteSpace(body!.Corpus)) return BadRequest("'corpus' (a file path readable by the silo) is required.");
        var request = new IngestRequest
        {
            CorpusPath = body.Corpus,
            Format = body.Format,
            Shards = body.Shards ?? 1,
            K1 = body.K1 ?? 0.9,
            B = body.B ?? 0.4,
            Replicas = body.Replicas ?? 1,
        };
        try
        {
            var status = await grains.GetGrain<IIndexGrain>(name).StartIngestAsync(request);
            return TypedResults.Json(status, Json, statusCode: StatusCodes.Status202Accepted);
        }
        catch (ArgumentException e)
        {
            return BadRequest(e.Message);
        }
        catch (InvalidOperationException e)
        {
            return TypedResults.Problem(e.Message, statusCode: StatusCodes.Status409Conflict, title: "Conflict");
        }
    }

    private static async Task<IResult> GetIngest(string name, IGrainFactory grains)
    {
        if (SnapshotCatalog.ValidateIndexName(name) is { } error) return BadRequest(error);
        return TypedResults.Json(await grains.GetGrain<IIndexGrain>(name).GetIngestStatusAsync(), Json);
    }

    private static async Task<(T? Body, IResult? Error)> ReadJsonAsync<T>(HttpRequest http, CancellationToken cancellationToken) where T : class
    {
        try
        {
            var body = await JsonSerializer.DeserializeAsync<T>(http.Body, Json, cancellationToken);
            return body is null ? (null, BadRequest("The request body must be a JSON object.")) : (body, null);
        }
        catch (JsonException e)
        {
            return (null, BadRequest($"The request body is not valid JSON: {e.Message}"));
        }
    }

    private static ProblemHttpResult BadRequest(string detail) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status400BadRequest, title: "Invalid request");

    private static ProblemHttpResult NotFound(string detail) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status404NotFound, title: "Not found");
}
