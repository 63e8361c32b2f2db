using System.Buffers.Binary;
using Orleans;
using Shoal.Engine.Snapshots;
using Shoal.Grains.Contracts;
using Shoal.Gateway.Auth;
using Shoal.Grains.Query;

namespace Shoal.Gateway;

/// <summary>
/// Online updates of a live index: <c>POST /v1/indexes/{name}/documents</c> (upserts and deletes
/// by id, 200 with what was applied), <c>DELETE /v1/indexes/{name}/documents/{id}</c> and
/// <c>POST /v1/indexes/{name}/merge</c> (202 with the merge status). An update is durable and
/// visible to the next search when the call returns; a merge folds the pending updates into a new
/// snapshotted version. Errors are problem documents: 400 for invalid input (the gateway checks
/// the shape, the index grain the content against the schema), 404 for an unknown index, 409 when
/// the index has no published version yet, 413 for a body over the server's limit, 503 when an
/// encoder the documents need cannot serve.
/// </summary>
public static class UpdatesApi
{
    /// <summary>Most operations (upserted documents plus deleted ids) one request may carry.</summary>
    public const int MaxOperationsPerRequest = 10_000;

    /// <summary>Maps the update endpoints onto the v1 group.</summary>
    internal static RouteGroupBuilder MapUpdatesApi(this RouteGroupBuilder v1)
    {
        v1.MapPost("/indexes/{name}/documents", Update).RequireAuthorization(ApiScopes.Write);
        v1.MapDelete("/indexes/{name}/documents/{id}", DeleteOne).RequireAuthorization(ApiScopes.Write);
        v1.MapPost("/indexes/{name}/merge", Merge).RequireAuthorization(ApiScopes.Admin);
        return v1;
    }

    private static async Task<IResult> Update(string name, HttpRequest http, IGrainFactory grains, CancellationToken cancellationToken)
    {
        if (SnapshotCatalog.ValidateIndexName(name) is { } nameError) return ShoalApi.BadRequest(nameError);
        var (body, error) = await ShoalApi.ReadJsonAsync<DocumentsBody>(http, cancellationToken);
        if (error is not null) return error;
        var request = ToUpdateRequest(body!, out string? invalid);
        if (invalid is not null) return ShoalApi.BadRequest(invalid);
        return await ApplyAsync(name, request!, grains, cancellationToken);
    }

    private static async Task<IResult> DeleteOne(string name, string id, HttpRequest http, IGrainFactory grains, CancellationToken cancellationToken)
    {
        if (SnapshotCatalog.ValidateIndexName(name) is { } nameError) return ShoalApi.BadRequest(nameError);
        id = DocumentIdFromRawTarget(http) ?? id;
        if (string.IsNullOrWhiteSpace(id)) return ShoalApi.BadRequest("The document id in the path is empty.");
        return await ApplyAsync(name, new UpdateRequest { Deletes = [id] }, grains, cancellationToken);
    }

    /// <summary>
    /// The id segment of the request target as the client sent it, unescaped once. Routing leaves
    /// <c>%2F</c> escaped in route values, so an id holding '/' (sent as <c>%2F</c>) would otherwise
    /// arrive altered. Null when the raw target is not available.
    /// </summary>
    internal static string? DocumentIdFromRawTarget(HttpRequest http)
    {
        string? raw = http.HttpContext.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestFeature>()?.RawTarget;
        if (string.IsNullOrEmpty(raw)) return null;
        int query = raw.IndexOfAny(['?', '#']);
        if (query >= 0) raw = raw[..query];
        int slash = raw.LastIndexOf('/');
        return slash < 0 || slash == raw.Length - 1 ? null : Uri.UnescapeDataString(raw[(slash + 1)..]);
    }

