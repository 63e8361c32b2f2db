using System.Text.Json;
using Shoal.Cli.Commands;

namespace Shoal.Integration.Tests;

public class EvalTests
{
    private static async Task<(int Code, string Out, string Err)> Eval(EvalCommand.EvalSettings settings)
    {
        var output = new StringWriter();
        var errors = new StringWriter();
        int code = await EvalCommand.RunAsync(settings, output, errors, CancellationToken.None);
        return (code, output.ToString(), errors.ToString());
    }

    private static JsonElement Result(string output)
    {
        var lines = output.TrimEnd().Split('\n');
        Assert.StartsWith("RESULT ", lines[^1]);
        return JsonDocument.Parse(lines[^1]["RESULT ".Length..]).RootElement;
    }

    [Fact]
    public async Task SciFact_bm25_reaches_the_anserini_baseline_identically_for_1_and_4_shards()
    {
        var settings = new EvalCommand.EvalSettings(
            Paths.Shared("scifact", "corpus.jsonl"),
            Paths.Shared("scifact", "queries.test.jsonl"),
            Paths.Shared("scifact", "qrels", "test.tsv"),
            Shards: 1, Depth: 100);
        var one = await Eval(settings);
        Assert.True(one.Code == 0, one.Err);
        var four = await Eval(settings with { Shards = 4 });
        Assert.True(four.Code == 0, four.Err);

        var r1 = Result(one.Out);
        var r4 = Result(four.Out);
        double ndcg = r1.GetProperty("ndcg@10").GetDouble();
        Assert.True(ndcg >= 0.665, $"nDCG@10 {ndcg} is below Anserini's 0.665");
        Assert.Equal(300, r1.GetProperty("queries").GetInt32());
        foreach (var key in new[] { "ndcg@10", "mrr@10", "recall@100", "queries", "docs" })
            Assert.Equal(r1.GetProperty(key).GetRawText(), r4.GetProperty(key).GetRawText());
        Assert.Equal(4, r4.GetProperty("shards").GetInt32());
    }

    [Fact]
    public async Task Bad_inputs_give_a_message_and_exit_code_2()
    {
        string tmp = Directory.CreateTempSubdirectory("shoal-eval-").FullName;
        try
        {
            var missing = await Eval(new(Path.Combine(tmp, "nope.jsonl"), Paths.SamplePassages, Paths.SamplePassages));
            Assert.Equal(2, missing.Code);
            Assert.Contains("does not exist", missing.Err);

            string qrels = Path.Combine(tmp, "qrels.txt");
            await File.WriteAllTextAsync(qrels, "q1 0 s01 1\nthis line is broken\n");
            string queries = Path.Combine(tmp, "q.tsv");
            await File.WriteAllTextAsync(queries, "q1\tinverted index\n");
            var badQrels = await Eval(new(Paths.SamplePassages, queries, qrels));
            Assert.Equal(2, badQrels.Code);
            Assert.Contains("line 2", badQrels.Err);

            var badShards = await Eval(new(Paths.SamplePassages, queries, qrels, Shards: 0));
            Assert.Equal(2, badShards.Code);
            Assert.Contains("--shards", badShards.Err);
        }
        finally
        {
            TempDirectory.Delete(tmp);
        }
    }

    [Fact]
    public async Task Cli_parses_eval_and_reports_missing_options()
    {
        var root = new System.CommandLine.RootCommand { EvalCommand.Create() };
        var parse = root.Parse(["eval", "--corpus", "x.jsonl"]);
        Assert.NotEmpty(parse.Errors);
        Assert.Contains(parse.Errors, e => e.Message.Contains("--qrels", StringComparison.Ordinal));
        int code = await parse.InvokeAsync(new System.CommandLine.InvocationConfiguration { Output = new StringWriter(), Error = new StringWriter() });
        Assert.NotEqual(0, code);

        // Inputs that parse but do not go together are refused with exit code 2 and a reason.
        string qrels = Paths.Shared("scifact", "qrels", "test.tsv");
        var noQueries = await Eval(new EvalCommand.EvalSettings(Paths.Shared("scifact", "corpus.jsonl"), null, qrels));
        Assert.Equal(2, noQueries.Code);
        Assert.Contains("--corpus and --queries go together", noQueries.Err);
        var nothing = await Eval(new EvalCommand.EvalSettings(null, null, qrels));
        Assert.Equal(2, nothing.Code);
        Assert.Contains("give --corpus, --sparse-vectors or --dense-vectors", nothing.Err);
    }
}

