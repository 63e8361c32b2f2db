using System.Text;
using Shoal.Engine.Ingest;
using Xunit;

using Shoal.Engine.Tests;

namespace Shoal.Engine.Tests.Ingest;

public sealed class CorpusReaderTests : IDisposable
{
    private const string BeirCorpus =
        "{\"_id\": \"d1\", \"title\": \"First\", \"text\": \"Alpha text.\"}\n"
        + "\n"
        + "{\"_id\": \"d2\", \"text\": \"No title here\", \"metadata\": {\"url\": \"x\", \"tags\": [1, {\"a\": null}]}}\r\n"
        + "   \n"
        + "{\"text\": \"caf\\u00e9\\nline\", \"title\": null, \"_id\": 3}\n"
        + "{\"_id\": \"d4\", \"title\": \"\", \"text\": \"\"}";

    private readonly TempFiles _files = new();

    public void Dispose() => _files.Dispose();

    [Fact]
    public void ReadsBeirJsonl()
    {
        string path = _files.Write("corpus.jsonl", BeirCorpus);
        AssertBeirDocuments(CorpusReader.Read(path, CorpusFormat.BeirJsonl).ToList());
    }

    [Fact]
    public void ReadsGzipBeirJsonlDetectedByMagicBytes()
    {
        AssertBeirDocuments(CorpusReader.Read(_files.WriteGzip("corpus.jsonl.gz", BeirCorpus), CorpusFormat.BeirJsonl).ToList());
        AssertBeirDocuments(CorpusReader.Read(_files.WriteGzip("corpus.jsonl", BeirCorpus), CorpusFormat.BeirJsonl).ToList());
    }

    [Fact]
    public void SkipsUtf8ByteOrderMark()
    {
        byte[] bytes = [.. Encoding.UTF8.GetPreamble(), .. Encoding.UTF8.GetBytes("{\"_id\":\"d1\",\"text\":\"t\"}\n")];
        SourceDocument document = Assert.Single(CorpusReader.Read(_files.WriteBytes("bom.jsonl", bytes), CorpusFormat.BeirJsonl));
        Assert.Equal(new SourceDocument("d1", null, "t"), document);
    }

    [Fact]
    public void ReadsMsMarcoV2Passages()
    {
        const string Content =
            "{\"pid\": \"msmarco_passage_00_0\", \"passage\": \"The hot glowing surfaces of stars.\", \"spans\": \"(0,35)\", \"docid\": \"msmarco_doc_00_0\"}\n"
            + "{\"pid\": \"msmarco_passage_00_491\", \"passage\": \"Second.\", \"spans\": \"(1,8)\", \"docid\": \"msmarco_doc_00_0\", \"title\": \"ignored\"}\n";
        foreach (string path in new[] { _files.Write("msmarco.jsonl", Content), _files.WriteGzip("msmarco.jsonl.gz", Content) })
        {
            List<SourceDocument> documents = CorpusReader.Read(path, CorpusFormat.MsMarcoV2Jsonl).ToList();
            Assert.Equal(
                [
                    new SourceDocument("msmarco_passage_00_0", null, "The hot glowing surfaces of stars."),
                    new SourceDocument("msmarco_passage_00_491", null, "Second."),
                ],
                documents);
        }
    }

    [Fact]
    public void ReadsTsvWithTwoOrThreeColumns()
    {
        const string Content = "0\tThe presence of communication.\r\n\n1\tA Title\tBody text é\n2\t\tUntitled body\n3\t\n";
        foreach (string path in new[] { _files.Write("collection.tsv", Content), _files.WriteGzip("collection.tsv.gz", Content) })
        {
            List<SourceDocument> documents = CorpusReader.Read(path, CorpusFormat.Tsv).ToList();
            Assert.Equal(
                [
                    new SourceDocument("0", null, "The presence of communication."),
                    new SourceDocument("1", "A Title", "Body text é"),
                    new SourceDocument("2", null, "Untitled body"),
                    new SourceDocument("3", null, string.Empty),
                ],
                documents);
        }
    }

    [Fact]
    public void StreamsLongLinesAndManyLinesAcrossBufferBoundaries()
    {
        string longText = new('x', 300_000);
        var builder = new StringBuilder();
        builder.Append("{\"_id\":\"long\",\"text\":\"").Append(longText).Append("\"}\n");
        for (int i = 0; i < 20_000; i++)
        {
            builder.Append("{\"_id\":\"d").Append(i).Append("\",\"title\":\"t").Append(i).Append("\",\"text\":\"body ").Append(i).Append("\"}\n");
        }

        foreach (string path in new[] { _files.Write("big.jsonl", builder.ToString()), _files.WriteGzip("big.jsonl.gz", builder.ToString()) })
        {
            int count = 0;
            foreach (SourceDocument document in CorpusReader.Read(path, CorpusFormat.BeirJsonl))
            {
                if (count == 0)
                {
                    Assert.Equal(longText, document.Text);
                }
                else
                {
                    int i = count - 1;
                    Assert.Equal(new SourceDocument($"d{i}", $"t{i}", $"body {i}"), document);
                }

                count++;
            }

            Assert.Equal(20_001, count);
        }
    }

