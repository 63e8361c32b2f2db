using Shoal.Engine.Dense;
using Xunit.Abstractions;
using Shoal.Engine.Ingest;

namespace Shoal.Engine.Tests.Dense;

public sealed class DenseSegmentQualityTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("shoal-denseq-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private DenseSegment Build(string[] ids, float[] rows, DenseBuildOptions options, string name)
    {
        string path = Path.Combine(_dir, name);
        DenseSegmentWriter.Write(path, ids, rows, options);
        return DenseSegment.Open(path);
    }

    /// <summary>Quantised storage at its defaults: int8 keeps float32 originals, binary16 does not.</summary>
    [Theory]
    [InlineData(DenseStorage.Float16, null)]
    [InlineData(DenseStorage.Float16, true)]
    [InlineData(DenseStorage.Int8, null)]
    [InlineData(DenseStorage.Int8, false)]
    public void Quantised_flat_search_keeps_recall_at_10_of_at_least_0_99(DenseStorage storage, bool? originals)
    {
        const int Dims = 128, N = 20000, Q = 100;
        var (rows, queries) = DenseTestData.Clustered(N, Q, Dims, 100, 0.6, seed: 11);
        string[] ids = DenseTestData.Ids(N);
        using var exact = Build(ids, rows, new DenseBuildOptions(Dims, DenseMetric.Cosine) { BuildAnnIndex = false }, "f32.seg");
        using var quant = Build(ids, rows, new DenseBuildOptions(Dims, DenseMetric.Cosine, storage) { BuildAnnIndex = false, StoreOriginals = originals }, "q.seg");
        bool hasOriginals = originals ?? storage == DenseStorage.Int8;
        Assert.Equal(storage, quant.Storage);
        Assert.Equal(hasOriginals, quant.HasOriginals);
        Assert.Equal(DenseBuildOptions.DefaultOversample, quant.Oversample);
        Assert.Equal(storage == DenseStorage.Int8 ? Dims + 4 : 2 * Dims, quant.BytesPerVector);
        double ratio = (storage == DenseStorage.Int8 ? 0.35 : 0.6) + (hasOriginals ? 1 : 0);
        Assert.True(quant.SizeBytes < exact.SizeBytes * ratio, $"{quant.SizeBytes} bytes against {exact.SizeBytes} for float32");
        double recall = 0, recall1 = 0, maxError = 0;
        for (int i = 0; i < Q; i++)
        {
            var q = queries.AsSpan(i * Dims, Dims);
            var truth = exact.SearchExact(q, 10);
            var got = quant.SearchExact(q, 10);
            recall += DenseTestData.Recall(got, truth);
            recall1 += DenseTestData.Recall(quant.SearchExact(q, 10, oversample: 1), truth);
            var byDoc = exact.SearchExact(q, N).ToDictionary(h => h.DocId, h => h.Score);
            foreach (var h in got)
            {
                if (hasOriginals) Assert.Equal(byDoc[h.DocId], h.Score); // rescored with the originals: float32 scores, bit for bit
                maxError = Math.Max(maxError, Math.Abs(h.Score - byDoc[h.DocId]));
            }
        }
        recall /= Q;
        recall1 /= Q;
        output.WriteLine($"{storage} originals {hasOriginals}: recall@10 {recall:F4} (oversample 1: {recall1:F4}), max score error {maxError:G3}");
        // Without originals, per-vector 8-bit codes leave a score error of about 0.29 * scale * ||q||_2, which on
        // this densely clustered data (200 near-tied documents per cluster) swaps neighbours at the 10th place:
        // recall@10 is 0.974 (0.97-0.99 over other clusterings and dimensions), a limit of 8-bit scalar codes.
        // Rescoring the best max(4k, 16) by int8 with the float32 originals (the default) restores it.
        double floor = storage == DenseStorage.Int8 && !hasOriginals ? 0.97 : 0.99;
        Assert.True(recall >= floor, $"{storage} recall@10 {recall:F4} < {floor}");
        if (hasOriginals) Assert.True(recall >= recall1);
        Assert.True(maxError < (storage == DenseStorage.Int8 ? 0.02 : 0.002), $"{storage} score error {maxError}");
    }

    [Theory]
    [InlineData(DenseStorage.Float16, null)]
    [InlineData(DenseStorage.Int8, null)]
    [InlineData(DenseStorage.Int8, false)]
    public void Quantised_ann_search_keeps_recall_at_10_of_at_least_0_99_at_the_default_ef(DenseStorage storage, bool? originals)
    {
        const int Dims = 64, N = 10000, Q = 200;
        var (rows, queries) = DenseTestData.Clustered(N, Q, Dims, 100, 0.6, seed: 23);
        string[] ids = DenseTestData.Ids(N);
        using var exact = Build(ids, rows, new DenseBuildOptions(Dims, DenseMetric.Cosine) { BuildAnnIndex = false }, "f32.seg");
        using var quant = Build(ids, rows, new DenseBuildOptions(Dims, DenseMetric.Cosine, storage) { StoreOriginals = originals }, "annq.seg");
        Assert.True(quant.HasAnnIndex);
        bool hasOriginals = originals ?? storage == DenseStorage.Int8;
        double recall = 0;
        for (int i = 0; i < Q; i++)
        {
            var q = queries.AsSpan(i * Dims, Dims);
            var truth = exact.SearchExact(q, 10);
            var got = quant.SearchApproximate(q, 10, HnswParameters.DefaultEfSearch);
            recall += DenseTestData.Recall(got, truth);
            var scores = (hasOriginals ? exact : quant).SearchExact(q, N).ToDictionary(h => h.DocId, h => h.Score);
            foreach (var h in got) Assert.Equal(scores[h.DocId], h.Score);
            for (int j = 1; j < got.Length; j++) Assert.True(got[j - 1].RanksBefore(got[j]));
        }
        recall /= Q;
        output.WriteLine($"{storage} originals {hasOriginals}: ANN recall@10 against float32 exact {recall:F4} at ef {HnswParameters.DefaultEfSearch}");
        double floor = storage == DenseStorage.Int8 && !hasOriginals ? 0.95 : 0.99;
        Assert.True(recall >= floor, $"{storage} ANN recall@10 {recall:F4} < {floor} against float32 exact");
    }

    /// <summary>
    /// The Anserini cosDPR sample (768-d, 100 documents, 2 topics): with so few topics every document is a
    /// query too (its own nearest neighbour). Int8 with originals returns exactly the double-precision
    /// brute-force top 10; binary16 and int8 alone keep recall@10 of at least 0.99.
    /// </summary>
    [Theory]
    [InlineData(DenseStorage.Float16, null, DenseMetric.Dot)]
    [InlineData(DenseStorage.Int8, null, DenseMetric.Dot)]
    [InlineData(DenseStorage.Int8, null, DenseMetric.Cosine)]
    [InlineData(DenseStorage.Int8, false, DenseMetric.Dot)]
    public void Quantised_storage_keeps_recall_on_the_Anserini_sample(DenseStorage storage, bool? originals, DenseMetric metric)
    {
        var docs = DenseVectorReader.Read(TestData.Require("anserini-sample-vectors/cosdpr-distil.sample100.json"), 768).ToList();
        var topics = DenseVectorReader.Read(TestData.Require("anserini-sample-vectors/sample-topics.msmarco-passage-dev-cosdpr-distil.jsonl"), 768).ToList();
        string[] ids = docs.Select(d => d.Id).ToArray();
        float[] rows = docs.SelectMany(d => d.Vector).ToArray();
        var queries = topics.Select(t => t.Vector).Concat(docs.Select(d => d.Vector)).ToList();
        using var exact = Build(ids, rows, new DenseBuildOptions(768, metric) { BuildAnnIndex = false }, "f32.seg");
        using var quant = Build(ids, rows, new DenseBuildOptions(768, metric, storage) { StoreOriginals = originals }, "q.seg");
        bool hasOriginals = originals ?? storage == DenseStorage.Int8;
        double flat = 0, ann = 0;
        foreach (var q in queries)
        {
            var truth = exact.SearchExact(q, 10);
            var got = quant.SearchExact(q, 10);
            var approx = quant.SearchApproximate(q, 10, HnswParameters.DefaultEfSearch);
            flat += DenseTestData.Recall(got, truth);
            ann += DenseTestData.Recall(approx, truth);
            if (hasOriginals)
            {
                var brute = DenseTestData.BruteScores(rows, q, 768, metric == DenseMetric.Cosine);
                DenseTestData.AssertExact(quant, got, brute, ids, 10, 1e-5);
                DenseTestData.AssertExact(quant, approx, brute, ids, 10, 1e-5);
                Assert.Equal(truth, got);
            }
        }
        var batch = quant.SearchExactBatch(queries.SelectMany(q => q).ToArray(), 10);
        for (int i = 0; i < queries.Count; i++) Assert.Equal(quant.SearchExact(queries[i], 10), batch[i]);
        flat /= queries.Count;
        ann /= queries.Count;
        output.WriteLine($"{storage} originals {hasOriginals} {metric}: recall@10 flat {flat:F4}, ANN {ann:F4} over {queries.Count} queries");
        Assert.True(flat >= 0.99, $"flat recall@10 {flat:F4}");
        Assert.True(ann >= 0.99, $"ANN recall@10 {ann:F4}");
    }

    [Fact]
    public void Int8_error_stays_within_the_documented_bound()
    {
        const int Dims = 96;
        var (rows, queries) = DenseTestData.Clustered(500, 5, Dims, 5, 0.6, seed: 5, normalise: false);
        string[] ids = DenseTestData.Ids(500);
        using var seg = Build(ids, rows, new DenseBuildOptions(Dims, DenseMetric.Dot, DenseStorage.Int8) { BuildAnnIndex = false, StoreOriginals = false }, "i8.seg");
        for (int qi = 0; qi < 5; qi++)
        {
            var q = queries.AsSpan(qi * Dims, Dims).ToArray();
            double l1 = q.Sum(x => Math.Abs((double)x));
            var brute = DenseTestData.BruteScores(rows, q, Dims, cosine: false);
            foreach (var h in seg.SearchExact(q, 500))
            {
                int row = Array.IndexOf(ids, seg.GetId(h.DocId));
                double maxAbs = rows.AsSpan(row * Dims, Dims).ToArray().Max(x => Math.Abs((double)x));
                Assert.True(Math.Abs(h.Score - brute[row]) <= maxAbs / 254 * l1 * 1.001 + 1e-4);
            }
        }
    }

    [Theory]
    [InlineData(DenseStorage.Float32, true)]
    [InlineData(DenseStorage.Float32, false)]
    [InlineData(DenseStorage.Int8, false)] // int8 rows with float32 originals
    public void Ann_recall_at_10_is_at_least_0_95_at_the_default_ef(DenseStorage storage, bool int8Navigation)
    {
        const int Dims = 64, N = 20000, Q = 200;
        var (rows, queries) = DenseTestData.Clustered(N, Q, Dims, 200, 0.6, seed: 21);
        using var seg = Build(DenseTestData.Ids(N), rows,
            new DenseBuildOptions(Dims, DenseMetric.Cosine, storage) { Int8Navigation = int8Navigation }, "ann.seg");
        Assert.True(seg.HasAnnIndex);
        Assert.Equal(int8Navigation, seg.HasInt8Navigation);
        Assert.Equal(storage == DenseStorage.Int8, seg.HasOriginals);
        Assert.Equal(new HnswParameters(), seg.AnnParameters);
        double recall = 0;
        for (int i = 0; i < Q; i++)
        {
            var q = queries.AsSpan(i * Dims, Dims);
            var truth = seg.SearchExact(q, 10);
            var got = seg.SearchApproximate(q, 10, HnswParameters.DefaultEfSearch);
            recall += DenseTestData.Recall(got, truth);
            var exactScores = seg.SearchExact(q, N).ToDictionary(h => h.DocId, h => h.Score);
            foreach (var h in got) Assert.Equal(exactScores[h.DocId], h.Score); // same kernel order: bit-identical
            for (int j = 1; j < got.Length; j++) Assert.True(got[j - 1].RanksBefore(got[j]));
        }
        recall /= Q;
        output.WriteLine($"{storage} navigation {int8Navigation}: ANN recall@10 {recall:F4} at ef {HnswParameters.DefaultEfSearch}");
        Assert.True(recall >= 0.95, $"ANN recall@10 {recall:F4} < 0.95 at ef {HnswParameters.DefaultEfSearch}");
    }

    [Theory]
    [InlineData(DenseStorage.Float16)]
    [InlineData(DenseStorage.Int8)]
    public void Ann_works_over_quantised_storage(DenseStorage storage)
    {
        const int Dims = 64, N = 8000, Q = 100;
        var (rows, queries) = DenseTestData.Clustered(N, Q, Dims, 80, 0.6, seed: 31);
        using var seg = Build(DenseTestData.Ids(N), rows, new DenseBuildOptions(Dims, DenseMetric.Cosine, storage), "annq.seg");
        double recall = 0;
        for (int i = 0; i < Q; i++)
        {
            var q = queries.AsSpan(i * Dims, Dims);
            recall += DenseTestData.Recall(seg.SearchApproximate(q, 10, HnswParameters.DefaultEfSearch), seg.SearchExact(q, 10));
        }
        Assert.True(recall / Q >= 0.95, $"{storage} ANN recall@10 {recall / Q:F4}");
    }

    [Fact]
    public void Larger_ef_does_not_lower_recall_and_k_above_ef_is_served()
    {
        const int Dims = 32, N = 5000;
        var (rows, queries) = DenseTestData.Clustered(N, 20, Dims, 50, 0.6, seed: 41);
        using var seg = Build(DenseTestData.Ids(N), rows, new DenseBuildOptions(Dims, DenseMetric.Dot, Hnsw: new HnswParameters(8, 100)), "ef.seg");
        double low = 0, high = 0;
        for (int i = 0; i < 20; i++)
        {
            var q = queries.AsSpan(i * Dims, Dims);
            var truth = seg.SearchExact(q, 10);
            low += DenseTestData.Recall(seg.SearchApproximate(q, 10, 10), truth);
            high += DenseTestData.Recall(seg.SearchApproximate(q, 10, 400), truth);
            Assert.Equal(100, seg.SearchApproximate(q, 100, 10).Length);
        }
        Assert.True(high >= low);
        Assert.True(high / 20 >= 0.99);
    }
}
