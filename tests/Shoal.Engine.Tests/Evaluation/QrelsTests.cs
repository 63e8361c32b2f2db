using Shoal.Evaluation;
using Xunit;

using Shoal.Engine.Tests;

namespace Shoal.Engine.Tests.Evaluation;

public sealed class QrelsTests : IDisposable
{
    private const string Trec = "q1 0 d1 1\nq1 0 d2 0\n\nq2 0 d3 2\nq2 0 d4 1\nq3 0 d5 0\n";
    private const string Beir = "query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td2\t0\nq2\td3\t2\n\nq2\td4\t1\nq3\td5\t0\n";

    private readonly TempFiles _files = new();

    public void Dispose() => _files.Dispose();

    [Fact]
    public void LoadsTrecFormat()
    {
        AssertExpected(Qrels.Load(_files.Write("qrels.txt", Trec)));
    }

    [Fact]
    public void LoadsTrecFormatWithTabsAndCrLf()
    {
        AssertExpected(Qrels.Load(_files.Write("qrels.txt", Trec.Replace(' ', '\t').Replace("\n", "\r\n", StringComparison.Ordinal))));
    }

    [Fact]
    public void LoadsBeirTsvWithHeader()
    {
        AssertExpected(Qrels.Load(_files.Write("test.tsv", Beir)));
    }

    [Fact]
    public void LoadsBeirTsvWithoutHeader()
    {
        AssertExpected(Qrels.Load(_files.Write("test.tsv", Beir[(Beir.IndexOf('\n') + 1)..])));
    }

    [Fact]
    public void LoadsGzipDetectedByMagicBytes()
    {
        AssertExpected(Qrels.Load(_files.WriteGzip("qrels.txt.gz", Trec)));
        AssertExpected(Qrels.Load(_files.WriteGzip("test.tsv", Beir)));

        // A plain file named .gz is read as plain text.
        AssertExpected(Qrels.Load(_files.Write("plain.txt.gz", Trec)));
    }

    [Fact]
    public void TrecAndBeirFormatsGiveEqualJudgments()
    {
        Qrels trec = Qrels.Load(_files.Write("qrels.txt", Trec));
        Qrels beir = Qrels.Load(_files.Write("test.tsv", Beir));
        Assert.Equal(Flatten(trec), Flatten(beir));
    }

    [Fact]
    public void RepeatedIdenticalJudgmentIsAcceptedOnce()
    {
        Qrels qrels = Qrels.Load(_files.Write("qrels.txt", "q1 0 d1 1\nq1 0 d1 1\n"));
        Assert.Equal(1, qrels.JudgmentCount);
    }

    [Theory]
    [InlineData("q1 0 d1 1\nq1 0 d2 1\nq1 0 d3\n", 3, "expected 4")]
    [InlineData("q1 0 d1 1\n\nq1 0 d2 yes\n", 3, "relevance 'yes' is not an integer")]
    [InlineData("q1 0 d1 1\nq1 0 d1 2\n", 2, "conflicting judgment")]
    [InlineData("q1 d1\n", 1, "unrecognised qrels format")]
    [InlineData("query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td2\n", 3, "expected 3 tab-separated")]
    [InlineData("q1\td1\t1\nq1\td2\t1\textra\n", 2, "expected 3 tab-separated")]
    [InlineData("q1\td1\t1\nq1\td2\t0.5\n", 2, "relevance '0.5' is not an integer")]
    [InlineData("q1\td1\t1\n\t\t1\n", 2, "empty query or document id")]
    public void MalformedLinesNameFileAndLine(string content, int line, string reason)
    {
        string path = _files.Write("bad-qrels.txt", content);
        FormatException ex = Assert.Throws<FormatException>(() => Qrels.Load(path));
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        Assert.Contains($"line {line}:", ex.Message, StringComparison.Ordinal);
        Assert.Contains(reason, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MissingFileThrowsFileNotFound()
    {
        string path = _files.PathOf("none.txt");
        FileNotFoundException ex = Assert.Throws<FileNotFoundException>(() => Qrels.Load(path));
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CreateBuildsFromTuplesAndRejectsConflicts()
    {
        Qrels qrels = Qrels.Create([("q1", "d1", 1), ("q1", "d2", 0), ("q2", "d3", 2), ("q2", "d4", 1), ("q3", "d5", 0)]);
        AssertExpected(qrels);
        Assert.Throws<ArgumentException>(() => Qrels.Create([("q1", "d1", 1), ("q1", "d1", 0)]));
    }

    [Fact]
    public void UnknownQueryHasNoJudgments()
    {
        Qrels qrels = Qrels.Create([("q1", "d1", 1)]);
        Assert.Empty(qrels.Relevant("zz"));
        Assert.Empty(qrels.JudgmentsFor("zz"));
    }

    private static void AssertExpected(Qrels qrels)
    {
        Assert.Equal(3, qrels.QueryCount);
        Assert.Equal(5, qrels.JudgmentCount);
        Assert.Equal(["q1", "q2", "q3"], qrels.Judgments.Keys);
        Assert.Equal(new HashSet<string> { "d1" }, qrels.Relevant("q1"));
        Assert.Equal(new HashSet<string> { "d3", "d4" }, qrels.Relevant("q2"));
        Assert.Empty(qrels.Relevant("q3"));
        Assert.Equal(0, qrels.Judgments["q1"]["d2"]);
        Assert.Equal(2, qrels.JudgmentsFor("q2")["d3"]);
        Assert.Equal(0, qrels.Judgments["q3"]["d5"]);
    }

    internal static SortedSet<string> Flatten(Qrels qrels)
    {
        var set = new SortedSet<string>(StringComparer.Ordinal);
        foreach (KeyValuePair<string, IReadOnlyDictionary<string, int>> query in qrels.Judgments)
        {
            foreach (KeyValuePair<string, int> judgment in query.Value)
            {
                set.Add($"{query.Key} {judgment.Key} {judgment.Value}");
            }
        }

        return set;
    }
}
