using Shoal.Engine.Dense;
using Shoal.Engine.Ingest;

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
    [InlineData(DenseStorage.Float32, 64, null)]
    [InlineData(DenseStorage.Float32, 100, null)]
    [InlineData(DenseStorage.Float16, 64, null)]
    [InlineData(DenseStorage.Float16, 100, true)]
    [InlineData(DenseStorage.Int8, 64, null)]   // with originals (the default): rescored
    [InlineData(DenseStorage.Int8, 100, null)]
    [InlineData(DenseStorage.Int8, 64, false)]
    [InlineData(DenseStorage.Int8, 100, false)]
    [InlineData(DenseStorage.Int8, 7, null)]    // the scalar batch path, rescored
    [InlineData(DenseStorage.Float32, 7, null)]
    public void Batch_equals_single_query_bit_for_bit(DenseStorage storage, int dims, bool? originals)
    {
        var (rows, queries) = DenseTestData.Clustered(2049, 13, dims, 16, 0.6, seed: 7 + dims);
        string[] ids = DenseTestData.Ids(2049);
        using var seg = Build(ids, rows, new DenseBuildOptions(dims, DenseMetric.Cosine, storage) { BuildAnnIndex = false, StoreOriginals = originals });
        foreach (int k in new[] { 1, 10, 3000 })
        {
            var batch = seg.SearchExactBatch(queries, k);
            var batch1 = seg.SearchExactBatch(queries, k, oversample: 1);
            var batch9 = seg.SearchExactBatch(queries, k, oversample: 9.5f);
            Assert.Equal(13, batch.Length);
            for (int i = 0; i < 13; i++)
            {
                var q = queries.AsSpan(i * dims, dims);
                var single = seg.SearchExact(q, k);
                Assert.Equal(Math.Min(k, 2049), single.Length);
                Assert.Equal(single, batch[i]);
                Assert.Equal(seg.SearchExact(q, k, oversample: 1), batch1[i]);
                Assert.Equal(seg.SearchExact(q, k, oversample: 9.5f), batch9[i]);
            }
        }
        var one = seg.SearchExactBatch(queries.AsSpan(0, dims), 5);
        Assert.Equal(seg.SearchExact(queries.AsSpan(0, dims), 5), Assert.Single(one));
    }

    [Theory]
    [InlineData(64, DenseMetric.Dot)]
    [InlineData(100, DenseMetric.Cosine)]
    public void Int8_with_originals_returns_float32_scores_equal_to_double_brute_force(int dims, DenseMetric metric)
    {
        var (rows, queries) = DenseTestData.Clustered(3001, 9, dims, 20, 0.6, seed: dims, normalise: false);
        string[] ids = DenseTestData.Ids(3001);
        using var f32 = Build(ids, rows, new DenseBuildOptions(dims, metric) { BuildAnnIndex = false }, "f32.seg");
        using var seg = Build(ids, rows, new DenseBuildOptions(dims, metric, DenseStorage.Int8) { BuildAnnIndex = false }, "i8.seg");
        Assert.True(seg.HasOriginals);
        for (int i = 0; i < 9; i++)
        {
            var q = queries.AsSpan(i * dims, dims);
            var brute = DenseTestData.BruteScores(rows, q, dims, metric == DenseMetric.Cosine);
            double tol = metric == DenseMetric.Cosine ? 1e-5 : 1e-4 * Math.Max(1, brute.Max(Math.Abs));
            DenseTestData.AssertExact(seg, seg.SearchExact(q, 10), brute, ids, 10, tol);
            DenseTestData.AssertExact(seg, seg.SearchExact(q, 1), brute, ids, 1, tol);
            DenseTestData.AssertExact(seg, seg.SearchExact(q, 100, oversample: 2), brute, ids, 100, tol);
            Assert.Equal(f32.SearchExact(q, 10), seg.SearchExact(q, 10));
            // Oversample 1 rescores the int8 top k: the same documents as int8 alone, with float32 scores.
            var top = seg.SearchExact(q, 10, oversample: 1);
            Assert.All(top, h => Assert.Equal(brute[Array.IndexOf(ids, seg.GetId(h.DocId))], h.Score, tol));
        }
    }

    [Fact]
    public void Rescore_candidates_follow_the_oversample_factor()
    {
        var (rows, _) = DenseTestData.Clustered(100, 0, 8, 2, 0.6, seed: 1);
        using var seg = Build(DenseTestData.Ids(100), rows, new DenseBuildOptions(8, Storage: DenseStorage.Int8) { Oversample = 2.5f, BuildAnnIndex = false });
        Assert.Equal(2.5f, seg.Oversample);
        Assert.Equal(25, seg.RescoreCandidates(10, 2.5f));
        Assert.Equal(16, seg.RescoreCandidates(1, 2.5f));  // at least 16 when oversampling
        Assert.Equal(1, seg.RescoreCandidates(1, 1f));     // 1: exactly k
        Assert.Equal(100, seg.RescoreCandidates(60, 4f));  // at most the document count
        Assert.Equal(100, seg.RescoreCandidates(500, 1f));
        Assert.Throws<ArgumentOutOfRangeException>(() => seg.RescoreCandidates(10, 0.5f));
        Assert.Throws<ArgumentOutOfRangeException>(() => seg.SearchExact(rows.AsSpan(0, 8), 10, float.NaN));
        Assert.Throws<ArgumentOutOfRangeException>(() => seg.SearchExactBatch(rows.AsSpan(0, 8), 10, 0.99f));
        Assert.Throws<ArgumentOutOfRangeException>(() => seg.SearchApproximate(rows.AsSpan(0, 8), 10, 10, float.PositiveInfinity));
        string p = Path.Combine(_dir, "bad.seg");
        Assert.Throws<ArgumentOutOfRangeException>(() => DenseSegmentWriter.Write(p, ["a"], [1f, 2f], new DenseBuildOptions(2) { Oversample = 0.5f }));
        Assert.Throws<ArgumentOutOfRangeException>(() => DenseSegmentWriter.Write(p, ["a"], [1f, 2f], new DenseBuildOptions(2) { Oversample = float.NaN }));
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
