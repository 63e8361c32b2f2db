using System.Net.Http.Json;

namespace Shoal.Client;

/// <summary>
/// A document to insert or replace by id on a live index (the whole document is replaced).
/// It carries each channel of the index: <see cref="Text"/> for bm25; a sparse vector as
/// <see cref="Sparse"/> (token weights) or <see cref="SparseTermIds"/> with
/// <see cref="SparseWeights"/>, unless the sparse channel has an encoder; a <see cref="Dense"/>
/// vector unless the dense channel has an encoder (encoders read title and text).
/// </summary>
/// <param name="Id">Document id.</param>
public sealed record DocumentInput(string Id)
{
    /// <summary>Title (stored, and indexed with the text).</summary>
    public string? Title { get; init; }

    /// <summary>Body text.</summary>
    public string? Text { get; init; }

    /// <summary>Sparse vector: token of the index vocabulary → weight.</summary>
    public IReadOnlyDictionary<string, float>? Sparse { get; init; }

    /// <summary>Sparse vector as term ids of the index vocabulary (with <see cref="SparseWeights"/>).</summary>
    public IReadOnlyList<int>? SparseTermIds { get; init; }

    /// <summary>Weights of <see cref="SparseTermIds"/>.</summary>
    public IReadOnlyList<float>? SparseWeights { get; init; }

    /// <summary>Dense vector (the index's dimensions).</summary>
    public float[]? Dense { get; init; }
}

/// <summary>
/// What an update did. When the call returns the updates are durable and visible to the next
/// search. A call sent in several requests sums <see cref="Upserted"/> and <see cref="Deleted"/>
/// over them; <see cref="Version"/> and <see cref="PendingOperations"/> are the last answer's.
/// </summary>
/// <param name="Index">Index name.</param>
/// <param name="Version">The published version the updates apply on top of.</param>
/// <param name="Upserted">Documents inserted or replaced.</param>
/// <param name="Deleted">Ids deleted that the index held (ids it did not hold are not counted).</param>
/// <param name="PendingOperations">Operations waiting for the next merge, over all shards.</param>
public sealed record UpdateOutcome(string Index, long Version, int Upserted, int Deleted, long PendingOperations)
{
    /// <summary>HTTP requests the call was sent in.</summary>
    public int Requests { get; init; } = 1;
}

internal sealed record UpdateBody(IReadOnlyList<DocumentInput>? Documents, IReadOnlyList<string>? Deletes);

public sealed partial class ShoalClient
{
    /// <summary>Most operations (upserted documents plus deleted ids) the gateway accepts per request.</summary>
    public const int MaxOperationsPerRequest = 10_000;

    /// <summary>Operations sent per request by default.</summary>
    public const int DefaultUpdateBatchSize = 1_000;

    /// <summary>Inserts or replaces documents by id; see <see cref="UpdateAsync"/>.</summary>
    public Task<UpdateOutcome> UpsertAsync(string index, IEnumerable<DocumentInput> documents, int batchSize = DefaultUpdateBatchSize,
        IProgress<UpdateOutcome>? progress = null, CancellationToken cancellationToken = default) =>
        UpdateAsync(index, documents, [], batchSize, progress, cancellationToken);

    /// <summary>Deletes documents by id (ids the index does not hold are not an error); see <see cref="UpdateAsync"/>.</summary>
    public Task<UpdateOutcome> DeleteAsync(string index, IEnumerable<string> ids, int batchSize = DefaultUpdateBatchSize,
        IProgress<UpdateOutcome>? progress = null, CancellationToken cancellationToken = default) =>
        UpdateAsync(index, [], ids, batchSize, progress, cancellationToken);