    private static async Task<IResult> ApplyAsync(string name, UpdateRequest request, IGrainFactory grains, CancellationToken cancellationToken)
    {
        var index = grains.GetGrain<IIndexGrain>(name);
        if (await CheckPublishedAsync(name, index) is { } missing) return missing;
        try
        {
            var result = await index.UpdateAsync(request, cancellationToken);
            return TypedResults.Json(result, ShoalApi.Json);
        }
        catch (ArgumentException e)
        {
            return ShoalApi.BadRequest(e.Message);
        }
        catch (InvalidOperationException e)
        {
            // The index lost its published version between the check and the update.
            return ShoalApi.NotFound(e.Message);
        }
        catch (Exception e) when (PooledTextEncoderClient.IsUnavailable(e))
        {
            return Unavailable(e.Message);
        }
    }

    private static async Task<IResult> Merge(string name, IGrainFactory grains)
    {
        if (SnapshotCatalog.ValidateIndexName(name) is { } nameError) return ShoalApi.BadRequest(nameError);
        var index = grains.GetGrain<IIndexGrain>(name);
        if (await CheckPublishedAsync(name, index) is { } missing) return missing;
        try
        {
            var status = await index.StartMergeAsync();
            // 202 when a merge runs; 200 when there was nothing to merge (no new version).
            return TypedResults.Json(status, ShoalApi.Json,
                statusCode: status.State == IngestState.Running ? StatusCodes.Status202Accepted : StatusCodes.Status200OK);
        }
        catch (ArgumentException e)
        {
            return ShoalApi.BadRequest(e.Message);
        }
        catch (InvalidOperationException e)
        {
            return TypedResults.Problem(e.Message, statusCode: StatusCodes.Status409Conflict, title: "Conflict");
        }
        catch (Exception e) when (PooledTextEncoderClient.IsUnavailable(e))
        {
            return Unavailable(e.Message);
        }
    }

    /// <summary>404 when the index does not exist, 409 while its first build runs (no version to update yet); null when it serves a version.</summary>
    private static async Task<IResult?> CheckPublishedAsync(string name, IIndexGrain index)
    {
        var info = await index.GetInfoAsync();
        if (info is null) return ShoalApi.NotFound($"Index '{name}' does not exist.");
        if (info.Version <= 0)
            return TypedResults.Problem($"Index '{name}' has no published version yet (no build of it has succeeded); update it once one has.",
                statusCode: StatusCodes.Status409Conflict, title: "Conflict");
        return null;
    }

