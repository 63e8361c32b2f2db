using Shoal.Engine.Dense;
using Shoal.Engine.Search;

namespace Shoal.Engine.Tests.Dense;

/// <summary>Generated vectors and a double-precision brute force for the dense tests.</summary>
internal static class DenseTestData
{
    /// <summary>
    /// Clustered Gaussian data like the dense-1M benchmark (centres N(0,1), noise <paramref name="noise"/> per
    /// dimension, L2-normalised rows): <paramref name="count"/> rows, then <paramref name="queries"/> query rows drawn the same way.
    /// </summary>
    public static (float[] Docs, float[] Queries) Clustered(int count, int queries, int dims, int clusters, double noise, int seed, bool normalise = true)
    {
        var rng = new Random(seed);
        var centres = new double[clusters * dims];
        for (int i = 0; i < centres.Length; i++) centres[i] = Gaussian(rng);
        float[] Draw(int n)
        {
            var rows = new float[n * dims];
            for (int r = 0; r < n; r++)
            {
                int c = rng.Next(clusters);
                for (int j = 0; j < dims; j++) rows[r * dims + j] = (float)(centres[c * dims + j] + noise * Gaussian(rng));
                if (normalise) DenseKernels.Normalize(rows.AsSpan(r * dims, dims));
            }
            return rows;
        }
        return (Draw(count), Draw(queries));
    }

    /// <summary>Ids whose ordinal order differs from their position (a reversed, zero-padded counter).</summary>
    public static string[] Ids(int count) => Enumerable.Range(0, count).Select(i => $"doc-{count - 1 - i:D7}").ToArray();

    public static double Gaussian(Random rng)
    {
        double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }

    /// <summary>Scores of every row against <paramref name="query"/> in double precision (cosine: both normalised in double).</summary>
    public static double[] BruteScores(float[] docs, ReadOnlySpan<float> query, int dims, bool cosine)
    {
        int n = docs.Length / dims;
        var q = new double[dims];
        for (int j = 0; j < dims; j++) q[j] = query[j];
        if (cosine) NormaliseInPlace(q);
        var scores = new double[n];
        var d = new double[dims];
        for (int r = 0; r < n; r++)
        {
            for (int j = 0; j < dims; j++) d[j] = docs[r * dims + j];
            if (cosine) NormaliseInPlace(d);
            double s = 0;
            for (int j = 0; j < dims; j++) s += d[j] * q[j];
            scores[r] = s;
        }
        return scores;
    }

    private static void NormaliseInPlace(double[] v)
    {
        double norm = Math.Sqrt(v.Sum(x => x * x));
        if (norm == 0) return;
        for (int i = 0; i < v.Length; i++) v[i] /= norm;
    }

    /// <summary>
    /// Asserts that <paramref name="got"/> (segment doc ids, for rows given by <paramref name="ids"/>) is the exact
    /// top-k of <paramref name="brute"/> (per input row): each position holds the brute-force id, or one whose
    /// double score is within <paramref name="tolerance"/> of it; every returned score is within tolerance.
    /// </summary>
    public static void AssertExact(DenseSegment seg, ScoredDoc[] got, double[] brute, string[] ids, int k, double tolerance)
    {
        var rowOf = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < ids.Length; i++) rowOf[ids[i]] = i;
        var expected = Enumerable.Range(0, brute.Length)
            .OrderByDescending(r => brute[r]).ThenBy(r => ids[r], StringComparer.Ordinal).Take(k).ToArray();
        Assert.Equal(expected.Length, got.Length);
        for (int i = 0; i < got.Length; i++)
        {
            int row = rowOf[seg.GetId(got[i].DocId)];
            Assert.True(Math.Abs(got[i].Score - brute[row]) <= tolerance,
                $"rank {i}: score {got[i].Score} of '{ids[row]}' differs from the double-precision {brute[row]}");
            Assert.True(row == expected[i] || Math.Abs(brute[row] - brute[expected[i]]) <= tolerance,
                $"rank {i}: got '{ids[row]}' ({brute[row]}), expected '{ids[expected[i]]}' ({brute[expected[i]]})");
        }
        for (int i = 1; i < got.Length; i++) Assert.True(got[i - 1].RanksBefore(got[i]), $"results are not in ranking order at {i}");
    }

    /// <summary>Recall of <paramref name="got"/> against <paramref name="truth"/> (doc ids).</summary>
    public static double Recall(ScoredDoc[] got, ScoredDoc[] truth)
    {
        var set = truth.Select(t => t.DocId).ToHashSet();
        return truth.Length == 0 ? 1 : got.Count(g => set.Contains(g.DocId)) / (double)truth.Length;
    }
}
