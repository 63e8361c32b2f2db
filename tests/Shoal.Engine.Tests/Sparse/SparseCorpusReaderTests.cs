using System.IO.Compression;
using System.Text;
using Shoal.Engine.Ingest;
using Shoal.Engine.Sparse;

namespace Shoal.Engine.Tests.Sparse;

public sealed class SparseCorpusReaderTests : IDisposable
{
    private static readonly Lazy<SparseVocabulary> Bert = new(() => SparseVocabulary.Load(TestData.Require("tokenizers/bert-base-uncased-vocab.txt")));
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "shoal-sparse-reader-" + Guid.NewGuid().ToString("N"));

    public SparseCorpusReaderTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string WriteFile(string name, string content, bool gzip = false)
    {
        string path = Path.Combine(_dir, name);
        using var file = File.Create(path);
        using Stream s = gzip ? new GZipStream(file, CompressionLevel.Fastest) : file;
        s.Write(Encoding.UTF8.GetBytes(content));
        return path;
    }

    [Fact]
    public void Reads_the_seismic_toy_documents()
    {
        var docs = SparseCorpusReader.Read(TestData.Require("seismic-toy-splade/documents.jsonl"), Bert.Value).ToList();
        Assert.Equal(20, docs.Count);
        Assert.Equal("0", docs[0].Id);
        Assert.StartsWith("The presence of communication", docs[0].Text);
        Assert.Equal(168, docs[0].Vector.Count);
        Assert.True(Bert.Value.TryGetId("was", out int was));
        Assert.Equal(0.6476961374282837f, docs[0].Vector.Weights[Array.IndexOf(docs[0].Vector.Terms, was)]);
        Assert.Equal(0, docs[18].Vector.Count); // an empty passage with an empty vector
    }

    [Fact]
    public void Reads_anserini_fields_and_gzip_by_magic_bytes()
    {
        string path = WriteFile("corpus.notgz", """
            {"id": "a", "contents": "alpha", "vector": {"cat": 1.5, "dog": 0}}

            {"_id": "b", "text": null, "vector": {"the": 0.25}, "extra": [1, 2]}
            {"docid": 7, "vector": {}}
            """, gzip: true);
        var docs = SparseCorpusReader.Read(path, Bert.Value).ToList();
        Assert.Equal(["a", "b", "7"], docs.Select(d => d.Id));
        Assert.Equal("alpha", docs[0].Text);
        Assert.Null(docs[1].Text);
        Assert.Equal(1, docs[0].Vector.Count); // zero weight dropped
        Assert.Equal(0, docs[2].Vector.Count);
    }

    [Theory]
    [InlineData("{\"id\": \"x\", \"vector\": {\"zzqqxx\": 1.0}}", "'zzqqxx'")]
    [InlineData("{\"id\": \"x\", \"vector\": {\"cat\": -1.0}}", "negative")]
    [InlineData("{\"id\": \"x\", \"vector\": {\"cat\": 1e999}}", "cat")]
    [InlineData("{\"id\": \"x\", \"vector\": {\"cat\": 1.0, \"cat\": 2.0}}", "'cat' occurs more than once")]
    [InlineData("{\"id\": \"x\", \"vector\": {\"cat\": \"high\"}}", "must be a number")]
    [InlineData("{\"id\": \"x\"}", "missing \"vector\"")]
    [InlineData("{\"vector\": {}}", "missing \"id\"")]
    [InlineData("{\"id\": \"x\", \"vector\": {", "invalid JSON")]
    public void Bad_lines_are_refused_with_file_and_line(string badLine, string expected)
    {
        string path = WriteFile("bad.jsonl", "{\"id\": \"ok\", \"vector\": {\"cat\": 1}}\n" + badLine + "\n");
        var ex = Assert.Throws<CorpusFormatException>(() => SparseCorpusReader.Read(path, Bert.Value).ToList());
        Assert.Equal(2, ex.LineNumber);
        Assert.Contains(path, ex.Message);
        Assert.Contains("line 2", ex.Message);
        Assert.Contains(expected, ex.Message);
    }

    [Fact]
    public void Missing_file_is_reported_immediately()
    {
        Assert.Throws<FileNotFoundException>(() => SparseCorpusReader.Read(Path.Combine(_dir, "nope.jsonl"), Bert.Value));
    }

    [Fact]
    public void Reads_pretokenized_tsv_queries_with_repetition_counts()
    {
        var queries = SparseCorpusReader.ReadQueries(TestData.Require("topics-qrels/topics.dl19-passage.splade-pp-ed.tsv.gz"), Bert.Value);
        Assert.Equal(43, queries.Count);
        var (id, vector) = queries[0];
        Assert.Equal("156493", id);
        Assert.Equal(39, vector.Count);
        Assert.True(Bert.Value.TryGetId("not", out int not));
        Assert.True(Bert.Value.TryGetId("gold", out int gold));
        Assert.Equal(158f, vector.Weights[Array.IndexOf(vector.Terms, not)]);
        Assert.Equal(3002f, vector.Weights[Array.IndexOf(vector.Terms, gold)]);
    }

    [Fact]
    public void Reads_jsonl_queries()
    {
        var queries = SparseCorpusReader.ReadQueries(TestData.Require("seismic-toy-splade/queries.jsonl"), Bert.Value);
        Assert.Equal(5, queries.Count);
        Assert.Equal("1048585", queries[0].Id);
        Assert.Equal(28, queries[0].Vector.Count);

        string path = WriteFile("q.jsonl", "{\"qid\": \"q1\", \"vector\": {\"cat\": 2}}\n{\"_id\": 5, \"vector\": {\"dog\": 1}}\n");
        Assert.Equal(["q1", "5"], SparseCorpusReader.ReadQueries(path, Bert.Value).Select(q => q.Id));
    }

    [Fact]
    public void Tsv_query_with_unknown_token_names_it()
    {
        string path = WriteFile("q.tsv", "1\tcat cat dog\n2\tcat zzqqxx\n");
        var ex = Assert.Throws<CorpusFormatException>(() => SparseCorpusReader.ReadQueries(path, Bert.Value));
        Assert.Equal(2, ex.LineNumber);
        Assert.Contains("'zzqqxx'", ex.Message);
    }
}
