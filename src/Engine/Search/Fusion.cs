namespace Shoal.Engine.Search;

/// <summary>
/// Fuses ranked lists from several channels (BM25, learned sparse, dense) into one ranking.
/// Both methods are deterministic: ties break on the external id (ordinal), as everywhere in Shoal.
/// </summary>
public static class Fusion
{
    /// <summary>The rank constant of reciprocal rank fusion (Cormack, Clarke and Buettcher, SIGIR 2009).</summary>
    public const int DefaultRrfK = 60;

    /// <summary>
    /// Reciprocal rank fusion: score(d) = Σ_c w_c / (rrfK + rank_c(d)), rank 1-based, over the
    /// lists that contain d. Scores need not be comparable across channels. Returns the best
    /// <paramref name="k"/> with their fused scores; stored fields come from the first list holding the document.
    /// </summary>
    public static List<SearchHit> ReciprocalRank(IReadOnlyList<IReadOnlyList<SearchHit>> lists, int k, int rrfK = DefaultRrfK, IReadOnlyList<double>? weights = null) =>
        ReciprocalRank<SearchHit>(lists, k, rrfK, weights);

    /// <inheritdoc cref="ReciprocalRank(IReadOnlyList{IReadOnlyList{SearchHit}}, int, int, IReadOnlyList{double}?)"/>
    public static List<T> ReciprocalRank<T>(IReadOnlyList<IReadOnlyList<T>> lists, int k, int rrfK = DefaultRrfK, IReadOnlyList<double>? weights = null)
        where T : IRankedHit<T>
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(rrfK, 1);
        CheckWeights(lists, weights);
        var fused = new Dictionary<string, (double Score, T First)>(StringComparer.Ordinal);
        for (int c = 0; c < lists.Count; c++)
        {
            double w = weights?[c] ?? 1.0;
            for (int r = 0; r < lists[c].Count; r++)
            {
                var hit = lists[c][r];
                double add = w / (rrfK + r + 1);
                fused[hit.Id] = fused.TryGetValue(hit.Id, out var e) ? (e.Score + add, e.First) : (add, hit);
            }
        }
        return Top(fused, k);
    }

    /// <summary>
    /// Weighted sum of min-max normalised scores: each list's scores are mapped to [0, 1]
    /// (a list whose scores are all equal maps to 1), then score(d) = Σ_c w_c · norm_c(d); a
    /// document missing from a list contributes 0 there.
    /// </summary>
    public static List<SearchHit> WeightedSum(IReadOnlyList<IReadOnlyList<SearchHit>> lists, int k, IReadOnlyList<double>? weights = null) =>
        WeightedSum<SearchHit>(lists, k, weights);

    /// <inheritdoc cref="WeightedSum(IReadOnlyList{IReadOnlyList{SearchHit}}, int, IReadOnlyList{double}?)"/>
    public static List<T> WeightedSum<T>(IReadOnlyList<IReadOnlyList<T>> lists, int k, IReadOnlyList<double>? weights = null) where T : IRankedHit<T>
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        CheckWeights(lists, weights);
        var fused = new Dictionary<string, (double Score, T First)>(StringComparer.Ordinal);
        for (int c = 0; c < lists.Count; c++)
        {
            var list = lists[c];
            if (list.Count == 0) continue;
            double min = double.PositiveInfinity, max = double.NegativeInfinity;
            foreach (var h in list) { min = Math.Min(min, h.Score); max = Math.Max(max, h.Score); }
            double w = weights?[c] ?? 1.0;
            foreach (var hit in list)
            {
                double norm = max > min ? (hit.Score - min) / (max - min) : 1.0;
                double add = w * norm;
                fused[hit.Id] = fused.TryGetValue(hit.Id, out var e) ? (e.Score + add, e.First) : (add, hit);
            }
        }
        return Top(fused, k);
    }

    private static void CheckWeights<T>(IReadOnlyList<IReadOnlyList<T>> lists, IReadOnlyList<double>? weights)
    {
        if (weights is null) return;
        if (weights.Count != lists.Count) throw new ArgumentException($"{weights.Count} weights for {lists.Count} channels.");
        foreach (var w in weights)
            if (!double.IsFinite(w) || w < 0) throw new ArgumentException($"Channel weights must be finite and >= 0 (got {w}).");
    }

    private static List<T> Top<T>(Dictionary<string, (double Score, T First)> fused, int k) where T : IRankedHit<T>
    {
        var all = new List<T>(fused.Count);
        foreach (var (_, (score, first)) in fused) all.Add(first.WithScore((float)score));
        all.Sort(RankOrder.Compare);
        if (all.Count > k) all.RemoveRange(k, all.Count - k);
        return all;
    }
}
