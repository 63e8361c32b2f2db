using System.Text;
using Shoal.Engine.Dense;
using Shoal.Engine.Ingest;
using Shoal.Engine.Sparse;

namespace Shoal.Engine.Tests.Ingest;

/// <summary>
/// The line rules of vector files (<see cref="CorpusLineParser"/>) as their one reader per format
/// applies them: the chunk readers (<see cref="SparseChunkReader"/>, <see cref="DenseChunkReader"/>)
/// report a malformed line with its number and reason and read on; their whole-file views
/// (<see cref="SparseCorpusReader"/>, <see cref="DenseVectorReader"/>) yield what precedes it and
/// throw at it with the same number and reason.
/// </summary>
public sealed class VectorLineRulesTests : IDisposable
{
    private readonly TempFiles _files = new();

    private static SparseVocabulary Vocabulary { get; } = SparseVocabulary.Load(TestData.Require("tokenizers/bert-base-uncased-vocab.txt"));

    public void Dispose() => _files.Dispose();

    public static TheoryData<string, string> MalformedSparseLines => new()
    {
        { """{"id": "a", "vector": {"zzqqxx-not-a-token": 1.0}}""", "'zzqqxx-not-a-token' is not in the vocabulary" },
        { """{"id": "a", "vector": {"apple": -0.5}}""", "negative weight" },
        { """{"id": "a", "vector": {"apple": 1e39}}""", "infinite weight" },
        { """{"id": "a", "vector": {"apple": NaN}}""", "invalid JSON" },
        { """{"id": "a", "vector": {"apple": "0.5"}}""", "must be a number" },
        { """{"id": "a", "vector": {"apple": 1, "apple": 2}}""", "'apple' occurs more than once" },
        { """{"id": "a", "contents": "x"}""", "missing \"vector\"" },
        { """{"contents": "x", "vector": {}}""", "missing \"id\"" },
        { """{"id": " ", "vector": {}}""", "empty document id" },
        { """{"id": true, "vector": {}}""", "\"id\" must be a string or a number" },
        { """{"id": "a", "contents": 3, "vector": {}}""", "\"contents\" must be a string or null" },
        { """{"id": "a", "vector": [1, 2]}""", "must be an object of token: weight" },
        { """{"id": "a", "vector": {"apple": 1}""", "invalid JSON" },
        { """{"id": "a", "vector": {"apple": 1}} trailing""", "after a single JSON value" },
        { """{"id": "a", "vector": {"apple": 1}} {"id": "b", "vector": {}}""", "after a single JSON value" },
        { """["id", "a"]""", "expected a JSON object" },
        { "a\tapple", "invalid JSON" },
    };

    [Theory]
    [MemberData(nameof(MalformedSparseLines))]
    public void A_malformed_sparse_line_is_reported_by_the_reader_and_stops_its_whole_file_view_at_the_same_line_and_reason(string bad, string expected)
    {
        // Line 1 good, line 2 blank (skipped, still counted), line 3 bad, line 4 good.
        string path = _files.Write("sparse.jsonl", string.Join('\n',
            """{"id": "g1", "vector": {"apple": 1.5}}""", " \t", bad, """{"id": "g4", "vector": {"pie": 0.5}}""") + "\n");

        string? parserReason = null;
        Assert.Null(CorpusLineParser.TryParseSparse(Encoding.UTF8.GetBytes(bad), Vocabulary, out parserReason));
        Assert.Contains(expected, parserReason);

        var thrown = Assert.Throws<CorpusFormatException>(() => SparseCorpusReader.Read(path, Vocabulary).ToList());
        Assert.Equal(3, thrown.LineNumber);
        Assert.Equal(path, thrown.Path);
        Assert.Equal(parserReason, thrown.Reason);
        Assert.Equal($"Malformed corpus record in '{path}' at line 3: {parserReason}", thrown.Message);

        using var job = SparseChunkReader.Open(path, Vocabulary);
        var chunk = job.ReadChunk(100);
        Assert.Equal([1L, 4L], chunk.Records.Select(r => r.Line));
        var malformed = Assert.Single(chunk.Malformed);
        Assert.Equal(new MalformedLine(3, parserReason!), malformed);
    }

