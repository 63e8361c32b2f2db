using System.Text;
using FsCheck.Xunit;
using Shoal.Engine.Indexing;
using Shoal.Engine.Ingest;
using Shoal.Engine.Sparse;

namespace Shoal.Engine.Tests.Robustness;

/// <summary>
/// The per-line parsers that indexing jobs and ingest apply to corpus, sparse-vector and
/// dense-vector lines: any bytes give a document or a reason, never an exception.
/// </summary>
public sealed class LineParserPropertyTests
{
    private static readonly SparseVocabulary Vocabulary = SparseVocabulary.FromTokens(["tide", "moon", "sea", "##s", "[UNK]"]);

    private static readonly string[] ValidLines =
    [
        """{"_id": "d1", "title": "Tides", "text": "The moon pulls the sea.", "metadata": {"a": [1, 2]}}""",
        """{"pid": "msmarco_passage_00_0", "passage": "tides", "spans": "(0,5)", "docid": "x"}""",
        "d7\tThe moon and the tides\tTitle",
        """{"id": "s1", "contents": "tide", "vector": {"tide": 1.5, "moon": 0.25, "##s": 3}}""",
        """{"id": 17, "vector": [0.5, -1.25, 3e-3, 1E2]}""",
    ];

    private static void NeverThrows(byte[] line, string what)
    {
        foreach (var format in new[] { CorpusFormat.BeirJsonl, CorpusFormat.MsMarcoV2Jsonl, CorpusFormat.Tsv })
        {
            var doc = CorpusLineParser.TryParse(line, format, out string? reason);
            Assert.True(doc is not null ^ reason is not null, $"{what} ({format}): document and reason {doc}, {reason}");
        }
        var sparse = CorpusLineParser.TryParseSparse(line, Vocabulary, out string? sparseReason);
        Assert.True(sparse is not null ^ sparseReason is not null, $"{what} (sparse)");
        if (sparse is { } s)
            Assert.All(s.Vector.Weights.ToArray(), w => Assert.True(float.IsFinite(w) && w > 0, $"{what}: weight {w}"));
        CorpusLineParser.TryParseSparseQuery(line, Vocabulary, out _);
        foreach (int dims in new[] { 0, 4 })
        {
            var dense = CorpusLineParser.TryParseDense(line, dims, out string? denseReason);
            Assert.True(dense is not null ^ denseReason is not null, $"{what} (dense {dims})");
            if (dense is { } d)
            {
                Assert.True(dims == 0 || d.Vector.Length == dims, what);
                Assert.All(d.Vector, x => Assert.True(float.IsFinite(x), $"{what}: component {x}"));
            }
        }
    }

    [Property(MaxTest = 300)]
    public void Arbitrary_bytes_give_a_document_or_a_reason(byte[] line) => NeverThrows(line, "arbitrary");

    [Property(MaxTest = 200)]
    public void Arbitrary_text_gives_a_document_or_a_reason(string? text) => NeverThrows(Encoding.UTF8.GetBytes(text ?? ""), "text");

    [Fact]
    public void Mutants_of_valid_lines_give_a_document_or_a_reason()
    {
        foreach (var valid in ValidLines)
        {
            NeverThrows(Encoding.UTF8.GetBytes(valid), valid);
            for (int seed = 0; seed < 300; seed++)
                NeverThrows(Mutations.MutateText(valid, seed), $"{valid} seed {seed}");
        }
    }

    [Fact]
    public void Non_finite_weights_deep_json_and_invalid_utf8_are_reasons()
    {
        string[] bad =
        [
            """{"id": "s1", "vector": {"tide": NaN}}""",
            """{"id": "s1", "vector": {"tide": 1e999}}""",
            """{"id": "s1", "vector": {"tide": -1}}""",
            """{"id": 1, "vector": [1e39, 0, 0, 0]}""",
            """{"id": 1, "vector": [Infinity, 0, 0, 0]}""",
            """{"_id": "d", "text": "x", "deep": """ + Mutations.DeepJson(5000, objects: false) + "}",
            Mutations.DeepJson(5000, objects: true),
        ];
        foreach (var line in bad)
        {
            Assert.Null(CorpusLineParser.TryParseSparse(Encoding.UTF8.GetBytes(line), Vocabulary, out string? r1) is { } s && line.Contains("vector", StringComparison.Ordinal) ? s : null);
            Assert.Null(CorpusLineParser.TryParseDense(Encoding.UTF8.GetBytes(line), 4, out _));
            NeverThrows(Encoding.UTF8.GetBytes(line), line[..Math.Min(40, line.Length)]);
        }
        foreach (var invalid in Mutations.InvalidUtf8)
        {
            byte[] line = [.. "{\"_id\": \"d\u00e9"u8, .. invalid, .. "\", \"text\": \"x\"}"u8];
            Assert.Null(CorpusLineParser.TryParse(line, CorpusFormat.BeirJsonl, out string? reason));
            Assert.NotNull(reason);
        }
    }
}