    [Theory]
    [InlineData("{\"_id\": \"d1\", \"text\": \"ok\"}\n{\"_id\": \"d2\", \"text\": \"unterminated}\n", 2, "invalid JSON")]
    [InlineData("{\"_id\": \"d1\", \"text\": \"ok\"}\n\n{\"title\": \"t\", \"text\": \"no id\"}\n", 3, "missing \"_id\"")]
    [InlineData("{\"_id\": \"\", \"text\": \"empty id\"}\n", 1, "empty \"_id\"")]
    [InlineData("{\"_id\": \"  \", \"text\": \"blank id\"}\n", 1, "empty \"_id\"")]
    [InlineData("{\"_id\": \"d1\", \"text\": \"ok\"}\n{\"_id\": \"d2\", \"title\": \"no text\"}\n", 2, "missing \"text\" (document 'd2')")]
    [InlineData("{\"_id\": \"d1\", \"text\": 42}\n", 1, "\"text\" must be a string")]
    [InlineData("{\"_id\": [\"d1\"], \"text\": \"t\"}\n", 1, "\"_id\" must be a string")]
    [InlineData("{\"_id\": \"d1\", \"title\": 7, \"text\": \"t\"}\n", 1, "\"title\" must be a string or null")]
    [InlineData("[\"d1\", \"text\"]\n", 1, "expected a JSON object")]
    [InlineData("{\"_id\": \"d1\", \"text\": \"t\"} trailing\n", 1, "invalid JSON")]
    [InlineData("{\"_id\": \"d1\", \"text\": \"t\"}{\"_id\": \"d2\", \"text\": \"t\"}\n", 1, "invalid JSON")]
    public void MalformedBeirLinesThrowWithLineNumber(string content, int line, string reason)
    {
        AssertMalformed(_files.Write("bad.jsonl", content), CorpusFormat.BeirJsonl, line, reason);
    }

    [Theory]
    [InlineData("{\"pid\": \"p1\", \"passage\": \"ok\"}\n{\"_id\": \"p2\", \"passage\": \"beir id\"}\n", 2, "missing \"pid\"")]
    [InlineData("{\"pid\": \"p1\", \"text\": \"beir text\"}\n", 1, "missing \"passage\"")]
    public void MalformedMsMarcoLinesThrowWithLineNumber(string content, int line, string reason)
    {
        AssertMalformed(_files.Write("bad-msmarco.jsonl", content), CorpusFormat.MsMarcoV2Jsonl, line, reason);
    }

    [Theory]
    [InlineData("1\tok\n2 no tab\n", 2, "no tab")]
    [InlineData("1\tok\n\n\tno id\n", 3, "empty id")]
    [InlineData("1\tok\n2\ta\tb\tc\n", 2, "found 4")]
    public void MalformedTsvLinesThrowWithLineNumber(string content, int line, string reason)
    {
        AssertMalformed(_files.Write("bad.tsv", content), CorpusFormat.Tsv, line, reason);
    }

    [Fact]
    public void InvalidUtf8IsAFormatError()
    {
        byte[] bytes = [.. "1\tok\n2\tbad "u8, 0xC3, 0x28, (byte)'\n'];
        AssertMalformed(_files.WriteBytes("bad-utf8.tsv", bytes), CorpusFormat.Tsv, 2, "invalid UTF-8");

        byte[] json = [.. "{\"_id\":\"1\",\"text\":\"bad "u8, 0xFF, .. "\"}\n"u8];
        AssertMalformed(_files.WriteBytes("bad-utf8.jsonl", json), CorpusFormat.BeirJsonl, 1, "JSON");
    }

    [Fact]
    public void DocumentsBeforeAMalformedLineAreYielded()
    {
        string path = _files.Write("partial.jsonl", "{\"_id\":\"a\",\"text\":\"1\"}\n{\"_id\":\"b\",\"text\":\"2\"}\nnot json\n");
        var seen = new List<string>();
        CorpusFormatException ex = Assert.Throws<CorpusFormatException>(() =>
        {
            foreach (SourceDocument document in CorpusReader.Read(path, CorpusFormat.BeirJsonl))
            {
                seen.Add(document.Id);
            }
        });
        Assert.Equal(["a", "b"], seen);
        Assert.Equal(3, ex.LineNumber);
    }

    [Fact]
    public void CorruptGzipIsAFormatError()
    {
        // A valid gzip header followed by a deflate block of the reserved type 11.
        byte[] bytes = [0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];
        string path = _files.WriteBytes("corrupt.jsonl", bytes);
        CorpusFormatException ex = Assert.Throws<CorpusFormatException>(() => CorpusReader.Read(path, CorpusFormat.BeirJsonl).ToList());
        Assert.Equal(1, ex.LineNumber);
        Assert.Contains("unreadable input", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MissingFileThrowsEagerly()
    {
        string path = _files.PathOf("missing.jsonl");
        FileNotFoundException ex = Assert.Throws<FileNotFoundException>(() => CorpusReader.Read(path, CorpusFormat.BeirJsonl));
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        Assert.Equal(path, ex.FileName);
    }

    [Fact]
    public void EachEnumerationRereadsTheFile()
    {
        IEnumerable<SourceDocument> documents = CorpusReader.Read(_files.Write("c.tsv", "1\ta\n2\tb\n"), CorpusFormat.Tsv);
        Assert.Equal(2, documents.Count());
        Assert.Equal(2, documents.Count());
    }

    private static void AssertBeirDocuments(List<SourceDocument> documents)
    {
        Assert.Equal(
            [
                new SourceDocument("d1", "First", "Alpha text."),
                new SourceDocument("d2", null, "No title here"),
                new SourceDocument("3", null, "caf\u00e9\nline"),
                new SourceDocument("d4", null, string.Empty),
            ],
            documents);
    }

    private static void AssertMalformed(string path, CorpusFormat format, int line, string reason)
    {
        CorpusFormatException ex = Assert.Throws<CorpusFormatException>(() => CorpusReader.Read(path, format).ToList());
        Assert.Equal(path, ex.Path);
        Assert.Equal(line, ex.LineNumber);
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        Assert.Contains($"line {line}:", ex.Message, StringComparison.Ordinal);
        Assert.Contains(reason, ex.Message, StringComparison.Ordinal);
        Assert.IsAssignableFrom<FormatException>(ex);
    }
}
