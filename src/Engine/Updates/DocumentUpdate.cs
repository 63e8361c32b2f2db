namespace Shoal.Engine.Updates;

/// <summary>
/// One operation on one document of a live index: an upsert (the whole document, every channel
/// the index has) or a delete by id.
/// </summary>
public sealed record DocumentUpdate
{
    /// <summary>External document id.</summary>
    public required string Id { get; init; }

    /// <summary>True for a delete; a delete carries no other field.</summary>
    public bool Delete { get; init; }

    /// <summary>Title (stored, and analysed with the text for bm25).</summary>
    public string? Title { get; init; }

    /// <summary>Text: analysed for bm25 and stored for snippets.</summary>
    public string? Text { get; init; }

    /// <summary>Sparse vector: term ids of the index vocabulary (unique, any order), parallel to <see cref="SparseWeights"/>.</summary>
    public int[]? SparseTerms { get; init; }

    /// <summary>Sparse weights, finite and non-negative (zeros are dropped).</summary>
    public float[]? SparseWeights { get; init; }

    /// <summary>Dense vector as given (a cosine index normalises it when it scores).</summary>
    public float[]? Dense { get; init; }
}

/// <summary>An ordered batch of operations for one shard; a shard's batches have consecutive sequence numbers from 1.</summary>
/// <param name="Sequence">Position in the shard's update log.</param>
/// <param name="CreatedUtc">When the batch was accepted.</param>
/// <param name="Updates">Operations, applied in order.</param>
public sealed record UpdateBatch(long Sequence, DateTimeOffset CreatedUtc, IReadOnlyList<DocumentUpdate> Updates);

/// <summary>A scored document of the live buffer.</summary>
/// <param name="Id">External document id.</param>
/// <param name="Score">Score on the channel's scale.</param>
public readonly record struct ScoredId(string Id, float Score);