    /// <summary>Deletes one document by id (<c>DELETE /v1/indexes/{index}/documents/{id}</c>).</summary>
    public async Task<UpdateOutcome> DeleteAsync(string index, string id, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(id);
        using var response = await _http.DeleteAsync($"v1/indexes/{Uri.EscapeDataString(index)}/documents/{Uri.EscapeDataString(id)}", cancellationToken).ConfigureAwait(false);
        return await ReadAsync<UpdateOutcome>(response, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Upserts and deletes documents by id on a live index (<c>POST /v1/indexes/{index}/documents</c>).
    /// When this returns the updates are durable and visible to the next search; a merge
    /// (automatic, or <see cref="MergeAsync"/>) later folds them into a new version.
    /// <para>
    /// Large inputs are streamed in requests of at most <paramref name="batchSize"/> operations
    /// (1..<see cref="MaxOperationsPerRequest"/>), upserts first, in order, then deletes. A document
    /// id repeated among the upserts starts a new request, so the later copy wins. Requests are not
    /// retried, and those before a failing one stay applied: <paramref name="progress"/> reports the
    /// running totals after each request.
    /// </para>
    /// </summary>
    /// <exception cref="ArgumentException">An id is both upserted and deleted, an id is empty, a vector has a non-finite value, nothing is given, or <paramref name="batchSize"/> is out of range (checked as the input is read: requests sent before stay applied).</exception>
    /// <exception cref="ShoalApiException">The server refused a request (400 naming the bad document, 404 unknown index, 503 encoder unavailable).</exception>
    public async Task<UpdateOutcome> UpdateAsync(string index, IEnumerable<DocumentInput> upserts, IEnumerable<string> deletes, int batchSize = DefaultUpdateBatchSize,
        IProgress<UpdateOutcome>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(upserts);
        ArgumentNullException.ThrowIfNull(deletes);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(batchSize, MaxOperationsPerRequest);
        // Deletes are ids only: held whole, so an id both upserted and deleted is refused before anything is sent.
        var deleteIds = new List<string>();
        var deleteSet = new HashSet<string>(StringComparer.Ordinal);
        foreach (string id in deletes)
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(id, nameof(deletes));
            if (deleteSet.Add(id)) deleteIds.Add(id);
        }

        UpdateOutcome? total = null;
        var batch = new List<DocumentInput>(Math.Min(batchSize, 1024));
        var batchIds = new HashSet<string>(StringComparer.Ordinal);
        async Task SendAsync(IReadOnlyList<DocumentInput>? documents, IReadOnlyList<string>? ids)
        {
            using var response = await _http.PostAsJsonAsync($"v1/indexes/{Uri.EscapeDataString(index)}/documents", new UpdateBody(documents, ids), Json, cancellationToken).ConfigureAwait(false);
            var outcome = await ReadAsync<UpdateOutcome>(response, cancellationToken).ConfigureAwait(false);
            total = total is null ? outcome : outcome with
            {
                Upserted = total.Upserted + outcome.Upserted,
                Deleted = total.Deleted + outcome.Deleted,
                Requests = total.Requests + 1,
            };
            progress?.Report(total);
        }

        foreach (var document in upserts)
        {
            CheckDocument(document, nameof(upserts));
            if (deleteSet.Contains(document.Id))
                throw new ArgumentException($"Document '{document.Id}' is both upserted and deleted; send the delete and the upsert in separate calls, in the order they should apply.", nameof(deletes));
            if (batch.Count == batchSize || batchIds.Contains(document.Id))
            {
                await SendAsync([.. batch], null).ConfigureAwait(false);
                batch.Clear();
                batchIds.Clear();
            }
            batch.Add(document);
            batchIds.Add(document.Id);
        }
        int next = 0;
        // The last upserts share a request with the first deletes.
        int room = batchSize - batch.Count;
        if (batch.Count > 0 || deleteIds.Count > 0)
        {
            int take = Math.Min(room, deleteIds.Count);
            await SendAsync(batch.Count > 0 ? [.. batch] : null, take > 0 ? deleteIds.GetRange(0, take) : null).ConfigureAwait(false);
            next = take;
        }
        for (; next < deleteIds.Count; next += batchSize)
            await SendAsync(null, deleteIds.GetRange(next, Math.Min(batchSize, deleteIds.Count - next))).ConfigureAwait(false);
        if (total is null) throw new ArgumentException("Nothing to update: give documents to upsert and/or ids to delete.", nameof(upserts));
        return total;
    }

    /// <summary>What the gateway would refuse and JSON cannot carry: an empty id, non-finite numbers.</summary>
    private static void CheckDocument(DocumentInput? document, string paramName)
    {
        if (document is null) throw new ArgumentException("A document to upsert is null.", paramName);
        if (string.IsNullOrWhiteSpace(document.Id)) throw new ArgumentException("A document to upsert has an empty id; every document needs one.", paramName);
        if (document.Dense is { } dense)
            for (int i = 0; i < dense.Length; i++)
                if (!float.IsFinite(dense[i])) throw new ArgumentException($"Document '{document.Id}': the dense vector has a non-finite value at dimension {i}.", paramName);
        if (document.Sparse is { } sparse)
            foreach (var (token, weight) in sparse)
                if (!float.IsFinite(weight)) throw new ArgumentException($"Document '{document.Id}': the sparse weight of token '{token}' is not a finite number.", paramName);
        if (document.SparseWeights is { } weights)
            for (int i = 0; i < weights.Count; i++)
                if (!float.IsFinite(weights[i])) throw new ArgumentException($"Document '{document.Id}': the sparse weight at position {i} is not a finite number.", paramName);
    }

    /// <summary>
    /// Starts merging an index's pending updates into a new version (<c>POST /v1/indexes/{index}/merge</c>);
    /// returns at once with the merge status. Updates keep being accepted while it runs.
    /// </summary>
    public async Task<IngestProgress> MergeAsync(string index, CancellationToken cancellationToken = default)
    {
        using var response = await _http.PostAsync($"v1/indexes/{Uri.EscapeDataString(index)}/merge", content: null, cancellationToken).ConfigureAwait(false);
        return await ReadAsync<IngestProgress>(response, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Polls <c>GET /v1/indexes/{index}</c> until its merge is no longer running, reporting each
    /// status; returns the last status (check <see cref="IngestProgress.State"/>: "succeeded" with
    /// the new <see cref="IngestProgress.Version"/>, or "failed" with the error). Returns null when
    /// the index reports no merge.
    /// </summary>
    public async Task<IngestProgress?> WaitForMergeAsync(string index, IProgress<IngestProgress>? progress = null, TimeSpan? pollInterval = null, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            var info = await GetIndexAsync(index, cancellationToken).ConfigureAwait(false)
                ?? throw new ShoalApiException(System.Net.HttpStatusCode.NotFound, "Not found", $"Index '{index}' does not exist.");
            var merge = info.Updates?.Merge;
            if (merge is null) return null;
            progress?.Report(merge);
            if (merge.State != "running") return merge;
            await Task.Delay(pollInterval ?? TimeSpan.FromMilliseconds(500), cancellationToken).ConfigureAwait(false);
        }
    }
}
