using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Orleans;
using Shoal.Gateway.Auth;
using Shoal.Grains.Jobs;
using Shoal.Engine.Indexing;

namespace Shoal.Gateway;

/// <summary>
/// Body of <c>POST /v1/jobs</c>: the target index, the sources (each a path readable by the silos,
/// or <c>store:</c>key of an object in the snapshot store; plain or gzip) — <c>source</c> (text
/// corpus) and/or <c>sparseVectors</c> (Anserini JSON vector lines, with an optional
/// <c>sparseVocabulary</c>) and/or <c>denseVectors</c> (jsonl or SHOALVEC binary, with the dense
/// channel's settings), joined by document id — and the index settings. <c>onMalformed</c> is
/// <c>skip</c> (default: count and report malformed lines) or <c>stop</c> (fail at the first one).
/// <c>id</c> is optional (a new one is made); submitting the same body with the same id again is idempotent.
/// </summary>
public sealed record JobBody(
    string? Index,
    string? Source,
    string? Format = null,
    int? Shards = null,
    int? Replicas = null,
    double? K1 = null,
    double? B = null,
    string? OnMalformed = null,
    int? ChunkLines = null,
    string? Id = null,
    string? SparseVectors = null,
    string? SparseVocabulary = null,
    int? SparsePostingsPerTerm = null,
    string? DenseVectors = null,
    int? DenseDims = null,
    string? DenseMetric = null,
    string? DenseStorage = null,
    string? DenseIndex = null,
    int? HnswM = null,
    int? HnswEfConstruction = null,
    bool? StrictPlacement = null,
    string? SparseEncoder = null,
    string? DenseEncoder = null,
    bool? Bm25 = null);

/// <summary>Response of <c>GET /v1/jobs</c>: the most recent jobs, newest first.</summary>
public sealed record JobList(IReadOnlyList<IndexJobStatus> Jobs);

/// <summary>
/// HTTP endpoints of indexing jobs: <c>POST /v1/jobs</c> (202 with the job, and its URL in
/// Location), <c>GET /v1/jobs</c>, <c>GET /v1/jobs/{id}</c>, <c>POST /v1/jobs/{id}/cancel</c>.
/// Errors are problem documents: 400 with a <c>detail</c> for bad input, 404 for an unknown job,
/// 409 for a used id with a different request.
/// </summary>
public static class JobsApi
{
    /// <summary>Maps the job endpoints.</summary>
    public static IEndpointRouteBuilder MapShoalJobsApi(this IEndpointRouteBuilder app)
    {
        var v1 = app.MapGroup("/v1/jobs");
        v1.MapPost("", Submit).RequireAuthorization(ApiScopes.Admin);
        v1.MapGet("", List).RequireAuthorization(ApiScopes.Search);
        v1.MapGet("/{id}", Get).RequireAuthorization(ApiScopes.Search);
        v1.MapPost("/{id}/cancel", Cancel).RequireAuthorization(ApiScopes.Admin);
        return app;
    }