    private static IResult Unavailable(string detail) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status503ServiceUnavailable, title: "Unavailable");

    /// <summary>
    /// Turns an HTTP update body into the index grain's request, checking what does not need the
    /// index's schema: at least one operation and at most <see cref="MaxOperationsPerRequest"/>;
    /// non-empty ids, each once per request (not both upserted and deleted); one form of sparse
    /// vector with parallel arrays of the same length; finite weights and dense values.
    /// <paramref name="invalid"/> says what is wrong, naming the document.
    /// </summary>
    internal static UpdateRequest? ToUpdateRequest(DocumentsBody body, out string? invalid)
    {
        invalid = null;
        var documents = body.Documents ?? [];
        var deletes = body.Deletes ?? [];
        if (documents.Length == 0 && deletes.Length == 0)
        {
            invalid = "The request has no operations: give 'documents' (to insert or replace by id) and/or 'deletes' (ids to delete).";
            return null;
        }
        long operations = (long)documents.Length + deletes.Length;
        if (operations > MaxOperationsPerRequest)
        {
            invalid = $"The request has {operations:N0} operations ({documents.Length:N0} documents, {deletes.Length:N0} deletes); at most {MaxOperationsPerRequest:N0} are accepted per request: split it into several requests.";
            return null;
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        var upserts = new UpsertDocument[documents.Length];
        for (int i = 0; i < documents.Length; i++)
        {
            if (ToUpsert(documents[i], i, seen, out invalid) is not { } upsert) return null;
            upserts[i] = upsert;
        }
        var deleteIds = new string[deletes.Length];
        var deleted = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < deletes.Length; i++)
        {
            string? id = deletes[i];
            if (string.IsNullOrWhiteSpace(id))
            {
                invalid = $"deletes[{i}] is {(id is null ? "null" : "empty")}: give the ids of the documents to delete.";
                return null;
            }
            if (seen.Contains(id))
            {
                invalid = $"Document '{id}' is both upserted and deleted in this request; send the delete and the upsert in separate requests, in the order they should apply.";
                return null;
            }
            if (!deleted.Add(id))
            {
                invalid = $"Document '{id}' is deleted twice in this request (deletes[{i}]); list each id once.";
                return null;
            }
            deleteIds[i] = id;
        }
        return new UpdateRequest { Upserts = upserts, Deletes = deleteIds };
    }

    private static UpsertDocument? ToUpsert(DocumentBody? d, int i, HashSet<string> seen, out string? invalid)
    {
        invalid = null;
        if (d is null)
        {
            invalid = $"documents[{i}] is null: each document is an object with at least an 'id'.";
            return null;
        }
        if (string.IsNullOrWhiteSpace(d.Id))
        {
            invalid = $"documents[{i}] has {(d.Id is null ? "no 'id'" : "an empty 'id'")}: every document needs a non-empty id.";
            return null;
        }
        string id = d.Id;
        if (!seen.Add(id))
        {
            invalid = $"Document '{id}' appears more than once in 'documents' (again at documents[{i}]); an id may appear once per request.";
            return null;
        }
        // Field limits before anything is encoded (the body limit alone would let one document's text take it all).
        if (Shoal.Engine.Updates.UpdateValidation.CheckLengths(id, d.Title, d.Text) is { } tooLong)
        {
            invalid = tooLong;
            return null;
        }
        if (d.Sparse is not null && (d.SparseTermIds is not null || d.SparseWeights is not null))
        {
            invalid = $"Document '{id}': give 'sparse' (token weights) or 'sparseTermIds' with 'sparseWeights', not both.";
            return null;
        }
        if ((d.SparseTermIds is null) != (d.SparseWeights is null))
        {
            invalid = $"Document '{id}': 'sparseTermIds' and 'sparseWeights' go together (parallel arrays); give both or neither.";
            return null;
        }
        if (d.SparseTermIds is not null && d.SparseTermIds.Length != d.SparseWeights!.Length)
        {
            invalid = $"Document '{id}': 'sparseTermIds' has {d.SparseTermIds.Length} entries but 'sparseWeights' has {d.SparseWeights.Length}; they must have the same length.";
            return null;
        }
        if (d.SparseWeights is not null)
        {
            for (int j = 0; j < d.SparseWeights.Length; j++)
            {
                if (!float.IsFinite(d.SparseWeights[j]))
                {
                    invalid = $"Document '{id}': 'sparseWeights' has a non-finite value at position {j}.";
                    return null;
                }
            }
        }
        string[]? tokens = null;
        float[]? tokenWeights = null;
        if (d.Sparse is not null)
        {
            tokens = new string[d.Sparse.Count];
            tokenWeights = new float[d.Sparse.Count];
            int j = 0;
            foreach (var (token, weight) in d.Sparse)
            {
                if (!float.IsFinite(weight))
                {
                    invalid = $"Document '{id}': the sparse weight of token '{token}' is not a finite number.";
                    return null;
                }
                tokens[j] = token;
                tokenWeights[j++] = weight;
            }
        }
        byte[]? dense = null;
        if (d.Dense is not null)
        {
            if (d.Dense.Length == 0)
            {
                invalid = $"Document '{id}': 'dense' is empty.";
                return null;
            }
            dense = new byte[d.Dense.Length * sizeof(float)];
            for (int j = 0; j < d.Dense.Length; j++)
            {
                if (!float.IsFinite(d.Dense[j]))
                {
                    invalid = $"Document '{id}': 'dense' has a non-finite value at dimension {j}.";
                    return null;
                }
                BinaryPrimitives.WriteSingleLittleEndian(dense.AsSpan(j * sizeof(float)), d.Dense[j]);
            }
        }
        return new UpsertDocument
        {
            Id = id,
            Title = d.Title,
            Text = d.Text,
            SparseTokens = tokens,
            SparseTokenWeights = tokenWeights,
            SparseTermIds = d.SparseTermIds,
            SparseWeights = d.SparseWeights,
            DenseVector = dense,
        };
    }
}
