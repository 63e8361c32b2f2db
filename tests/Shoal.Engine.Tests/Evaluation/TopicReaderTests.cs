using Shoal.Evaluation;
using Xunit;

using Shoal.Engine.Tests;

namespace Shoal.Engine.Tests.Evaluation;

public sealed class TopicReaderTests : IDisposable
{
    private readonly TempFiles _files = new();

    public void Dispose() => _files.Dispose();

    [Fact]
    public void ReadsBeirJsonl()
    {
        string path = _files.Write(
            "queries.jsonl",
            "{\"_id\": \"1\", \"text\": \"first query\", \"metadata\": {\"a\": [1, 2]}}\n"
            + "\n"
            + "{\"id\": \"2\", \"text\": \"caf\\u00e9 \\\"quoted\\\"\"}\r\n"
            + "{\"_id\": 3, \"text\": \"numeric id\"}\n");

        IReadOnlyList<Topic> topics = TopicReader.Load(path);

        Assert.Equal(
            [new Topic("1", "first query"), new Topic("2", "caf\u00e9 \"quoted\""), new Topic("3", "numeric id")],
            topics);
    }

    [Fact]
    public void ReadsTsvSplittingAtFirstTab()
    {
        string path = _files.Write("topics.tsv", "101\tdo goldfish grow\n\n102\twhat\tis wifi\n");
        Assert.Equal([new Topic("101", "do goldfish grow"), new Topic("102", "what\tis wifi")], TopicReader.Load(path));
    }

    [Fact]
    public void DetectsGzipByMagicBytesNotExtension()
    {
        string tsv = _files.WriteGzip("topics.txt", "1\tone\n2\ttwo\n");
        string json = _files.WriteGzip("queries", "{\"_id\":\"1\",\"text\":\"one\"}\n");
        Assert.Equal([new Topic("1", "one"), new Topic("2", "two")], TopicReader.Load(tsv));
        Assert.Equal([new Topic("1", "one")], TopicReader.Load(json));
    }

    [Theory]
    [InlineData("{\"_id\":\"1\",\"text\":\"a\"}\n{\"_id\":\"2\",\"text\":\n", 2, "invalid JSON")]
    [InlineData("{\"_id\":\"1\",\"text\":\"a\"}\n\n{\"_id\":\"2\"}\n", 3, "missing \"text\"")]
    [InlineData("{\"_id\":\"1\",\"text\":\"a\"}\n{\"text\":\"b\"}\n", 2, "missing \"_id\"")]
    [InlineData("{\"_id\":\"\",\"text\":\"a\"}\n", 1, "empty query id")]
    [InlineData("{\"_id\":\"1\",\"text\":\"a\"}\n[1]\n", 2, "expected a JSON object")]
    [InlineData("{\"_id\":\"1\",\"text\":\"a\"}\n{\"_id\":\"1\",\"text\":\"b\"}\n", 2, "duplicate query id '1'")]
    [InlineData("1\tone\n2 two\n", 2, "no tab")]
    [InlineData("1\tone\n\tnothing\n", 2, "empty query id")]
    public void MalformedLinesNameFileAndLine(string content, int line, string reason)
    {
        string path = _files.Write("bad-topics.txt", content);
        FormatException ex = Assert.Throws<FormatException>(() => TopicReader.Load(path));
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        Assert.Contains($"line {line}:", ex.Message, StringComparison.Ordinal);
        Assert.Contains(reason, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MissingFileThrowsFileNotFound()
    {
        string path = _files.PathOf("missing.jsonl");
        Assert.Contains(path, Assert.Throws<FileNotFoundException>(() => TopicReader.Load(path)).Message, StringComparison.Ordinal);
    }
}
