using System.Text;
using Shoal.Engine.Analysis;
using Shoal.Engine.Indexing;
using Shoal.Engine.Ingest;
using Shoal.Engine.Text;

namespace Shoal.Engine.Tests.Indexing;

public sealed class ChunkedIndexingTests : IDisposable
{
    private readonly TempFiles _files = new();

    public void Dispose() => _files.Dispose();

    [Fact]
    public void Line_parser_agrees_with_the_corpus_reader_on_scifact()
    {
        string corpus = TestData.Require("scifact/corpus.jsonl");
        var expected = CorpusReader.Read(corpus, CorpusFormat.BeirJsonl).ToList();
        using var reader = CorpusChunkReader.Open(corpus, CorpusFormat.BeirJsonl);
        var actual = new List<SourceDocument>();
        while (!reader.EndOfInput)
        {
            var chunk = reader.ReadChunk(1000);
            Assert.Empty(chunk.Malformed);
            actual.AddRange(chunk.Documents.Select(d => d.Document));
        }
        Assert.Equal(expected, actual);
        Assert.Equal(reader.Length, reader.BytesRead);
    }

    [Theory]
    [InlineData("""{"_id": "a", "text": "x"}""", CorpusFormat.BeirJsonl, null)]
    [InlineData("""{"_id": 7, "title": null, "text": "x"}""", CorpusFormat.BeirJsonl, null)]
    [InlineData("""{"title": "t", "text": "x"}""", CorpusFormat.BeirJsonl, "missing \"_id\"")]
    [InlineData("""{"_id": "", "text": "x"}""", CorpusFormat.BeirJsonl, "empty \"_id\"")]
    [InlineData("""{"_id": "a"}""", CorpusFormat.BeirJsonl, "missing \"text\" (document 'a')")]
    [InlineData("""{"_id": "a", "text": 3}""", CorpusFormat.BeirJsonl, "\"text\" must be a string")]
    [InlineData("""{"_id": "a", "text": "x"} tail""", CorpusFormat.BeirJsonl, "invalid JSON")]
    [InlineData("""[1]""", CorpusFormat.BeirJsonl, "expected a JSON object")]
    [InlineData("""{"pid": "p1", "passage": "x", "spans": "ignored"}""", CorpusFormat.MsMarcoV2Jsonl, null)]
    [InlineData("""{"pid": "p1"}""", CorpusFormat.MsMarcoV2Jsonl, "missing \"passage\"")]
    [InlineData("id\ttext", CorpusFormat.Tsv, null)]
    [InlineData("id\ttitle\ttext", CorpusFormat.Tsv, null)]
    [InlineData("no tab here", CorpusFormat.Tsv, "found no tab")]
    [InlineData("a\tb\tc\td", CorpusFormat.Tsv, "found 4")]
    [InlineData(" \ttext", CorpusFormat.Tsv, "empty id")]
    public void Line_parser_reports_what_is_wrong(string line, CorpusFormat format, string? expected)
    {
        var doc = CorpusLineParser.TryParse(Encoding.UTF8.GetBytes(line), format, out string? reason);
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

    [Fact]
    public void Chunks_are_fixed_runs_of_lines_and_resume_exactly_after_a_checkpoint()
    {
        var sb = new StringBuilder();
        for (int i = 1; i <= 95; i++)
        {
            if (i % 10 == 0) sb.Append("{broken\n");
            else if (i % 17 == 0) sb.Append("   \n");
            else sb.Append(System.Globalization.CultureInfo.InvariantCulture, $$"""{"_id": "d{{i}}", "text": "text {{i}}"}""").Append('\n');
        }
        string plain = _files.Write("c.jsonl", sb.ToString());
        string gzip = _files.WriteGzip("c.jsonl.gz", sb.ToString());
        foreach (var path in new[] { plain, gzip })
        {
            using var reader = CorpusChunkReader.Open(path, CorpusFormat.BeirJsonl);
            var first = reader.ReadChunk(40);
            Assert.Equal(1, first.FirstLine);
            Assert.Equal(40, first.Lines);
            Assert.Equal([10L, 20, 30, 40], first.Malformed.Select(m => m.Line));
            Assert.All(first.Malformed, m => Assert.Contains("invalid JSON", m.Reason));
            Assert.Equal(40 - 4 - 2, first.Documents.Count); // 17 and 34 are blank
            Assert.Equal(40, reader.LinesDone);
            var second = reader.ReadChunk(40);

            // Reopening at the checkpoint gives the same second chunk.
            using var resumed = CorpusChunkReader.Open(path, CorpusFormat.BeirJsonl, linesDone: 40);
            var again = resumed.ReadChunk(40);
            Assert.Equal(second.FirstLine, again.FirstLine);
            Assert.Equal(second.Documents, again.Documents);
            Assert.Equal(second.Malformed, again.Malformed);

            var last = reader.ReadChunk(40);
            Assert.Equal(81, last.FirstLine);
            Assert.Equal(15, last.Lines);
            Assert.True(last.EndOfInput);
            Assert.Equal([90L], last.Malformed.Select(m => m.Line));
            Assert.Equal("d95", last.Documents[^1].Document.Id);
            Assert.Equal(95, last.Documents[^1].Line);
        }
    }

    [Fact]
    public void Resuming_past_the_end_of_the_file_is_an_error()
    {
        string path = _files.Write("short.tsv", "a\tx\nb\ty\n");
        var e = Assert.Throws<InvalidDataException>(() => CorpusChunkReader.Open(path, CorpusFormat.Tsv, linesDone: 5));
        Assert.Contains("checkpoint is at line 5", e.Message);
    }

    [Fact]
    public void Spills_round_trip_and_truncation_is_detected()
    {
        var docs = new List<NumberedDocument>
        {
            new(1, new SourceDocument("a", "Title A", "The quick brown fox jumps over the lazy dog; the dog sleeps.")),
            new(2, new SourceDocument("b", null, "")),
            new(3, new SourceDocument("c", null, "Ünïcödé text — 数据")),
        };
        var byShard = IndexSpill.AnalyzeText(docs, 1, EnglishAnalyzer.Instance);
        string path = _files.PathOf("s.spill");
        IndexSpill.WriteText(path, byShard[0]);
        var back = IndexSpill.ReadText(path).ToList();
        Assert.Equal(3, back.Count);
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(byShard[0][i].Id, back[i].Id);
            Assert.Equal(byShard[0][i].Title, back[i].Title);
            Assert.Equal(byShard[0][i].Text, back[i].Text);
            Assert.Equal(byShard[0][i].Length, back[i].Length);
            Assert.Equal(byShard[0][i].Terms, back[i].Terms);
            Assert.Equal(byShard[0][i].Frequencies, back[i].Frequencies);
        }
        var fox = back[0];
        Assert.Equal(2, fox.Frequencies[Array.IndexOf(fox.Terms, "dog")]);
        Assert.Equal(0, back[1].Length);

        IndexSpill.WriteSparse(_files.PathOf("sp.spill"), [new SparseSpillRecord(4, "x", null, [1, 5], [0.5f, 2f])]);
        var sparse = Assert.Single(IndexSpill.ReadSparse(_files.PathOf("sp.spill")));
        Assert.Equal([1, 5], sparse.Terms);
        Assert.Equal([0.5f, 2f], sparse.Weights);
        IndexSpill.WriteDense(_files.PathOf("d.spill"), [new DenseSpillRecord(9, "y", [1f, -2f, 3f])]);
        Assert.Equal([1f, -2f, 3f], Assert.Single(IndexSpill.ReadDense(_files.PathOf("d.spill"))).Vector);
        Assert.Throws<InvalidDataException>(() => IndexSpill.ReadText(_files.PathOf("sp.spill")).ToList());

        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
        Assert.ThrowsAny<Exception>(() => IndexSpill.ReadText(path).ToList());
        Assert.Equal(7, IndexSpill.ChunkOf(IndexSpill.ChunkKey("jobs/j/spill", "bm25", 3, 7)));
        Assert.Equal("jobs/j/spill/bm25/shard-0003/chunk-00000007.spill", IndexSpill.ChunkKey("jobs/j/spill", "bm25", 3, 7));
    }

