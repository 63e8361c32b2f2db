using Shoal.Engine.Search;
using Shoal.Engine.Text;

namespace Shoal.Engine.Tests.Text;

public sealed class TextSegmentTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("shoal-text-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private TextSegment[] BuildShards(int shards, int docs = 3000, int vocabulary = 2000, Bm25Parameters? p = null)
    {
        var builder = new TextIndexBuilder(shards, p ?? Bm25Parameters.Default, WhitespaceAnalyzer.Instance);
        builder.AddRange(SyntheticCorpus.Documents(docs, vocabulary, seed: 1234));
        string root = Path.Combine(_dir, $"s{shards}-{Guid.NewGuid():N}");
        var result = builder.Build(s => Path.Combine(root, $"shard-{s}"));
        return result.Shards.Select(s => TextSegment.Open(s.SegmentPath)).ToArray();
    }

    [Fact]
    public void Snippets_from_a_text_prefix_equal_snippets_from_the_whole_text()
    {
        // ASCII, 2-, 3- and 4-byte UTF-8 characters, texts shorter than, equal to and longer than the cut.
        string[] pieces = ["plain words here ", "café déjà vu ", "中文字符 ", "emoji 😀🚀 ", "x"];
        var rng = new Random(7);
        var docs = new List<Shoal.Engine.Ingest.SourceDocument>();
        for (int d = 0; d < 200; d++)
        {
            var text = new System.Text.StringBuilder();
            int parts = rng.Next(0, 40);
            for (int p = 0; p < parts; p++) text.Append(pieces[rng.Next(pieces.Length)]);
            docs.Add(new Shoal.Engine.Ingest.SourceDocument($"d{d:D3}", "t", text.Length == 0 ? "x" : text.ToString()));
        }
        var builder = new TextIndexBuilder(1, Bm25Parameters.Default, WhitespaceAnalyzer.Instance);
        builder.AddRange(docs);
        var built = builder.Build(s => Path.Combine(_dir, $"prefix-{s}"));
        using var segment = TextSegment.Open(built.Shards[0].SegmentPath);
        for (int d = 0; d < segment.DocCount; d++)
        {
            string whole = segment.GetText(d);
            foreach (int length in new[] { 0, 1, 2, 5, 17, 64, 200, whole.Length - 1, whole.Length, whole.Length + 3 })
            {
                if (length < 0) continue;
                Assert.Equal(ShardSearcher.Snippet(whole, length), ShardSearcher.Snippet(segment.GetTextPrefix(d, length), length));
            }
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(10)]
    [InlineData(100)]
    public void MaxScore_equals_exhaustive_scoring(int k)
    {
        using var segment = BuildShards(1)[0];
        var rng = new Random(99);
        for (int q = 0; q < 200; q++)
        {
            var query = TextQuery.FromTokens(SyntheticCorpus.Query(rng, 2000, 1 + q % 12));
            var fast = segment.Search(query, k);
            var exact = segment.SearchExhaustive(query, k);
            Assert.Equal(exact, fast);
        }
    }

    [Fact]
    public void Shard_count_does_not_change_results()
    {
        var one = BuildShards(1);
        var four = BuildShards(4);
        try
        {
            Assert.Equal(one[0].DocCount, four.Sum(s => s.DocCount));
            var rng = new Random(5);
            for (int q = 0; q < 100; q++)
            {
                var query = TextQuery.FromTokens(SyntheticCorpus.Query(rng, 2000, 1 + q % 8));
                var single = Hits(one[0], query, 20);
                var merged = TopKMerge.Merge(four.Select(s => (IReadOnlyList<SearchHit>)Hits(s, query, 20)).ToList(), 20);
                Assert.Equal(single.Select(h => (h.Id, h.Score)), merged.Select(h => (h.Id, h.Score)));
            }
        }
        finally
        {
            foreach (var s in one.Concat(four)) s.Dispose();
        }
    }

    private static List<SearchHit> Hits(TextSegment s, TextQuery q, int k) =>
        s.Search(q, k).Select(d => new SearchHit(s.GetId(d.DocId), d.Score)).ToList();

    [Fact]
    public void Equal_scores_rank_by_external_id()
    {
        var builder = new TextIndexBuilder(1, Bm25Parameters.Default, WhitespaceAnalyzer.Instance);
        builder.AddRange([new("c", null, "apple pear"), new("a", null, "apple pear"), new("b", null, "apple pear"), new("z", null, "plum")]);
        var result = builder.Build(_ => Path.Combine(_dir, "ties"));
        using var seg = TextSegment.Open(result.Shards[0].SegmentPath);
        var hits = seg.Search(TextQuery.FromTokens(["apple"]), 2);
        Assert.Equal(["a", "b"], hits.Select(h => seg.GetId(h.DocId)));
        Assert.Equal(hits[0].Score, hits[1].Score);
    }

    [Fact]
    public void Scores_follow_the_bm25_formula_with_lucene_lengths()
    {
        var builder = new TextIndexBuilder(1, new Bm25Parameters(1.2, 0.75), WhitespaceAnalyzer.Instance);
        builder.AddRange([
            new("d1", null, "fox fox dog"),
            new("d2", null, "fox " + string.Join(' ', Enumerable.Repeat("cat", 40))),
            new("d3", null, "bird"),
        ]);
        var result = builder.Build(_ => Path.Combine(_dir, "formula"));
        using var seg = TextSegment.Open(result.Shards[0].SegmentPath);
        var hits = seg.Search(TextQuery.FromTokens(["fox"]), 10);

        double avgdl = (3 + 41 + 1) / 3.0;
        double idf = Math.Log(1 + (3 - 2 + 0.5) / (2 + 0.5));
        double d1 = idf * 2 / (2 + 1.2 * (1 - 0.75 + 0.75 * 3 / avgdl));
        int len2 = LuceneLengthEncoding.Decode(LuceneLengthEncoding.Encode(41)); // 41 rounds down to 40
        Assert.Equal(40, len2);
        double d2 = idf * 1 / (1 + 1.2 * (1 - 0.75 + 0.75 * len2 / avgdl));
        Assert.Equal(["d1", "d2"], hits.Select(h => seg.GetId(h.DocId)));
        Assert.Equal((float)d1, hits[0].Score);
        Assert.Equal((float)d2, hits[1].Score);
    }

    [Fact]
    public void Repeated_query_terms_weigh_more()
    {
        var q = TextQuery.FromTokens(["a", "b", "a"]);
        Assert.Equal(["a", "b"], q.Terms);
        Assert.Equal([2f, 1f], q.Weights);
    }

    [Fact]
    public void Stored_fields_ids_and_duplicates()
    {
        var builder = new TextIndexBuilder(1, Bm25Parameters.Default, WhitespaceAnalyzer.Instance);
        builder.AddRange([new("x1", "Title one", "first text ünïcödé"), new("x2", null, "second"), new("x1", "Title new", "replaced text")]);
        Assert.Equal(1, builder.DuplicatesReplaced);
        var result = builder.Build(_ => Path.Combine(_dir, "stored"));
        Assert.Equal(2, result.Statistics.DocCount);
        using var seg = TextSegment.Open(result.Shards[0].SegmentPath);
        int d = seg.FindDocument("x1");
        Assert.Equal("Title new", seg.GetTitle(d));
        Assert.Equal("replaced text", seg.GetText(d));
        Assert.Equal("", seg.GetTitle(seg.FindDocument("x2")));
        Assert.Equal(-1, seg.FindDocument("nope"));
        Assert.Empty(seg.Search(TextQuery.FromTokens(["first"]), 5)); // the replaced document's terms are gone
        Assert.Equal(0, seg.DocFrequency("first"));
    }

    [Fact]
    public void Unknown_terms_match_nothing()
    {
        using var seg = BuildShards(1, docs: 50)[0];
        Assert.Empty(seg.Search(TextQuery.FromTokens(["never-seen"]), 10));
    }

    [Fact]
    public void Corrupt_text_segment_is_refused()
    {
        var seg = BuildShards(1, docs: 200)[0];
        string path = seg.FilePath;
        seg.Dispose();
        var bytes = File.ReadAllBytes(path);
        bytes[bytes.Length / 2] ^= 0xFF;
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<Shoal.Engine.Segments.CorruptSegmentException>(() => TextSegment.Open(path));
        Assert.Contains(path, e.Message);
    }
}
