using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Orleans;
using Shoal.Engine.Snapshots;
using Shoal.Grains.Contracts;
using Shoal.Gateway.Auth;
using Shoal.Gateway.Limits;
using Shoal.Gateway.Observability;
using Shoal.Engine.Indexing;

namespace Shoal.Gateway;

/// <summary>
/// Shoal's HTTP API (v1). Errors are RFC 7807 problem documents whose <c>detail</c> says what
/// is wrong: 400 for invalid input, 404 for an unknown index, 409 for a conflicting build, 503
/// when an encoder cannot serve. Online updates are in <see cref="UpdatesApi"/>.
/// </summary>
public static class ShoalApi
{
    internal static readonly JsonSerializerOptions Json = CreateJsonOptions();

    private static JsonSerializerOptions CreateJsonOptions()
    {
        var o = new JsonSerializerOptions(JsonSerializerDefaults.Web)
        {
            // A misspelt field is an error, not a silently ignored option.
            UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow,
        };
        o.Converters.Add(new System.Text.Json.Serialization.JsonStringEnumConverter(JsonNamingPolicy.CamelCase));
        return o;
    }

    /// <summary>Maps the v1 endpoints.</summary>
    public static IEndpointRouteBuilder MapShoalApi(this IEndpointRouteBuilder app)
    {
        var v1 = app.MapGroup("/v1");
        v1.MapGet("/indexes", ListIndexes).RequireAuthorization(ApiScopes.Search);
        v1.MapGet("/indexes/{name}", GetIndex).RequireAuthorization(ApiScopes.Search);
        v1.MapDelete("/indexes/{name}", DeleteIndex).RequireAuthorization(ApiScopes.Admin);
        v1.MapPost("/indexes/{name}/search", Search).RequireAuthorization(ApiScopes.Search).WithSearchAdmission();
        v1.MapPost("/indexes/{name}/ingest", StartIngest).RequireAuthorization(ApiScopes.Admin);
        v1.MapGet("/indexes/{name}/ingest", GetIngest).RequireAuthorization(ApiScopes.Search);
        v1.MapUpdatesApi();
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

    private static async Task<IResult> DeleteIndex(string name, IGrainFactory grains)
    {
        if (SnapshotCatalog.ValidateIndexName(name) is { } error) return BadRequest(error);
        try
        {
            var deleted = await grains.GetGrain<IIndexGrain>(name).DeleteAsync();
            return deleted is null ? NotFound($"Index '{name}' does not exist.") : TypedResults.Json(deleted, Json);
        }
        catch (InvalidOperationException e)
        {
            return TypedResults.Problem(e.Message, statusCode: StatusCodes.Status409Conflict, title: "Conflict");
        }
    }

    private static async Task<IResult> Search(string name, HttpRequest http, SearchRouter router, CancellationToken cancellationToken)
    {
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        string outcome = "failed"; // an exception (cluster unavailable, cancelled) leaves it so
        try
        {
            var (body, error) = await ReadJsonAsync<SearchBody>(http, cancellationToken);
            if (error is not null)
            {
                outcome = "invalid";
                return error;
            }
            var request = ToRequest(name, body!, out string? invalid);
            if (invalid is not null)
            {
                outcome = "invalid";
                return BadRequest(invalid);
            }
            var response = await router.SearchAsync(request!, cancellationToken);
            outcome = response.Status switch
            {
                SearchStatus.Invalid => "invalid",
                SearchStatus.IndexNotFound => "not_found",
                SearchStatus.Unavailable => "unavailable",
                _ => response.Coverage.Partial ? "partial" : "ok",
            };
            return response.Status switch
            {
                SearchStatus.Invalid => BadRequest(response.Error!),
                SearchStatus.IndexNotFound => NotFound(response.Error!),
                SearchStatus.Unavailable => TypedResults.Problem(response.Error, statusCode: StatusCodes.Status503ServiceUnavailable, title: "Unavailable"),
                // Written whole with its Content-Length (not streamed in chunks): the caller has the answer with its last byte, in one write.
                _ => TypedResults.Bytes(JsonSerializer.SerializeToUtf8Bytes(
                    new SearchResult(response.Index, response.Version, HitsOf(response), response.Coverage, response.TookMs, response.Channels),
                    GatewayJsonContext.Default.SearchResult), "application/json; charset=utf-8"),
            };
        }
        finally
        {
            GatewayMetrics.RecordSearch(name, outcome, System.Diagnostics.Stopwatch.GetElapsedTime(started));
        }
    }

    private static HitDto[] HitsOf(SearchResponse response)
    {
        var hits = new HitDto[response.Hits.Length];
        for (int i = 0; i < hits.Length; i++)
        {
            var h = response.Hits[i];
            hits[i] = new HitDto(h.Id, h.Score, h.Title, h.Snippet, h.Ranks);
        }
        return hits;
    }

    /// <summary>Turns an HTTP search body into the coordinator's request; <paramref name="invalid"/> says what is wrong, if anything.</summary>
    internal static SearchRequest? ToRequest(string name, SearchBody body, out string? invalid)
    {
        invalid = null;
        SparseQuerySpec? sparse = null;
        if (body.Sparse is { } sp)
        {
            if (sp.Vector is not null && sp.TermIds is not null)
            {
                invalid = "'sparse' takes 'vector' (token weights) or 'termIds' with 'weights', not both.";
                return null;
            }
            sparse = new SparseQuerySpec
            {
                Tokens = sp.Vector?.Keys.ToArray(),
                TokenWeights = sp.Vector?.Values.ToArray(),
                TermIds = sp.TermIds,
                Weights = sp.Weights,
                Text = sp.Text,
                K = sp.K,
                Exact = sp.Exact,
                QueryTermCut = sp.QueryTermCut,
                HeapFactor = sp.HeapFactor,
            };
        }
        DenseQuerySpec? dense = null;
        if (body.Dense is { } d)
        {
            dense = new DenseQuerySpec
            {
                Vector = d.Vector is null ? null : System.Runtime.InteropServices.MemoryMarshal.AsBytes(d.Vector.AsSpan()).ToArray(),
                Text = d.Text,
                K = d.K,
                Exact = d.Exact,
                Ef = d.Ef,
            };
        }
        return new SearchRequest
        {
            Index = name,
            Text = body.Text,
            K = body.K ?? 10,
            DeadlineMs = body.DeadlineMs,
            IncludeStored = body.IncludeStored ?? true,
            Channels = body.Channels,
            Bm25 = body.Bm25 is null ? null : new Bm25QuerySpec { Text = body.Bm25.Text, K = body.Bm25.K },
            Sparse = sparse,
            Dense = dense,
            Fusion = body.Fusion is null ? null : new FusionSpec
            {
                Method = body.Fusion.Method ?? "rrf",
                RankConstant = body.Fusion.RankConstant,
                Weights = body.Fusion.Weights,
            },
        };
    }

    private static async Task<IResult> StartIngest(string name, HttpRequest http, IGrainFactory grains, CancellationToken cancellationToken)
    {
        if (SnapshotCatalog.ValidateIndexName(name) is { } nameError) return BadRequest(nameError);
        var (body, error) = await ReadJsonAsync<IngestBody>(http, cancellationToken);
        if (error is not null) return error;
        if (string.IsNullOrWhiteSpace(body!.Corpus) && string.IsNullOrWhiteSpace(body.SparseVectors) && string.IsNullOrWhiteSpace(body.DenseVectors))
            return BadRequest("Give 'corpus' (text), 'sparseVectors' or 'denseVectors': file paths readable by the silo.");
        var request = new IngestRequest
        {
            CorpusPath = body.Corpus,
            Format = body.Format,
            Shards = body.Shards ?? IndexSpecification.DefaultShards,
            K1 = body.K1 ?? IndexSpecification.DefaultK1,
            B = body.B ?? IndexSpecification.DefaultB,
            Replicas = body.Replicas ?? IndexSpecification.DefaultReplicas,
            Bm25 = body.Bm25,
            SparseVectorsPath = body.SparseVectors,
            SparseVocabularyPath = body.SparseVocabulary,
            SparseEncoder = body.SparseEncoder,
            SparsePostingsPerTerm = body.SparsePostingsPerTerm,
            DenseVectorsPath = body.DenseVectors,
            DenseDims = body.DenseDims,
            DenseMetric = body.DenseMetric ?? IndexSpecification.DefaultDenseMetric,
            DenseStorage = body.DenseStorage ?? IndexSpecification.DefaultDenseStorage,
            DenseIndex = body.DenseIndex ?? IndexSpecification.DefaultDenseIndex,
            HnswM = body.HnswM ?? IndexSpecification.DefaultHnswM,
            HnswEfConstruction = body.HnswEfConstruction ?? IndexSpecification.DefaultHnswEfConstruction,
            DenseEncoder = body.DenseEncoder,
            StrictPlacement = body.StrictPlacement ?? false,
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

    /// <summary>Reads a strict JSON body (unknown members refused); the error is a 400 (413 for a body over the server's size limit) saying what is wrong.</summary>
    internal static async Task<(T? Body, IResult? Error)> ReadJsonAsync<T>(HttpRequest http, CancellationToken cancellationToken) where T : class
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
        catch (BadHttpRequestException e)
        {
            // Kestrel's limits (a body over MaxRequestBodySize is 413): say so instead of failing with a 500.
            string detail = e.StatusCode == StatusCodes.Status413PayloadTooLarge
                ? $"The request body is larger than the server accepts ({e.Message}); send fewer or smaller documents per request."
                : $"The request body could not be read: {e.Message}";
            return (null, TypedResults.Problem(detail, statusCode: e.StatusCode, title: e.StatusCode == StatusCodes.Status413PayloadTooLarge ? "Payload too large" : "Invalid request"));
        }
    }

    internal static ProblemHttpResult BadRequest(string detail) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status400BadRequest, title: "Invalid request");

    internal static ProblemHttpResult NotFound(string detail) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status404NotFound, title: "Not found");
}