    [Fact]
    public void Sparse_whole_file_view_reads_the_documents_of_the_chunk_reader_from_well_formed_lines()
    {
        string path = _files.Write("sparse-ok.jsonl", string.Join('\n',
            """{"id": "a", "contents": "alpha", "vector": {"apple": 1.5, "pie": 0}}""",
            "",
            """{"_id": "b", "text": null, "vector": {"the": 0.25, "apple": 2}, "extra": [1, {"x": 2}]}""",
            """{"docid": 7, "vector": {}}""",
            """  {"id": "c", "vector": {"pie": 3}}  """) + "\n");
        var expected = SparseCorpusReader.Read(path, Vocabulary).ToList();
        using var job = SparseChunkReader.Open(path, Vocabulary);
        var chunk = job.ReadChunk(100);
        Assert.Empty(chunk.Malformed);
        Assert.Equal(["a", "b", "7", "c"], expected.Select(d => d.Id));
        Assert.Equal(expected.Select(d => (d.Id, d.Text)), chunk.Records.Select(r => (r.Id, r.Text)));
        Assert.Equal(expected.Select(d => d.Vector.Terms), chunk.Records.Select(r => r.Terms));
        Assert.Equal(expected.Select(d => d.Vector.Weights), chunk.Records.Select(r => r.Weights));
        Assert.Equal(1, expected[0].Vector.Count); // zero weight dropped on both paths
    }

    public static TheoryData<string, string> MalformedSparseQueryLines => new()
    {
        { """{"qid": "q", "vector": {"zzqqxx-not-a-token": 1.0}}""", "'zzqqxx-not-a-token' is not in the vocabulary" },
        { """{"qid": "q", "vector": {"apple": 1}} trailing""", "after a single JSON value" },
        { """{"docid": "q", "vector": {"apple": 1}}""", "missing or empty query id" },
        { """{"qid": "q"}""", "missing \"vector\"" },
        { """{"qid": [1], "vector": {}}""", "\"qid\" must be a string or a number" },
    };

    [Theory]
    [MemberData(nameof(MalformedSparseQueryLines))]
    public void A_malformed_sparse_json_query_line_is_rejected_by_the_reader_with_the_parser_reason(string bad, string expected)
    {
        string path = _files.Write("queries.jsonl", string.Join('\n', """{"qid": "q1", "contents": "ignored", "vector": {"apple": 1}}""", bad) + "\n");
        Assert.Null(CorpusLineParser.TryParseSparseQuery(Encoding.UTF8.GetBytes(bad), Vocabulary, out string? parserReason));
        Assert.Contains(expected, parserReason);
        var thrown = Assert.Throws<CorpusFormatException>(() => SparseCorpusReader.ReadQueries(path, Vocabulary));
        Assert.Equal((2L, parserReason), (thrown.LineNumber, thrown.Reason));
    }

    [Fact]
    public void Sparse_json_queries_take_their_id_from_id_qid_or_underscore_id()
    {
        string path = _files.Write("queries-ok.jsonl", """
            {"qid": 5, "vector": {"apple": 1}}
            {"_id": "x", "contents": 3, "vector": {"pie": 2, "apple": 0}}
            {"id": "y", "vector": {}}
            """);
        var queries = SparseCorpusReader.ReadQueries(path, Vocabulary);
        Assert.Equal(["5", "x", "y"], queries.Select(q => q.Id));
        Assert.Equal([1, 1, 0], queries.Select(q => q.Vector.Count));
        Assert.Equal(CorpusLineParser.TryParseSparseQuery("""{"_id": "x", "vector": {"pie": 2}}"""u8, Vocabulary, out _)!.Value.Vector.Terms, queries[1].Vector.Terms);
    }