public class CliParsingTests
{
    [Theory]
    [InlineData("search", "--url", "http://127.0.0.1:5999", "--index", "x", "hello")]
    [InlineData("indexes", "--url", "https://example.test:443")]
    [InlineData("loadtest", "--url", "http://127.0.0.1:5999", "--index", "x", "--queries", "q.tsv")]
    public void Gateway_addresses_parse(params string[] args)
    {
        var root = new System.CommandLine.RootCommand { Shoal.Cli.Commands.SearchCommand.Create(), Shoal.Cli.Commands.IndexesCommand.Create(), Shoal.Cli.Commands.LoadTestCommand.Create() };
        var parse = root.Parse(args);
        Assert.Empty(parse.Errors);
    }

    [Fact]
    public void A_bad_gateway_address_is_a_parse_error()
    {
        var root = new System.CommandLine.RootCommand { Shoal.Cli.Commands.SearchCommand.Create() };
        var parse = root.Parse(["search", "--url", "not a url", "--index", "x", "hello"]);
        Assert.Contains(parse.Errors, e => e.Message.Contains("--url", StringComparison.Ordinal));
    }

    [Fact]
    public void Search_command_builds_channel_queries_and_refuses_bad_vectors()
    {
        var hybrid = Shoal.Cli.Commands.SearchCommand.BuildQuery("tides", 5, null, null, """{"moon": 1.5}""", "[0.5, -1, 2]", exact: true, ef: null, fusion: "weighted");
        Assert.Equal("tides", hybrid.Text);
        Assert.Equal(1.5f, hybrid.Sparse!.Vector!["moon"]);
        Assert.True(hybrid.Sparse.Exact);
        Assert.Equal([0.5f, -1f, 2f], hybrid.Dense!.Vector!);
        Assert.Equal("weighted", hybrid.Fusion!.Method);

        var routed = Shoal.Cli.Commands.SearchCommand.BuildQuery("tides", 10, null, "bm25, dense", null, null, exact: false, ef: 128, fusion: null);
        Assert.Equal(["bm25", "dense"], routed.Channels);
        Assert.Equal(128, routed.Dense!.Ef);

        foreach (var (sparse, dense, expected) in new[]
        {
            ("""{"moon": "high"}""", (string?)null, "--sparse must be a JSON object"),
            ((string?)null, "[1, 2,", "--dense must be a JSON array"),
            ((string?)null, "@/nonexistent/vector.json", "does not exist"),
        })
        {
            var e = Assert.Throws<FormatException>(() => Shoal.Cli.Commands.SearchCommand.BuildQuery("", 10, null, null, sparse, dense, false, null, null));
            Assert.Contains(expected, e.Message);
        }
        Assert.Throws<FormatException>(() => Shoal.Cli.Commands.SearchCommand.BuildQuery("", 10, null, null, null, null, false, null, null));
        Assert.Contains("--exact", Assert.Throws<FormatException>(() => Shoal.Cli.Commands.SearchCommand.BuildQuery("x", 10, null, null, null, null, true, null, null)).Message);
        Assert.Contains("--fusion", Assert.Throws<FormatException>(() => Shoal.Cli.Commands.SearchCommand.BuildQuery("x", 10, null, null, "{}", null, false, null, "max")).Message);
    }
}
