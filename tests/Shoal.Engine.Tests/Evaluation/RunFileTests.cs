using Shoal.Evaluation;
using Xunit;

using Shoal.Engine.Tests;

namespace Shoal.Engine.Tests.Evaluation;

public sealed class RunFileTests : IDisposable
{
    private readonly TempFiles _files = new();

    public void Dispose() => _files.Dispose();

    [Fact]
    public void RankedOrdersByScoreDescendingThenDocIdDescendingLikeTrecEval()
    {
        var run = new RunFile();
        run.Add("q", "a", 1.0);
        run.Add("q", "10", 0.5);
        run.Add("q", "c", 2.0);
        run.Add("q", "9", 0.5);
        run.Add("q", "b", 1.0);
        run.Add("q", "B", 1.0);

        // Ties: strcmp order descending, so "b" > "a" > "B" (uppercase sorts below lowercase)
        // and "9" > "10" (character, not numeric, comparison).
        Assert.Equal(["c", "b", "a", "B", "9", "10"], run.RankedDocIds("q"));
        Assert.Equal([("c", 2.0), ("b", 1.0), ("a", 1.0), ("B", 1.0), ("9", 0.5), ("10", 0.5)], run.Ranked("q"));
    }

    [Fact]
    public void InsertionOrderDoesNotMatter()
    {
        var forward = new RunFile();
        var backward = new RunFile();
        (string, double)[] entries = [("d1", 3), ("d2", 3), ("d3", 1), ("d4", 7), ("d5", 3)];
        foreach ((string doc, double score) in entries)
        {
            forward.Add("q", doc, score);
        }

        for (int i = entries.Length - 1; i >= 0; i--)
        {
            backward.Add("q", entries[i].Item1, entries[i].Item2);
        }

        Assert.Equal(["d4", "d5", "d2", "d1", "d3"], forward.RankedDocIds("q"));
        Assert.Equal(forward.RankedDocIds("q"), backward.RankedDocIds("q"));
    }

    [Fact]
    public void TieBreakUsesUtf8ByteOrderNotUtf16Order()
    {
        // U+FF21 encodes as EF BC A1, U+1F600 as F0 9F 98 80: strcmp puts the emoji higher, although
        // its UTF-16 surrogate (D83D) is below FF21.
        const string Fullwidth = "\uFF21";
        const string Emoji = "\U0001F600";
        Assert.True(string.CompareOrdinal(Fullwidth, Emoji) > 0);
        Assert.True(RunFile.CompareCodePoints(Fullwidth, Emoji) < 0);
        Assert.True(RunFile.CompareCodePoints("ab", "abc") < 0);
        Assert.True(RunFile.CompareCodePoints("b", "abc") > 0);
        Assert.Equal(0, RunFile.CompareCodePoints("x", "x"));

        var run = new RunFile();
        run.Add("q", Fullwidth, 1);
        run.Add("q", Emoji, 1);
        Assert.Equal([Emoji, Fullwidth], run.RankedDocIds("q"));
    }

    [Fact]
    public void UnknownQueryHasNoEntries()
    {
        var run = new RunFile();
        Assert.Empty(run.Ranked("missing"));
        Assert.Empty(run.RankedDocIds("missing"));
        Assert.False(run.Contains("missing"));
    }

    [Fact]
    public void AddRejectsDuplicatesAndNaN()
    {
        var run = new RunFile();
        run.Add("q", "d", 1);
        Assert.Throws<ArgumentException>(() => run.Add("q", "d", 2));
        Assert.Throws<ArgumentException>(() => run.Add("q", "e", double.NaN));
        Assert.Throws<ArgumentException>(() => run.Add("q", "", 1));
        run.Add("q2", "d", 1);
        Assert.Equal(2, run.QueryCount);
        Assert.Equal(2, run.EntryCount);
    }

    [Fact]
    public void WritesRanksInTrecEvalOrder()
    {
        var run = new RunFile();
        run.Add("2", "x", 0.25);
        run.Add("1", "a", 1.5);
        run.Add("1", "b", 1.5);
        run.Add("1", "c", 3);
        var writer = new StringWriter();
        run.WriteTrec(writer, "shoal");

        Assert.Equal(
            "2 Q0 x 1 0.25 shoal\n1 Q0 c 1 3 shoal\n1 Q0 b 2 1.5 shoal\n1 Q0 a 3 1.5 shoal\n",
            writer.ToString());
    }

