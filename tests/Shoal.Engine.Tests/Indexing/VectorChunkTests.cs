using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using Shoal.Engine.Dense;
using Shoal.Engine.Indexing;
using Shoal.Engine.Ingest;
using Shoal.Engine.Sparse;
using Shoal.Engine.Text;

namespace Shoal.Engine.Tests.Indexing;

/// <summary>Vector sources of indexing jobs: the line rules, chunked reading with exact resume, the sparse scale, and spill builds equal to the in-memory build.</summary>
public sealed class VectorChunkTests : IDisposable
{
    private readonly TempFiles _files = new();

    private static SparseVocabulary Vocabulary { get; } = SparseVocabulary.Load(TestData.Require("tokenizers/bert-base-uncased-vocab.txt"));

    public void Dispose() => _files.Dispose();

    [Fact]
    public void Sparse_line_parser_agrees_with_the_sparse_corpus_reader_on_real_splade_vectors()
    {
        string path = TestData.Require("seismic-toy-splade/documents.jsonl");
        var expected = SparseCorpusReader.Read(path, Vocabulary).ToList();
        using var reader = SparseChunkReader.Open(path, Vocabulary);
        var actual = new List<SparseSpillRecord>();
        while (!reader.EndOfInput)
        {
            var chunk = reader.ReadChunk(6);
            Assert.Empty(chunk.Malformed);
            actual.AddRange(chunk.Records);
        }
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].Id, actual[i].Id);
            Assert.Equal(expected[i].Text, actual[i].Text);
            Assert.Equal(expected[i].Vector.Terms, actual[i].Terms);
            Assert.Equal(expected[i].Vector.Weights, actual[i].Weights);
            Assert.Equal(i + 1, actual[i].Line);
        }
        Assert.Equal(reader.Length, reader.BytesRead);
    }

    [Theory]
    [InlineData("""{"id": "a", "contents": "x", "vector": {"apple": 1.5, "pie": 0}}""", null)]
    [InlineData("""{"docid": 7, "text": null, "vector": {}}""", null)]
    [InlineData("""{"id": "a", "vector": {"zzqqxx-not-a-token": 1.0}}""", "'zzqqxx-not-a-token' is not in the vocabulary")]
    [InlineData("""{"id": "a", "vector": {"apple": -0.5}}""", "negative weight")]
    [InlineData("""{"id": "a", "vector": {"apple": 1e39}}""", "infinite weight")]
    [InlineData("""{"id": "a", "vector": {"apple": NaN}}""", "invalid JSON")]
    [InlineData("""{"id": "a", "vector": {"apple": "0.5"}}""", "must be a number")]
    [InlineData("""{"id": "a", "vector": {"apple": 1, "apple": 2}}""", "'apple' occurs more than once")]
    [InlineData("""{"id": "a", "contents": "x"}""", "missing \"vector\"")]
    [InlineData("""{"contents": "x", "vector": {}}""", "missing \"id\"")]
    [InlineData("""{"id": " ", "vector": {}}""", "empty document id")]
    [InlineData("""{"id": "a", "vector": [1, 2]}""", "must be an object of token: weight")]
    [InlineData("""{"id": "a", "vector": {"apple": 1}""", "invalid JSON")]
    public void Sparse_line_parser_reports_what_is_wrong(string line, string? expected)
    {
        var doc = CorpusLineParser.TryParseSparse(Encoding.UTF8.GetBytes(line), Vocabulary, out string? reason);
        if (expected is null)
        {
            Assert.NotNull(doc);
            Assert.Null(reason);
        }
        else
        {
            Assert.Null(doc);
            Assert.Contains(expected, reason);
        }
    }

    [Theory]
    [InlineData("""{"id": "a", "vector": [1, 2, 3]}""", 3, null)]
    [InlineData("""{"qid": 5, "contents": "ignored", "vector": [1, 2, 3]}""", 0, null)]
    [InlineData("""{"id": "a", "vector": [1, 2]}""", 3, "vector has 2 dimensions, expected 3")]
    [InlineData("""{"id": "a", "vector": [1, NaN, 3]}""", 3, "NaN or Infinity")]
    [InlineData("""{"id": "a", "vector": [1, "nan", 3]}""", 3, "NaN or infinite")]
    [InlineData("""{"id": "a", "vector": [1, 1e39, 3]}""", 3, "outside the float32 range")]
    [InlineData("""{"vector": [1, 2, 3]}""", 3, "missing or empty id")]
    [InlineData("""{"id": "a"}""", 3, "missing \"vector\"")]
    [InlineData("""{"id": "a", "vector": []}""", 0, "\"vector\" is empty")]
    [InlineData("""{"id": "a", "vector": [1, 2, 3]""", 3, "malformed JSON")]
    [InlineData("""[1, 2, 3]""", 3, "expected a JSON object")]
    public void Dense_line_parser_reports_what_is_wrong(string line, int dims, string? expected)
    {
        var parsed = CorpusLineParser.TryParseDense(Encoding.UTF8.GetBytes(line), dims, out string? reason);
        if (expected is null)
        {
            Assert.NotNull(parsed);
            Assert.Null(reason);
        }
        else
        {
            Assert.Null(parsed);
            Assert.Contains(expected, reason);
        }
    }

    [Fact]
    public void Sparse_chunks_resume_exactly_and_number_malformed_lines()
    {
        var sb = new StringBuilder();
        for (int i = 1; i <= 50; i++)
        {
            if (i == 9) sb.Append("""{"id": "bad9", "vector": {"not-a-wordpiece-token": 1}}""").Append('\n');
            else if (i == 23) sb.Append("""{"id": "bad23", "vector": {"apple": -1}}""").Append('\n');
            else if (i == 30) sb.Append('\n');
            else sb.Append(System.Globalization.CultureInfo.InvariantCulture, $$$"""{"id": "s{{{i}}}", "contents": "doc {{{i}}}", "vector": {"apple": {{{i}}}.5, "pie": 0.25}}""").Append('\n');
        }
        foreach (var path in new[] { _files.Write("s.jsonl", sb.ToString()), _files.WriteGzip("s.jsonl.gz", sb.ToString()) })
        {
            using var reader = SparseChunkReader.Open(path, Vocabulary);
            var first = reader.ReadChunk(20);
            Assert.Equal(20, first.Lines);
            Assert.Equal([9L], first.Malformed.Select(m => m.Line));
            Assert.Contains("not in the vocabulary", first.Malformed[0].Reason);
            var second = reader.ReadChunk(20);
            Assert.Equal([23L], second.Malformed.Select(m => m.Line));
            Assert.Contains("negative weight", second.Malformed[0].Reason);
            Assert.Equal(18, second.Records.Count); // 30 is blank

            using var resumed = SparseChunkReader.Open(path, Vocabulary, linesDone: 20);
            var again = resumed.ReadChunk(20);
            Assert.Equal(second.FirstLine, again.FirstLine);
            Assert.Equal(second.Records.Select(r => (r.Line, r.Id, r.Text, string.Join(',', r.Terms), string.Join(',', r.Weights))),
                again.Records.Select(r => (r.Line, r.Id, r.Text, string.Join(',', r.Terms), string.Join(',', r.Weights))));
            Assert.Equal(second.Malformed, again.Malformed);

            var last = reader.ReadChunk(20);
            Assert.True(last.EndOfInput);
            Assert.Equal(10, last.Lines);
            Assert.Equal("s50", last.Records[^1].Id);
        }
        var e = Assert.Throws<InvalidDataException>(() => SparseChunkReader.Open(_files.PathOf("s.jsonl"), Vocabulary, linesDone: 51));
        Assert.Contains("checkpoint is at line 51", e.Message);
    }

    [Fact]
    public void Dense_jsonl_chunks_take_the_dimension_from_the_first_vector_and_resume_with_it()
    {
        var sb = new StringBuilder();
        sb.Append("{broken\n");
        for (int i = 2; i <= 30; i++)
            sb.Append(i == 12 ? """{"id": "short", "vector": [1, 2]}""" : $$"""{"id": "v{{i}}", "vector": [{{i}}, 0.5, -1]}""").Append('\n');
        string path = _files.Write("d.jsonl", sb.ToString());
        using var reader = DenseChunkReader.Open(path);
        Assert.False(reader.Binary);
        Assert.Equal(0, reader.Dims);
        var first = reader.ReadChunk(10);
        Assert.Equal(3, reader.Dims);
        Assert.Equal([1L], first.Malformed.Select(m => m.Line));
        var second = reader.ReadChunk(10);
        Assert.Equal([12L], second.Malformed.Select(m => m.Line));
        Assert.Contains("vector has 2 dimensions, expected 3", second.Malformed[0].Reason);

        using var resumed = DenseChunkReader.Open(path, dims: reader.Dims, done: 10);
        var again = resumed.ReadChunk(10);
        Assert.Equal(second.Records.Select(r => (r.Line, r.Id, string.Join(',', r.Vector))), again.Records.Select(r => (r.Line, r.Id, string.Join(',', r.Vector))));
        Assert.Equal(second.Malformed, again.Malformed);
    }

    [Fact]
    public void Shoalvec_chunks_are_runs_of_records_resume_exactly_plain_and_gzip_and_report_non_finite_rows()
    {
        const int Dims = 5, Count = 40;
        var rng = new Random(3);
        var ids = Enumerable.Range(0, Count).Select(i => $"doc-{i}").ToList();
        var rows = new float[Count * Dims];
        for (int i = 0; i < rows.Length; i++) rows[i] = (float)(rng.NextDouble() * 2 - 1);
        string plain = _files.PathOf("v.shoalvec");
        DenseVectorFile.Write(plain, ids, rows, Dims);
        // Row 17 (record 18) gets a NaN component: the record is malformed, the file is not.
        var bytes = File.ReadAllBytes(plain);
        long rowsOffset = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(40));
        BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan((int)(rowsOffset + (17 * Dims + 2) * sizeof(float))), float.NaN);
        File.WriteAllBytes(plain, bytes);
        string gzip = _files.PathOf("v.shoalvec.gz");
        using (var gz = new GZipStream(File.Create(gzip), CompressionLevel.Fastest)) gz.Write(bytes);

        foreach (var path in new[] { plain, gzip })
        {
            var all = new List<DenseSpillRecord>();
            var malformed = new List<MalformedLine>();
            using (var reader = DenseChunkReader.Open(path))
            {
                Assert.True(reader.Binary);
                Assert.Equal(Dims, reader.Dims);
                while (!reader.EndOfInput)
                {
                    var c = reader.ReadChunk(7);
                    Assert.Equal(all.Count + malformed.Count + 1, c.FirstLine);
                    all.AddRange(c.Records);
                    malformed.AddRange(c.Malformed);
                }
                Assert.Equal(reader.Length, reader.BytesRead);
            }
            Assert.Equal(Count - 1, all.Count);
            var bad = Assert.Single(malformed);
            Assert.Equal(18, bad.Line);
            Assert.Contains("component 2 is NaN or infinite", bad.Reason);
            for (int r = 0; r < Count; r++)
            {
                if (r == 17) continue;
                var rec = all[r < 17 ? r : r - 1];
                Assert.Equal(ids[r], rec.Id);
                Assert.Equal(r + 1, rec.Line);
                Assert.Equal(rows.AsSpan(r * Dims, Dims).ToArray(), rec.Vector);
            }

            // Reopened at record 21: the same records as reading on.
            using var resumed = DenseChunkReader.Open(path, Dims, done: 21);
            var again = resumed.ReadChunk(7);
            Assert.Equal(22, again.FirstLine);
            Assert.Equal(all.Skip(20).Take(7).Select(r => r.Id), again.Records.Select(r => r.Id));
            Assert.Throws<InvalidDataException>(() => DenseChunkReader.Open(path, Dims, done: Count + 1));
            var e = Assert.Throws<DenseVectorException>(() => DenseChunkReader.Open(path, dims: 4));
            Assert.Contains("vectors have 5 dimensions, expected 4", e.Message);
        }
    }

    [Fact]
    public void The_sparse_scale_gathered_while_reading_is_exact_unless_its_holder_is_replaced_by_smaller_weights()
    {
        static SparseSpillRecord R(long line, string id, params float[] w) => new(line, id, null, [.. Enumerable.Range(0, w.Length)], w);
        var t = new SparseMaxWeightTracker().Observe([R(1, "a", 1, 2), R(2, "b", 5), R(3, "c", 3)]);
        Assert.Equal(5f, t.Known);
        Assert.Equal("b", t.HolderId);
        // The holder re-issued with a larger weight, then another document re-issued: still exact.
        t = t.Observe([R(4, "b", 6), R(5, "c", 1)]);
        Assert.Equal(6f, t.Known);
        // The holder re-issued with smaller weights: unknown until a larger weight arrives.
        t = t.Observe([R(6, "b", 2)]);
        Assert.Null(t.Known);
        Assert.Equal(6f, t.MaxWeight);
        t = t.Observe([R(7, "d", 7)]);
        Assert.Equal(7f, t.Known);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Sparse_and_dense_segments_built_from_chunk_spills_equal_the_in_memory_build_byte_for_byte(bool holderReplaced)
    {
        // Real SPLADE vectors plus generated ones with repeated ids (last one wins), and dense vectors for an overlapping set of ids.
        var rng = new Random(11);
        string[] tokens = ["apple", "river", "stone", "market", "signal", "garden", "engine", "harbor", "copper", "orbit"];
        var sparse = new StringBuilder();
        foreach (var line in File.ReadLines(TestData.Require("seismic-toy-splade/documents.jsonl"))) sparse.Append(line).Append('\n');
        for (int i = 0; i < 300; i++)
        {
            string id = i % 37 == 36 ? $"g{rng.Next(i)}" : $"g{i}";
            var weights = tokens.OrderBy(_ => rng.Next()).Take(4).Select(t => $"\"{t}\": {rng.NextDouble() * 2:F4}");
            sparse.Append(System.Globalization.CultureInfo.InvariantCulture, $"{{\"id\": \"{id}\", \"contents\": \"generated {i}\", \"vector\": {{{string.Join(", ", weights)}}}}}").Append('\n');
        }
        // The largest weight of all, then (optionally) its document re-issued with small weights.
        sparse.Append("""{"id": "g5", "contents": "peak", "vector": {"apple": 9.5}}""").Append('\n');
        if (holderReplaced) sparse.Append("""{"id": "g5", "contents": "peak replaced", "vector": {"apple": 0.5}}""").Append('\n');
        var dense = new StringBuilder();
        for (int i = 0; i < 250; i++)
        {
            string id = i % 41 == 40 ? $"g{rng.Next(i)}" : i < 20 ? $"{i}" : $"g{i}";
            dense.Append(System.Globalization.CultureInfo.InvariantCulture, $$"""{"id": "{{id}}", "vector": [{{string.Join(", ", Enumerable.Range(0, 8).Select(_ => (rng.NextDouble() * 2 - 1).ToString("F5", System.Globalization.CultureInfo.InvariantCulture)))}}]}""").Append('\n');
        }
        string sparsePath = _files.Write("sparse.jsonl", sparse.ToString());
        string densePath = _files.WriteGzip("dense.jsonl.gz", dense.ToString());
        const int Shards = 3;
        var plan = new IndexBuildPlan
        {
            Shards = Shards,
            SparseVocabulary = Vocabulary,
            Dense = new DenseBuildOptions(8, DenseMetric.Cosine, DenseStorage.Float32, new HnswParameters(8, 32)),
        };
        var reference = new IndexVersionBuilder(plan);
        reference.AddSparse(SparseCorpusReader.Read(sparsePath, Vocabulary));
        reference.AddDense(DenseVectorReader.Read(densePath, 8));
        var expected = reference.Build(s => Path.Combine(_files.Directory, "ref", $"shard-{s}"));

        var sparseSpills = Enumerable.Range(0, Shards).Select(_ => new List<string>()).ToArray();
        var denseSpills = Enumerable.Range(0, Shards).Select(_ => new List<string>()).ToArray();
        var tracker = new SparseMaxWeightTracker();
        using (var reader = SparseChunkReader.Open(sparsePath, Vocabulary))
        {
            for (int chunk = 0; !reader.EndOfInput; chunk++)
            {
                var c = reader.ReadChunk(45);
                Assert.Empty(c.Malformed);
                tracker = tracker.Observe(c.Records);
                var byShard = IndexSpill.GroupByShard(c.Records, Shards, r => r.Id);
                for (int s = 0; s < Shards; s++)
                {
                    string path = Path.Combine(_files.Directory, IndexSpill.ChunkKey("spill", "sparse", s, chunk));
                    IndexSpill.WriteSparse(path, byShard[s]);
                    sparseSpills[s].Add(path);
                }
            }
        }
        using (var reader = DenseChunkReader.Open(densePath))
        {
            for (int chunk = 0; !reader.EndOfInput; chunk++)
            {
                var c = reader.ReadChunk(60);
                var byShard = IndexSpill.GroupByShard(c.Records, Shards, r => r.Id);
                for (int s = 0; s < Shards; s++)
                {
                    string path = Path.Combine(_files.Directory, IndexSpill.ChunkKey("spill", "dense", s, chunk));
                    IndexSpill.WriteDense(path, byShard[s]);
                    denseSpills[s].Add(path);
                }
            }
        }
        Assert.Equal(holderReplaced, tracker.Known is null);
        Assert.Equal(9.5f, tracker.MaxWeight);

        var builder = new SpillIndexBuilder(plan);
        var spills = Enumerable.Range(0, Shards).Select(s => new ShardSpills([], sparseSpills[s], denseSpills[s])).ToArray();
        var stats = builder.ComputeStatistics(s => spills[s], tracker.Known);
        Assert.Equal(expected.SparseMaxWeight, stats.SparseMaxWeight);
        long total = 0;
        for (int s = 0; s < Shards; s++)
        {
            var built = builder.BuildShard(s, spills[s], stats, Path.Combine(_files.Directory, "spilled", $"shard-{s}"));
            Assert.Equal(expected.Shards[s].Segments.Select(x => x.Channel), built.Segments.Select(x => x.Channel));
            for (int i = 0; i < built.Segments.Count; i++)
            {
                Assert.Equal(expected.Shards[s].Segments[i].DocCount, built.Segments[i].DocCount);
                Assert.Equal(File.ReadAllBytes(expected.Shards[s].Segments[i].Path), File.ReadAllBytes(built.Segments[i].Path));
            }
            Assert.Equal(expected.Shards[s].DocCount, built.DocCount);
            total += built.DocCount;
        }
        Assert.Equal(expected.DocCount, total);
    }
}