    public static TheoryData<string, string> MalformedDenseLines => new()
    {
        { """{"id": "a", "vector": [1, 2]}""", "vector has 2 dimensions, expected 3" },
        { """{"id": "a", "vector": [1, NaN, 3]}""", "NaN or Infinity" },
        { """{"id": "a", "vector": [1, "nan", 3]}""", "NaN or infinite" },
        { """{"id": "a", "vector": [1, "x", 3]}""", "component 1 is not a number" },
        { """{"id": "a", "vector": [1, 1e39, 3]}""", "outside the float32 range" },
        { """{"id": "a", "vector": []}""", "\"vector\" is empty" },
        { """{"id": "a", "vector": {"x": 1}}""", "\"vector\" is not an array of numbers" },
        { """{"id": "", "vector": [1, 2, 3]}""", "missing or empty id" },
        { """{"vector": [1, 2, 3]}""", "missing or empty id" },
        { """{"id": "a"}""", "missing \"vector\"" },
        { """{"id": {"x": 1}, "vector": [1, 2, 3]}""", "the id is neither a string nor a number" },
        { """{"id": "a", "vector": [1, 2, 3]""", "malformed JSON" },
        // The rule the ingest reader used to lack: nothing may follow the object.
        { """{"id": "a", "vector": [1, 2, 3]} trailing""", "after a single JSON value" },
        { """{"id": "a", "vector": [1, 2, 3]}{"id": "b", "vector": [4, 5, 6]}""", "after a single JSON value" },
        { """[1, 2, 3]""", "expected a JSON object" },
    };

    [Theory]
    [MemberData(nameof(MalformedDenseLines))]
    public void A_malformed_dense_line_is_reported_by_the_reader_and_stops_its_whole_file_view_at_the_same_line_and_reason(string bad, string expected)
    {
        string path = _files.Write("dense.jsonl", string.Join('\n',
            """{"id": "g1", "vector": [1, 0, 0]}""", "", bad, """{"id": "g4", "vector": [0, 0, 1]}""") + "\n");

        // Both paths take the dimension from the first vector (3) when none is given.
        Assert.Null(CorpusLineParser.TryParseDense(Encoding.UTF8.GetBytes(bad), 3, out string? parserReason));
        Assert.Contains(expected, parserReason);

        foreach (int? dims in new int?[] { null, 3 })
        {
            var thrown = Assert.Throws<DenseVectorException>(() => DenseVectorReader.Read(path, dims).ToList());
            Assert.Equal(3, thrown.Record);
            Assert.Equal(path, thrown.Path);
            Assert.Equal(parserReason, thrown.Reason);
            Assert.Equal($"Bad dense vector input in '{path}' at line 3: {parserReason}", thrown.Message);

            using var job = DenseChunkReader.Open(path, dims ?? 0);
            var chunk = job.ReadChunk(100);
            Assert.Equal([1L, 4L], chunk.Records.Select(r => r.Line));
            Assert.Equal(new MalformedLine(3, parserReason!), Assert.Single(chunk.Malformed));
        }
    }

    [Fact]
    public void Dense_whole_file_view_reads_the_vectors_of_the_chunk_reader_and_the_first_vector_fixes_the_dimension()
    {
        string path = _files.Write("dense-ok.jsonl", string.Join('\n',
            """{"id": "a", "contents": "ignored", "vector": [1, 2.5, -3]}""",
            "\t",
            """{"qid": 7, "docid": "second-name-ignored", "vector": [0, 0, 1e-3]}""",
            """ {"_id": "c", "vector": [4, 5, 6], "extra": {"y": [1]}} """) + "\n");
        var expected = DenseVectorReader.Read(path, null).ToList();
        using var job = DenseChunkReader.Open(path);
        var chunk = job.ReadChunk(100);
        Assert.Empty(chunk.Malformed);
        Assert.Equal(["a", "7", "c"], expected.Select(v => v.Id));
        Assert.Equal(expected.Select(v => v.Id), chunk.Records.Select(r => r.Id));
        Assert.Equal(expected.Select(v => v.Vector), chunk.Records.Select(r => r.Vector));
        Assert.Equal(3, job.Dims);

        // A later vector of another size: line 5 on both paths, the same reason.
        string mixed = _files.Write("dense-mixed.jsonl", File.ReadAllText(path) + """{"id": "d", "vector": [1, 2]}""" + "\n");
        var thrown = Assert.Throws<DenseVectorException>(() => DenseVectorReader.Read(mixed, null).ToList());
        using var mixedJob = DenseChunkReader.Open(mixed);
        var m = Assert.Single(mixedJob.ReadChunk(100).Malformed);
        Assert.Equal((5L, "vector has 2 dimensions, expected 3"), (thrown.Record, thrown.Reason));
        Assert.Equal(new MalformedLine(5, thrown.Reason), m);
    }
}
