namespace Shoal.Engine.Search;

/// <summary>
/// A hit as it leaves a shard: the external document id, its score and (optionally) stored
/// fields for display. Hits across shards are ordered by score descending, then id ordinal.
/// </summary>
public sealed record SearchHit(string Id, float Score, string? Title = null, string? Snippet = null) : IRankedHit<SearchHit>
{
    /// <inheritdoc />
    public SearchHit WithScore(float score) => this with { Score = score };

    /// <summary>The cluster-wide ranking order: score descending, then external id ascending (ordinal).</summary>
    public static int Compare(SearchHit a, SearchHit b)
    {
        int c = b.Score.CompareTo(a.Score);
        return c != 0 ? c : string.CompareOrdinal(a.Id, b.Id);
    }
}