    private static async Task<IResult> Submit(HttpRequest http, IGrainFactory grains, CancellationToken cancellationToken)
    {
        JobBody? body;
        try
        {
            body = await JsonSerializer.DeserializeAsync<JobBody>(http.Body, ShoalApi.Json, cancellationToken);
        }
        catch (JsonException e)
        {
            return BadRequest($"The request body is not valid JSON: {e.Message}");
        }
        if (body is null) return BadRequest("The request body must be a JSON object.");
        if (string.IsNullOrWhiteSpace(body.Index)) return BadRequest("'index' is required: the index the job builds a new version of.");
        if (string.IsNullOrWhiteSpace(body.Source) && body.SparseVectors is null && body.DenseVectors is null)
            return BadRequest("'source' is required: a corpus path readable by the silos, or store:<key> of an object in the snapshot store (or give 'sparseVectors' and/or 'denseVectors').");
        string id = body.Id ?? IndexJobIds.New();
        if (IndexJobIds.Validate(id) is { } idError) return BadRequest(idError);
        var request = new IndexJobRequest
        {
            Index = body.Index,
            Source = body.Source ?? "",
            Format = body.Format,
            Shards = body.Shards ?? IndexSpecification.DefaultShards,
            Replicas = body.Replicas ?? IndexSpecification.DefaultReplicas,
            K1 = body.K1 ?? IndexSpecification.DefaultK1,
            B = body.B ?? IndexSpecification.DefaultB,
            OnMalformed = body.OnMalformed ?? "skip",
            ChunkLines = body.ChunkLines ?? 0,
            SparseVectors = body.SparseVectors,
            SparseVocabulary = body.SparseVocabulary,
            SparsePostingsPerTerm = body.SparsePostingsPerTerm,
            DenseVectors = body.DenseVectors,
            DenseDims = body.DenseDims,
            DenseMetric = body.DenseMetric ?? IndexSpecification.DefaultDenseMetric,
            DenseStorage = body.DenseStorage ?? IndexSpecification.DefaultDenseStorage,
            DenseIndex = body.DenseIndex ?? IndexSpecification.DefaultDenseIndex,
            HnswM = body.HnswM ?? IndexSpecification.DefaultHnswM,
            HnswEfConstruction = body.HnswEfConstruction ?? IndexSpecification.DefaultHnswEfConstruction,
            StrictPlacement = body.StrictPlacement ?? false,
            SparseEncoder = body.SparseEncoder,
            DenseEncoder = body.DenseEncoder,
            Bm25 = body.Bm25,
        };
        try
        {
            var status = await grains.GetGrain<IIndexJobGrain>(id).SubmitAsync(request);
            http.HttpContext.Response.Headers.Location = $"/v1/jobs/{id}";
            return TypedResults.Json(status, ShoalApi.Json, statusCode: StatusCodes.Status202Accepted);
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

    /// <summary>
    /// <c>GET /v1/jobs?limit=&amp;after=</c>: up to <c>limit</c> jobs (1..1000, default 100), newest
    /// first; <c>after</c>, the id of the last job of the previous page, continues from there (a
    /// cursor: jobs submitted meanwhile do not shift it). An empty page is the end.
    /// </summary>
    private static async Task<IResult> List(IGrainFactory grains, int? limit, string? after)
    {
        if (limit is < 1 or > 1000) return BadRequest($"'limit' must be between 1 and 1000 (got {limit}).");
        if (after is { Length: 0 }) return BadRequest("'after' must be a job id (the last id of the previous page).");
        var ids = await grains.GetGrain<IIndexJobCatalogGrain>(0).ListPageAsync(limit ?? 100, after);
        if (ids is null) return BadRequest($"'after' = '{after}' names no job; pass the id of the last job of the previous page.");
        var statuses = await Task.WhenAll(ids.Select(id => grains.GetGrain<IIndexJobGrain>(id).GetStatusAsync()));
        return TypedResults.Json(new JobList([.. statuses.OfType<IndexJobStatus>()]), ShoalApi.Json);
    }

    private static async Task<IResult> Get(string id, IGrainFactory grains)
    {
        if (IndexJobIds.Validate(id) is { } error) return BadRequest(error);
        var status = await grains.GetGrain<IIndexJobGrain>(id).GetStatusAsync();
        return status is null ? NotFound(id) : TypedResults.Json(status, ShoalApi.Json);
    }

    private static async Task<IResult> Cancel(string id, IGrainFactory grains)
    {
        if (IndexJobIds.Validate(id) is { } error) return BadRequest(error);
        var status = await grains.GetGrain<IIndexJobGrain>(id).CancelAsync();
        return status is null ? NotFound(id) : TypedResults.Json(status, ShoalApi.Json);
    }

    private static ProblemHttpResult BadRequest(string detail) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status400BadRequest, title: "Invalid request");

    private static ProblemHttpResult NotFound(string id) =>
        TypedResults.Problem($"Job '{id}' does not exist.", statusCode: StatusCodes.Status404NotFound, title: "Not found");
}
