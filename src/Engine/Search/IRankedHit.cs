namespace Shoal.Engine.Search;

/// <summary>
/// A hit that can be ranked, merged and fused: its external id and score (ordered score
/// descending, then id ordinal, everywhere in Shoal) and a copy with another score. Lets the
/// cluster's wire hit go through <see cref="TopKMerge"/> and <see cref="Fusion"/> as it is,
/// without being copied into another type and back.
/// </summary>
/// <typeparam name="TSelf">The implementing type.</typeparam>
public interface IRankedHit<TSelf> where TSelf : IRankedHit<TSelf>
{
    /// <summary>External document id.</summary>
    string Id { get; }

    /// <summary>Score (higher ranks first).</summary>
    float Score { get; }

    /// <summary>This hit with <paramref name="score"/> instead of its own (fusion's result).</summary>
    TSelf WithScore(float score);
}

/// <summary>The cluster-wide ranking order for any <see cref="IRankedHit{TSelf}"/>.</summary>
public static class RankOrder
{
    /// <summary>Score descending, then external id ascending (ordinal): negative when <paramref name="a"/> ranks first.</summary>
    public static int Compare<T>(T a, T b) where T : IRankedHit<T>
    {
        int c = b.Score.CompareTo(a.Score);
        return c != 0 ? c : string.CompareOrdinal(a.Id, b.Id);
    }
}
