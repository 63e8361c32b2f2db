using Shoal.Engine.Sparse;

namespace Shoal.Engine.Tests.Sparse;

/// <summary>
/// Small seeded learned-sparse corpora for tests: Zipf-distributed terms over a shuffled vocabulary,
/// log-normal weights (the shape of the sparse-1M benchmark, scaled down).
/// </summary>
internal static class SyntheticSparseCorpus
{
    public static List<SparseDocument> Documents(int count, int seed, int vocab = 30522, int meanLength = 60, string prefix = "doc")
    {
        var rng = new Random(seed);
        var sampler = new ZipfSampler(vocab, 0.9, seed);
        var docs = new List<SparseDocument>(count);
        for (int i = 0; i < count; i++)
        {
            int length = Math.Clamp((int)Math.Round(meanLength * Math.Exp(0.5 * Normal(rng))), 1, 400);
            docs.Add(new SparseDocument($"{prefix}{i:D7}", i % 3 == 0 ? null : $"text of {prefix} {i}", Vector(rng, sampler, length)));
        }
        return docs;
    }

    public static List<SparseVector> Queries(int count, int seed, int vocab = 30522, int terms = 30)
    {
        var rng = new Random(seed);
        var sampler = new ZipfSampler(vocab, 0.9, seed == 0 ? 1 : seed);
        var list = new List<SparseVector>(count);
        for (int i = 0; i < count; i++) list.Add(Vector(rng, sampler, terms));
        return list;
    }

    private static SparseVector Vector(Random rng, ZipfSampler sampler, int length)
    {
        var seen = new HashSet<int>();
        var pairs = new List<(int, float)>(length);
        int guard = 0;
        while (pairs.Count < length && guard++ < length * 50)
        {
            int t = sampler.Next(rng);
            if (seen.Add(t)) pairs.Add((t, (float)Math.Exp(0.6 * Normal(rng))));
        }
        return SparseVector.Create(pairs);
    }

    private static double Normal(Random rng)
    {
        double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }

    private sealed class ZipfSampler
    {
        private readonly double[] _cdf;
        private readonly int[] _permutation;

        public ZipfSampler(int vocab, double s, int seed)
        {
            _cdf = new double[vocab];
            double sum = 0;
            for (int i = 0; i < vocab; i++) _cdf[i] = sum += Math.Pow(i + 1, -s);
            for (int i = 0; i < vocab; i++) _cdf[i] /= sum;
            _permutation = Enumerable.Range(0, vocab).ToArray();
            new Random(seed * 31 + 7).Shuffle(_permutation);
        }

        public int Next(Random rng)
        {
            int i = Array.BinarySearch(_cdf, rng.NextDouble());
            if (i < 0) i = ~i;
            return _permutation[Math.Min(i, _cdf.Length - 1)];
        }
    }
}
