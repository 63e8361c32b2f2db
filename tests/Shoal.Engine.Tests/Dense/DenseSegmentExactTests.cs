using Shoal.Engine.Dense;

namespace Shoal.Engine.Tests.Dense;

public sealed class DenseSegmentExactTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("shoal-dense-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private DenseSegment Build(string[] ids, float[] rows, DenseBuildOptions options, string name = "s.seg")
    {
        string path = Path.Combine(_dir, name);
        long size = DenseSegmentWriter.Write(path, ids, rows, options);
        Assert.Equal(new FileInfo(path).Length, size);
        return DenseSegment.Open(path);
    }

    [Theory]
    [InlineData(DenseMetric.Dot)]
    [InlineData(DenseMetric.Cosine)]
    public void Exact_equals_double_brute_force_on_the_Anserini_sample(DenseMetric metric)
    {
        var docs = DenseVectorReader.Read(TestData.Require("anserini-sample-vectors/cosdpr-distil.sample100.json"), 768).ToList();
        var queries = DenseVectorReader.Read(TestData.Require("anserini-sample-vectors/sample-topics.msmarco-passage-dev-cosdpr-distil.jsonl"), 768).ToList();
        string[] ids = docs.Select(d => d.Id).ToArray();
        float[] rows = docs.SelectMany(d => d.Vector).ToArray();
        using var seg = Build(ids, rows, new DenseBuildOptions(768, metric));
        Assert.Equal(100, seg.Count);
        foreach (var (_, q) in queries)
        {
            var brute = DenseTestData.BruteScores(rows, q, 768, metric == DenseMetric.Cosine);
            DenseTestData.AssertExact(seg, seg.SearchExact(q, 10), brute, ids, 10, 1e-5);
            DenseTestData.AssertExact(seg, seg.SearchExact(q, 100), brute, ids, 100, 1e-5);
            DenseTestData.AssertExact(seg, seg.SearchApproximate(q, 10, 100), brute, ids, 10, 1e-5);
        }
        var batch = seg.SearchExactBatch(queries.SelectMany(q => q.Vector).ToArray(), 10);
        for (int i = 0; i < queries.Count; i++) Assert.Equal(seg.SearchExact(queries[i].Vector, 10), batch[i]);
    }

    [Theory]
    [InlineData(64, DenseMetric.Dot)]
    [InlineData(100, DenseMetric.Cosine)] // 100 = 12 * 8 + 4: exercises the tail dimensions
    [InlineData(5, DenseMetric.Dot)]      // narrower than one vector register
    public void Exact_equals_double_brute_force_on_generated_data(int dims, DenseMetric metric)
    {
        var (rows, queries) = DenseTestData.Clustered(3001, 9, dims, 20, 0.6, seed: dims, normalise: false);
        string[] ids = DenseTestData.Ids(3001);
        using var seg = Build(ids, rows, new DenseBuildOptions(dims, metric) { BuildAnnIndex = false });
        Assert.False(seg.HasAnnIndex);
        for (int i = 0; i < 9; i++)
        {
            var q = queries.AsSpan(i * dims, dims);
            var brute = DenseTestData.BruteScores(rows, q, dims, metric == DenseMetric.Cosine);
            double tol = metric == DenseMetric.Cosine ? 1e-5 : 1e-4 * Math.Max(1, brute.Max(Math.Abs));
            DenseTestData.AssertExact(seg, seg.SearchExact(q, 10), brute, ids, 10, tol);
            DenseTestData.AssertExact(seg, seg.SearchExact(q, 1), brute, ids, 1, tol);
            Assert.Equal(seg.SearchExact(q, 10), seg.SearchApproximate(q, 10, 50)); // no graph: exact
        }
    }

    [Theory]
    [InlineData(DenseStorage.Float32, 64)]
    [InlineData(DenseStorage.Float32, 100)]
    [InlineData(DenseStorage.Float16, 64)]
    [InlineData(DenseStorage.Float16, 100)]
    [InlineData(DenseStorage.Int8, 64)]
    [InlineData(DenseStorage.Int8, 100)]
    [InlineData(DenseStorage.Float32, 7)]
    public void Batch_equals_single_query_bit_for_bit(DenseStorage storage, int dims)
    {
        var (rows, queries) = DenseTestData.Clustered(2049, 13, dims, 16, 0.6, seed: 7 + dims);
        string[] ids = DenseTestData.Ids(2049);
        using var seg = Build(ids, rows, new DenseBuildOptions(dims, DenseMetric.Cosine, storage) { BuildAnnIndex = false });
        foreach (int k in new[] { 1, 10, 3000 })
        {
            var batch = seg.SearchExactBatch(queries, k);
            Assert.Equal(13, batch.Length);
            for (int i = 0; i < 13; i++)
            {
                var single = seg.SearchExact(queries.AsSpan(i * dims, dims), k);
                Assert.Equal(Math.Min(k, 2049), single.Length);
                Assert.Equal(single, batch[i]);
            }
        }
        var one = seg.SearchExactBatch(queries.AsSpan(0, dims), 5);
        Assert.Equal(seg.SearchExact(queries.AsSpan(0, dims), 5), Assert.Single(one));
    }

    [Fact]
    public void Ties_rank_by_external_id_and_cosine_zero_vectors_score_zero()
    {
        string[] ids = ["m", "b", "z", "a", "zero"];
        float[] rows = [1, 0, 2, 0, 1, 1, 3, 0, 0, 0];
        using var seg = Build(ids, rows, new DenseBuildOptions(2, DenseMetric.Cosine));
        var hits = seg.SearchExact([5, 0], 5);
        Assert.Equal(new[] { "a", "b", "m", "z", "zero" }, hits.Select(h => seg.GetId(h.DocId)));
        Assert.Equal(1f, hits[0].Score, 6);
        Assert.Equal(0f, hits[4].Score);
        Assert.Equal(new[] { 0, 1, 2 }, hits.Take(3).Select(h => h.DocId)); // doc ids follow ordinal id order
        Assert.All(seg.SearchExact([0, 0], 5), h => Assert.Equal(0f, h.Score));
        Assert.Equal(hits.Select(h => h.DocId), seg.SearchExactBatch([5, 0], 5)[0].Select(h => h.DocId));
    }

    [Fact]
    public void Queries_are_validated()
    {
        using var seg = Build(["a"], [1, 2, 3], new DenseBuildOptions(3));
        Assert.Contains("2 dimensions", Assert.Throws<ArgumentException>(() => seg.SearchExact([1, 2], 1)).Message);
        Assert.Contains("NaN", Assert.Throws<ArgumentException>(() => seg.SearchExact([1, float.NaN, 2], 1)).Message);
        Assert.Throws<ArgumentException>(() => seg.SearchApproximate([1, float.PositiveInfinity, 2], 1, 10));
        Assert.Throws<ArgumentException>(() => seg.SearchExactBatch([1, 2, 3, 4], 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => seg.SearchExact([1, 2, 3], 0));
        Assert.Single(seg.SearchExact([1, 2, 3], 100));
    }

    [Fact]
    public void Concurrent_searches_agree_with_sequential_ones()
    {
        var (rows, queries) = DenseTestData.Clustered(4000, 32, 48, 30, 0.6, seed: 3);
        using var seg = Build(DenseTestData.Ids(4000), rows, new DenseBuildOptions(48, DenseMetric.Dot, Hnsw: new HnswParameters(8, 64)));
        var expectedExact = Enumerable.Range(0, 32).Select(i => seg.SearchExact(queries.AsSpan(i * 48, 48), 10)).ToArray();
        var expectedAnn = Enumerable.Range(0, 32).Select(i => seg.SearchApproximate(queries.AsSpan(i * 48, 48), 10, 40)).ToArray();
        Parallel.For(0, 256, new ParallelOptions { MaxDegreeOfParallelism = 8 }, j =>
        {
            int i = j % 32;
            Assert.Equal(expectedExact[i], seg.SearchExact(queries.AsSpan(i * 48, 48), 10));
            Assert.Equal(expectedAnn[i], seg.SearchApproximate(queries.AsSpan(i * 48, 48), 10, 40));
        });
    }
}