    [Fact]
    public void Segments_built_from_chunk_spills_equal_the_in_memory_build_byte_for_byte()
    {
        // SciFact plus re-issued documents (an upsert later in the file: last one wins).
        string scifact = TestData.Require("scifact/corpus.jsonl");
        var lines = File.ReadAllLines(scifact).ToList();
        lines.Add("""{"_id": "4983", "title": "Replaced", "text": "microstructural development of human newborn cerebral white matter replaced"}""");
        lines.Add("""{"_id": "brand-new", "text": "vitamin d and bone density"}""");
        string corpus = _files.Write("corpus.jsonl", string.Join('\n', lines) + "\n");
        const int Shards = 3;
        var plan = new IndexBuildPlan { Shards = Shards, Text = new Bm25Parameters() };

        var reference = new IndexVersionBuilder(plan);
        reference.AddText(CorpusReader.Read(corpus, CorpusFormat.BeirJsonl));
        var expected = reference.Build(s => Path.Combine(_files.Directory, "ref", $"shard-{s}"));

        // Chunks of 700 lines spilled per shard.
        var spills = Enumerable.Range(0, Shards).Select(_ => new List<string>()).ToArray();
        using (var reader = CorpusChunkReader.Open(corpus, CorpusFormat.BeirJsonl))
        {
            for (int chunk = 0; !reader.EndOfInput; chunk++)
            {
                var c = reader.ReadChunk(700);
                var byShard = IndexSpill.AnalyzeText(c.Documents, Shards, EnglishAnalyzer.Instance);
                for (int s = 0; s < Shards; s++)
                {
                    string path = Path.Combine(_files.Directory, IndexSpill.ChunkKey("spill", "bm25", s, chunk));
                    IndexSpill.WriteText(path, byShard[s]);
                    spills[s].Add(path);
                }
            }
        }
        Assert.True(spills[0].Count >= 8);
        var builder = new SpillIndexBuilder(plan);
        var stats = builder.ComputeStatistics(s => new ShardSpills(spills[s], [], []));
        Assert.Equal(expected.TextStatistics, stats.Collection);
        Assert.Equal(5184, stats.TextDocCount);
        long total = 0;
        for (int s = 0; s < Shards; s++)
        {
            var built = builder.BuildShard(s, new ShardSpills(spills[s], [], []), stats, Path.Combine(_files.Directory, "spilled", $"shard-{s}"));
            var seg = Assert.Single(built.Segments);
            var refSeg = Assert.Single(expected.Shards[s].Segments);
            Assert.Equal(refSeg.DocCount, seg.DocCount);
            Assert.Equal(File.ReadAllBytes(refSeg.Path), File.ReadAllBytes(seg.Path));
            total += built.DocCount;
        }
        Assert.Equal(expected.DocCount, total);
    }
}
