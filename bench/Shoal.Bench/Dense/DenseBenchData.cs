using System.Globalization;
using Shoal.Engine.Dense;

namespace Shoal.Bench.Dense;

/// <summary>
/// The dense-1M workload's data (../shared/docs/BENCHMARKS.md), generated deterministically:
/// <c>clusters</c> centres with N(0, 1) components; a row picks a centre uniformly, adds N(0, noise²)
/// per dimension and is L2-normalised. Queries are drawn the same way from the same centres.
/// Rows are generated in parallel in chunks of 8,192, each chunk from its own xoshiro256** stream
/// seeded by (seed, kind, chunk), so the files do not depend on the thread count. Files are written in
/// Shoal's SHOALVEC format (see bench/peers/README.md) and reused when their parameters match.
/// Row r of the documents has id <c>d</c> + r as 9 digits, so row order is Shoal's doc order.
/// </summary>
internal static class DenseBenchData
{
    private const int Chunk = 8192;

    public static string DocsPath(string dir, int docs, int dims, int clusters, double noise, int seed) =>
        Path.Combine(dir, string.Create(CultureInfo.InvariantCulture, $"dense-{docs}x{dims}-c{clusters}-n{noise:0.###}-s{seed}.docs.vec"));

    public static string QueriesPath(string dir, int queries, int dims, int clusters, double noise, int seed) =>
        Path.Combine(dir, string.Create(CultureInfo.InvariantCulture, $"dense-{dims}-c{clusters}-n{noise:0.###}-s{seed}-q{queries}.queries.vec"));

    public static string Id(int row) => "d" + row.ToString("D9", CultureInfo.InvariantCulture);

    /// <summary>Writes the file unless one with the same row count and dimensions is already there.</summary>
    public static bool Ensure(string path, int rows, int dims, int clusters, double noise, int seed, ulong kind, int threads)
    {
        if (File.Exists(path))
        {
            try
            {
                using var existing = MappedDenseVectors.Open(path);
                if (existing.Count == rows && existing.Dims == dims) return false;
            }
            catch (DenseVectorException)
            {
            }
        }
        var centres = Centres(clusters, dims, seed);
        var ids = new string[rows];
        for (int i = 0; i < rows; i++) ids[i] = Id(i);
        using var writer = new DenseVectorFileWriter(path, ids, dims);
        int chunks = (rows + Chunk - 1) / Chunk;
        int wave = Math.Max(1, threads) * 2;
        var buffers = new float[wave][];
        for (int first = 0; first < chunks; first += wave)
        {
            int n = Math.Min(wave, chunks - first);
            Parallel.For(0, n, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, threads) }, i =>
            {
                int chunk = first + i;
                int count = Math.Min(Chunk, rows - chunk * Chunk);
                var buffer = buffers[i] ??= new float[Chunk * dims];
                var rng = new Xoshiro256(seed, kind, (ulong)chunk);
                for (int r = 0; r < count; r++) Row(ref rng, centres, clusters, dims, noise, buffer.AsSpan(r * dims, dims));
            });
            for (int i = 0; i < n; i++)
            {
                int count = Math.Min(Chunk, rows - (first + i) * Chunk);
                writer.Append(buffers[i].AsSpan(0, count * dims));
            }
        }
        writer.Complete();
        return true;
    }

    private static double[] Centres(int clusters, int dims, int seed)
    {
        var rng = new Xoshiro256(seed, 0xC0FFEE, 0);
        var c = new double[clusters * dims];
        for (int i = 0; i < c.Length; i++) c[i] = rng.NextGaussian();
        return c;
    }

    private static void Row(ref Xoshiro256 rng, double[] centres, int clusters, int dims, double noise, Span<float> row)
    {
        int c = (int)((rng.Next() >> 32) * (ulong)clusters >> 32);
        double sum = 0;
        for (int j = 0; j < dims; j++)
        {
            double x = centres[c * dims + j] + noise * rng.NextGaussian();
            row[j] = (float)x;
            sum += x * x;
        }
        double inv = 1.0 / Math.Sqrt(sum);
        for (int j = 0; j < dims; j++) row[j] = (float)(row[j] * inv);
    }

    /// <summary>xoshiro256** (Blackman and Vigna) seeded through SplitMix64; Box-Muller normals.</summary>
    private struct Xoshiro256
    {
        private ulong _s0, _s1, _s2, _s3;
        private double _spare;
        private bool _hasSpare;

        public Xoshiro256(int seed, ulong kind, ulong chunk)
        {
            ulong x = (ulong)(uint)seed * 0x9E3779B97F4A7C15UL ^ kind * 0xD1B54A32D192ED03UL ^ chunk * 0xAEF17502108EF2D9UL;
            _s0 = SplitMix(ref x);
            _s1 = SplitMix(ref x);
            _s2 = SplitMix(ref x);
            _s3 = SplitMix(ref x);
            _spare = 0;
            _hasSpare = false;
        }

        private static ulong SplitMix(ref ulong x)
        {
            ulong z = x += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }

        public ulong Next()
        {
            ulong result = ulong.RotateLeft(_s1 * 5, 7) * 9;
            ulong t = _s1 << 17;
            _s2 ^= _s0;
            _s3 ^= _s1;
            _s1 ^= _s2;
            _s0 ^= _s3;
            _s2 ^= t;
            _s3 = ulong.RotateLeft(_s3, 45);
            return result;
        }

        public double NextGaussian()
        {
            if (_hasSpare)
            {
                _hasSpare = false;
                return _spare;
            }
            double u1 = ((Next() >> 11) + 1) * (1.0 / (1UL << 53));
            double u2 = (Next() >> 11) * (1.0 / (1UL << 53));
            double r = Math.Sqrt(-2.0 * Math.Log(u1));
            var (sin, cos) = Math.SinCos(2 * Math.PI * u2);
            _spare = r * sin;
            _hasSpare = true;
            return r * cos;
        }
    }
}
