using Shoal.Engine.Dense;
using Shoal.Engine.Segments;

namespace Shoal.Engine.Tests.Dense;

public sealed class DenseSegmentFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("shoal-densef-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, string[] ids, float[] rows, DenseBuildOptions options)
    {
        string path = Path.Combine(_dir, name);
        DenseSegmentWriter.Write(path, ids, rows, options);
        return path;
    }

    [Theory]
    [InlineData(DenseStorage.Float32, null)]
    [InlineData(DenseStorage.Float16, null)]
    [InlineData(DenseStorage.Float16, true)]
    [InlineData(DenseStorage.Int8, null)]
    [InlineData(DenseStorage.Int8, false)]
    public void Round_trips_ids_vectors_and_metadata(DenseStorage storage, bool? originals)
    {
        string[] ids = ["b", "a", "B", "ä", "a0", "10", "9"];
        var (rows, _) = DenseTestData.Clustered(ids.Length, 0, 12, 2, 0.6, seed: 1, normalise: false);
        string path = Write("rt.seg", ids, rows, new DenseBuildOptions(12, DenseMetric.Dot, storage, new HnswParameters(4, 20, 7), Threads: 1)
        {
            StoreOriginals = originals,
            Oversample = 3,
        });
        bool hasOriginals = originals ?? storage == DenseStorage.Int8;
        using var seg = DenseSegment.Open(path);
        Assert.Equal(7, seg.Count);
        Assert.Equal(12, seg.Dims);
        Assert.Equal(DenseMetric.Dot, seg.Metric);
        Assert.Equal(storage, seg.Storage);
        Assert.True(seg.HasAnnIndex);
        Assert.Equal(new HnswParameters(4, 20, 7), seg.AnnParameters);
        Assert.Equal(storage != DenseStorage.Int8, seg.HasInt8Navigation);
        Assert.Equal(hasOriginals, seg.HasOriginals);
        Assert.Equal(3f, seg.Oversample);
        Assert.Equal(new FileInfo(path).Length, seg.SizeBytes);
        var sorted = ids.OrderBy(x => x, StringComparer.Ordinal).ToArray();
        Assert.Equal(sorted, Enumerable.Range(0, 7).Select(seg.GetId));
        double tol = hasOriginals ? 0 : storage switch { DenseStorage.Float32 => 0, DenseStorage.Float16 => 2e-3, _ => 0.03 };
        for (int i = 0; i < ids.Length; i++)
        {
            int doc = seg.FindDocument(ids[i]);
            Assert.Equal(ids[i], seg.GetId(doc));
            var v = seg.GetVector(doc);
            for (int j = 0; j < 12; j++) Assert.True(Math.Abs(v[j] - rows[i * 12 + j]) <= tol * Math.Max(1, Math.Abs(rows[i * 12 + j])));
        }
        Assert.Equal(-1, seg.FindDocument("nope"));
        foreach (var (_, i) in ids.Select((x, i) => (x, i)))
        {
            var q = rows.AsSpan(i * 12, 12);
            Assert.Equal(seg.SearchExact(q, 3), seg.SearchApproximate(q, 3, 20)); // 7 docs: the graph finds them all
        }
        Assert.Equal(storage == DenseStorage.Int8 ? 16 : 12 * (storage == DenseStorage.Float32 ? 4 : 2), seg.BytesPerVector);
    }

    [Fact]
    public void One_thread_builds_are_byte_identical()
    {
        var (rows, _) = DenseTestData.Clustered(1500, 0, 16, 10, 0.6, seed: 2);
        string[] ids = DenseTestData.Ids(1500);
        var options = new DenseBuildOptions(16, DenseMetric.Cosine, Hnsw: new HnswParameters(6, 40), Threads: 1);
        string a = Write("a.seg", ids, rows, options), b = Write("b.seg", ids, rows, options);
        Assert.Equal(File.ReadAllBytes(a), File.ReadAllBytes(b));
    }

    [Fact]
    public void Int8_with_originals_is_as_large_as_and_searches_like_float32_with_navigation()
    {
        const int N = 3000, Dims = 40;
        var (rows, queries) = DenseTestData.Clustered(N, 50, Dims, 30, 0.6, seed: 12);
        string[] ids = DenseTestData.Ids(N);
        var options = new DenseBuildOptions(Dims, DenseMetric.Cosine, Hnsw: new HnswParameters(8, 60), Threads: 1);
        using var f32 = DenseSegment.Open(Write("f.seg", ids, rows, options));
        using var i8 = DenseSegment.Open(Write("i.seg", ids, rows, options with { Storage = DenseStorage.Int8 }));
        using var alone = DenseSegment.Open(Write("a.seg", ids, rows, options with { Storage = DenseStorage.Int8, StoreOriginals = false }));
        Assert.True(f32.HasInt8Navigation);
        Assert.True(i8.HasOriginals);
        Assert.False(i8.HasInt8Navigation);
        // The same bytes in other sections (int8 rows + originals = float32 rows + navigation copy), up to alignment.
        Assert.True(Math.Abs(i8.SizeBytes - f32.SizeBytes) <= 256, $"{i8.SizeBytes} against {f32.SizeBytes}");
        Assert.True(alone.SizeBytes < i8.SizeBytes - N * Dims * 4L);
        Assert.Equal(Dims + 4, i8.BytesPerVector);
        for (int i = 0; i < 50; i++)
        {
            var q = queries.AsSpan(i * Dims, Dims);
            // Same graph (one thread, same int8 codes for traversal), same rescoring: identical results.
            Assert.Equal(f32.SearchApproximate(q, 10, 20), i8.SearchApproximate(q, 10, 20));
            Assert.Equal(f32.SearchApproximate(q, 5, 64, oversample: 1), i8.SearchApproximate(q, 5, 64, oversample: 1));
            Assert.Equal(f32.SearchExact(q, 10), i8.SearchExact(q, 10));
            Assert.Equal(f32.GetVector(i), i8.GetVector(i));
        }
    }

    [Fact]
    public void Segments_without_rescoring_metadata_open_as_before()
    {
        // A segment written before the Rescore section existed: no originals, the default oversample factor.
        var (rows, queries) = DenseTestData.Clustered(400, 5, 16, 4, 0.6, seed: 8);
        string path = Write("new.seg", DenseTestData.Ids(400), rows, new DenseBuildOptions(16, Storage: DenseStorage.Int8) { StoreOriginals = false, Oversample = 2 });
        string old = Path.Combine(_dir, "old.seg");
        using (var file = SegmentFile.Open(path, SegmentKind.Dense))
        using (var w = new SegmentFileWriter(old, SegmentKind.Dense))
        {
            for (uint id = 1; id <= 11; id++)
            {
                if (file.HasSection(id)) w.WriteSection(id, file.Section<byte>(id));
            }
            w.Complete();
        }
        using var a = DenseSegment.Open(path);
        using var b = DenseSegment.Open(old);
        Assert.Equal(2f, a.Oversample);
        Assert.Equal(DenseBuildOptions.DefaultOversample, b.Oversample);
        Assert.False(b.HasOriginals);
        for (int i = 0; i < 5; i++)
        {
            var q = queries.AsSpan(i * 16, 16);
            Assert.Equal(a.SearchExact(q, 10), b.SearchExact(q, 10));
            Assert.Equal(a.SearchApproximate(q, 10, 30, oversample: 1), b.SearchApproximate(q, 10, 30, oversample: 1));
        }
    }

    [Fact]
    public void Segments_without_graph_or_navigation_are_smaller()
    {
        var (rows, _) = DenseTestData.Clustered(500, 0, 32, 4, 0.6, seed: 4);
        string[] ids = DenseTestData.Ids(500);
        long full = new FileInfo(Write("f.seg", ids, rows, new DenseBuildOptions(32))).Length;
        long noNav = new FileInfo(Write("n.seg", ids, rows, new DenseBuildOptions(32) { Int8Navigation = false })).Length;
        long flat = new FileInfo(Write("x.seg", ids, rows, new DenseBuildOptions(32) { BuildAnnIndex = false })).Length;
        Assert.True(full - noNav >= 500 * 36);
        Assert.True(noNav - flat >= 500 * 33 * 4);
        using var seg = DenseSegment.Open(Path.Combine(_dir, "x.seg"));
        Assert.False(seg.HasInt8Navigation);
        Assert.Null(seg.AnnParameters);
    }

    [Fact]
    public void Empty_and_single_vector_segments_work()
    {
        using (var empty = DenseSegment.Open(Write("e.seg", [], [], new DenseBuildOptions(4))))
        {
            Assert.Equal(0, empty.Count);
            Assert.False(empty.HasAnnIndex);
            Assert.Empty(empty.SearchExact([1, 2, 3, 4], 3));
            Assert.Empty(empty.SearchApproximate([1, 2, 3, 4], 3, 10));
            Assert.Empty(Assert.Single(empty.SearchExactBatch([1, 2, 3, 4], 3)));
        }
        using var one = DenseSegment.Open(Write("o.seg", ["x"], [1, 2, 3, 4], new DenseBuildOptions(4)));
        Assert.True(one.HasAnnIndex);
        var hit = Assert.Single(one.SearchApproximate([1, 0, 0, 0], 3, 10));
        Assert.Equal(1f, hit.Score);
    }

    [Fact]
    public void Invalid_input_is_refused()
    {
        string p = Path.Combine(_dir, "x.seg");
        Assert.Contains("Duplicate id 'a'", Assert.Throws<ArgumentException>(() => DenseSegmentWriter.Write(p, ["a", "b", "a"], new float[6], new DenseBuildOptions(2))).Message);
        Assert.Contains("'b'", Assert.Throws<ArgumentException>(() => DenseSegmentWriter.Write(p, ["a", "b"], [1, 2, float.NaN, 0], new DenseBuildOptions(2))).Message);
        Assert.Contains("'a'", Assert.Throws<ArgumentException>(() => DenseSegmentWriter.Write(p, ["a", "b"], [float.NegativeInfinity, 2, 1, 0], new DenseBuildOptions(2))).Message);
        Assert.Contains("Float16", Assert.Throws<ArgumentException>(() => DenseSegmentWriter.Write(p, ["a"], [1e6f, 0], new DenseBuildOptions(2, Storage: DenseStorage.Float16))).Message);
        Assert.Throws<ArgumentException>(() => DenseSegmentWriter.Write(p, ["a", "b"], new float[5], new DenseBuildOptions(2)));
        Assert.Throws<ArgumentException>(() => DenseSegmentWriter.Write(p, ["a", ""], new float[4], new DenseBuildOptions(2)));
        Assert.Throws<ArgumentOutOfRangeException>(() => DenseSegmentWriter.Write(p, ["a"], new float[2], new DenseBuildOptions(2, Hnsw: new HnswParameters(M: 1))));
        Assert.Throws<ArgumentOutOfRangeException>(() => DenseSegmentWriter.Write(p, ["a"], new float[0], new DenseBuildOptions(0)));
        Assert.False(File.Exists(p));
        Assert.Empty(Directory.GetFiles(_dir));
    }

    [Theory]
    [InlineData(0.3)]  // inside the vectors
    [InlineData(0.9)]  // inside the graph
    public void Corrupt_segment_is_refused_naming_the_file(double where)
    {
        var (rows, _) = DenseTestData.Clustered(300, 0, 16, 4, 0.6, seed: 9);
        string path = Write("c.seg", DenseTestData.Ids(300), rows, new DenseBuildOptions(16));
        byte[] bytes = File.ReadAllBytes(path);
        bytes[(int)(bytes.Length * where)] ^= 0x5A;
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<CorruptSegmentException>(() => DenseSegment.Open(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("checksum", e.Message);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(100)]
    [InlineData(5000)]
    public void Truncated_segment_is_refused_naming_the_file(int cut)
    {
        var (rows, _) = DenseTestData.Clustered(300, 0, 16, 4, 0.6, seed: 9);
        string path = Write("t.seg", DenseTestData.Ids(300), rows, new DenseBuildOptions(16));
        byte[] bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^cut]);
        var e = Assert.Throws<CorruptSegmentException>(() => DenseSegment.Open(path, verifyChecksums: false));
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void A_segment_of_another_kind_is_refused()
    {
        string path = Path.Combine(_dir, "text.seg");
        using (var w = new SegmentFileWriter(path, SegmentKind.Text))
        {
            w.WriteSection<int>(1, [1]);
            w.Complete();
        }
        var e = Assert.Throws<CorruptSegmentException>(() => DenseSegment.Open(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("Dense", e.Message);
    }
}