    [Fact]
    public void WrittenRunReadsBackIdentically()
    {
        var run = new RunFile();
        var random = new Random(42);
        for (int q = 0; q < 5; q++)
        {
            for (int d = 0; d < 50; d++)
            {
                // Coarse scores produce many ties; odd values exercise round-trip formatting.
                double score = d % 3 == 0 ? Math.Round(random.NextDouble(), 1) : random.NextDouble() * 1e-7 - 3.3;
                run.Add($"q{q}", $"doc{random.Next(1000)}-{d}", score);
            }
        }

        run.Add("q0", "exact", 0.1 + 0.2);
        string path = _files.PathOf("run.txt");
        run.WriteTrec(path, "tag");
        RunFile read = RunFile.Load(path);

        Assert.Equal(run.QueryIds, read.QueryIds);
        Assert.Equal(run.EntryCount, read.EntryCount);
        foreach (string q in run.QueryIds)
        {
            Assert.Equal(run.Ranked(q), read.Ranked(q));
        }

        // Ranks in the file are 1..n per query in file order.
        string[] lines = File.ReadAllLines(path);
        Assert.Equal(run.EntryCount, lines.Length);
        Assert.StartsWith("q0 Q0 " + run.RankedDocIds("q0")[0] + " 1 ", lines[0], StringComparison.Ordinal);
        Assert.EndsWith(" 51 " + run.Ranked("q0")[50].Score.ToString("R", System.Globalization.CultureInfo.InvariantCulture) + " tag", lines[50], StringComparison.Ordinal);
    }

    [Fact]
    public void GzipRunRoundTrips()
    {
        var run = new RunFile();
        run.Add("q", "d1", 2);
        run.Add("q", "d2", 1);
        string path = _files.PathOf("run.trec.gz");
        run.WriteTrec(path, "t");

        byte[] head = File.ReadAllBytes(path)[..2];
        Assert.Equal(new byte[] { 0x1f, 0x8b }, head);
        Assert.Equal(["d1", "d2"], RunFile.Load(path).RankedDocIds("q"));
    }

    [Fact]
    public void LoadsTrecRunIgnoringRankColumn()
    {
        // The rank column disagrees with the scores: trec_eval (and we) rank by score, ties by docid desc.
        string path = _files.Write("run.txt", "q1 Q0 d1 1 1.0 t\n\nq1\tQ0\td2\t2\t5e0\tt\r\nq1 Q0 d3 3 1 t\nq2 Q0 d1 1 -0.5 t\n");
        RunFile run = RunFile.Load(path);
        Assert.Equal(["q1", "q2"], run.QueryIds);
        Assert.Equal(["d2", "d3", "d1"], run.RankedDocIds("q1"));
        Assert.Equal(-0.5, Assert.Single(run.Ranked("q2")).Score);
    }

    [Fact]
    public void LoadReadsGzipByMagicBytes()
    {
        string path = _files.WriteGzip("run.txt", "q1 Q0 d1 1 1.0 t\n");
        Assert.Equal("d1", Assert.Single(RunFile.Load(path).RankedDocIds("q1")));
    }

    [Theory]
    [InlineData("q1 Q0 d1 1 1.0 t\nq1 Q0 d2 2 t\n", 2, "expected 6")]
    [InlineData("q1 Q0 d1 1 1.0 t\nq1 Q0 d2 2 1.0 t\n\nq1 Q0 d3 3 high t\n", 4, "score 'high'")]
    [InlineData("q1 Q0 d1 1 1.0 t\nq1 Q0 d1 2 0.5 t\n", 2, "more than once")]
    [InlineData("q1 Q0 d1 1 NaN t\n", 1, "not a number")]
    public void MalformedRunLinesNameFileAndLine(string content, int line, string reason)
    {
        string path = _files.Write("bad-run.txt", content);
        FormatException ex = Assert.Throws<FormatException>(() => RunFile.Load(path));
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        Assert.Contains($"line {line}:", ex.Message, StringComparison.Ordinal);
        Assert.Contains(reason, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void WriteRejectsIdsAndTagsWithWhitespace()
    {
        var run = new RunFile();
        run.Add("q", "doc one", 1);
        Assert.Throws<ArgumentException>(() => run.WriteTrec(new StringWriter(), "my tag"));
        Assert.Throws<InvalidOperationException>(() => run.WriteTrec(new StringWriter(), "tag"));
    }

    [Fact]
    public void MissingRunFileThrowsFileNotFound()
    {
        string path = _files.PathOf("nope.txt");
        FileNotFoundException ex = Assert.Throws<FileNotFoundException>(() => RunFile.Load(path));
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
    }
}
