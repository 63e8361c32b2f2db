namespace Shoal.Engine.Search;

/// <summary>A segment-local document number with its score.</summary>
/// <remarks>
/// Segments number documents in ordinal order of their external ids, so ordering by
/// <see cref="DocId"/> inside a segment is the same as ordering by external id across shards.
/// </remarks>
public readonly record struct ScoredDoc(int DocId, float Score)
{
    /// <summary>
    /// The ranking order used everywhere in Shoal: higher score first, then lower doc id.
    /// Returns true when this entry ranks strictly before <paramref name="other"/>.
    /// </summary>
    public bool RanksBefore(ScoredDoc other) =>
        Score > other.Score || (Score == other.Score && DocId < other.DocId);
}
