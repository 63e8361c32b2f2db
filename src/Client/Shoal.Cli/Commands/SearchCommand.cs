using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Shoal.Client;

namespace Shoal.Cli.Commands;

/// <summary>
/// <c>shoal search --index NAME [--k N] [TEXT] [--sparse JSON] [--dense JSON]</c>: one search
/// against a running gateway, over one channel or several fused.
/// </summary>
internal static class SearchCommand
{
    public static Command Create()
    {
        var url = CommonOptions.Url();
        var index = CommonOptions.Index();
        var k = new Option<int>("--k", "-k") { Description = "Number of hits.", DefaultValueFactory = _ => 10 };
        var deadline = new Option<int?>("--deadline-ms") { Description = "Per-request deadline in milliseconds." };
        var channels = new Option<string?>("--channels") { Description = "Channels the text goes to, comma-separated: bm25, sparse, dense (default: all that take text)." };
        var sparse = new Option<string?>("--sparse") { Description = "Sparse query vector: a JSON object of token weights, e.g. '{\"ny\": 1.2}', or @file." };
        var dense = new Option<string?>("--dense") { Description = "Dense query vector: a JSON array of numbers, or @file." };
        var exact = new Option<bool>("--exact") { Description = "Exact search in the sparse and dense channels (default: approximate)." };
        var ef = new Option<int?>("--ef") { Description = "HNSW beam width of the dense channel (its recall knob)." };
        var fusion = new Option<string?>("--fusion") { Description = "How several channels are fused: rrf (default) or weighted." };
        var text = new Argument<string[]>("text") { Description = "Query text.", Arity = ArgumentArity.ZeroOrMore };
        var command = new Command("search", "Search an index on a running gateway.") { url, index, k, deadline, channels, sparse, dense, exact, ef, fusion, text };
        command.SetAction(async (parse, ct) =>
        {
            SearchQuery query;
            try
            {
                query = BuildQuery(string.Join(' ', parse.GetValue(text) ?? []), parse.GetValue(k), parse.GetValue(deadline), parse.GetValue(channels),
                    parse.GetValue(sparse), parse.GetValue(dense), parse.GetValue(exact), parse.GetValue(ef), parse.GetValue(fusion));
            }
            catch (FormatException e)
            {
                return CommonOptions.Fail(e.Message, 2);
            }
            using var client = parse.CreateClient(url);
            try
            {
                var results = await client.SearchAsync(parse.GetValue(index)!, query, ct);
                var c = results.Coverage;
                string via = results.Channels is { Count: > 0 } ch ? $" via {string.Join('+', ch)}" : "";
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"index {results.Index} v{results.Version}: {results.Hits.Count} hits{via} in {results.TookMs:F1} ms, shards {c.Answered}/{c.Shards}{(c.Partial ? " (PARTIAL)" : "")}"));
                int rank = 0;
                foreach (var hit in results.Hits)
                {
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{++rank,3}. {hit.Score,8:F4}  {hit.Id}  {hit.Title}"));
                    if (!string.IsNullOrEmpty(hit.Snippet)) Console.WriteLine($"               {hit.Snippet}");
                }
                return 0;
            }
            catch (ShoalApiException e) { return CommonOptions.Fail(e.Message); }
            catch (HttpRequestException e) { return CommonOptions.Fail($"cannot reach {parse.GetUrl(url)}: {e.Message}"); }
            catch (TimeoutException e) { return CommonOptions.Fail(e.Message); }
        });
        return command;
    }

    /// <summary>Builds the query of the command line; throws <see cref="FormatException"/> with a readable message for bad input.</summary>
    internal static SearchQuery BuildQuery(string text, int k, int? deadlineMs, string? channels, string? sparse, string? dense, bool exact, int? ef, string? fusion)
    {
        bool hasText = !string.IsNullOrWhiteSpace(text);
        if (!hasText && sparse is null && dense is null) throw new FormatException("give query text, --sparse or --dense.");
        if (exact && sparse is null && dense is null) throw new FormatException("--exact applies to the vectors of --sparse and --dense.");
        var query = new SearchQuery(hasText ? text : null, k, deadlineMs);
        if (channels is not null)
        {
            if (!hasText) throw new FormatException("--channels says where the text goes, but there is no text.");
            query = query with { Channels = channels.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries) };
        }
        if (sparse is not null)
        {
            var vector = Parse<Dictionary<string, float>>(sparse, "--sparse", "a JSON object of token weights such as {\"ny\": 1.2}");
            query = query with { Sparse = new SparseQuery { Vector = vector, Exact = exact ? true : null } };
        }
        if (dense is not null)
        {
            var vector = Parse<float[]>(dense, "--dense", "a JSON array of numbers");
            query = query with { Dense = new DenseQuery(vector, Exact: exact ? true : null, Ef: ef) };
        }
        else if (ef is not null)
        {
            query = query with { Dense = new DenseQuery(Ef: ef, Exact: exact ? true : null) };
        }
        if (fusion is not null)
        {
            if (fusion is not ("rrf" or "weighted")) throw new FormatException($"--fusion must be rrf or weighted (got '{fusion}').");
            query = query with { Fusion = new FusionOptions(fusion) };
        }
        return query;
    }

    private static T Parse<T>(string value, string option, string expected)
    {
        string json = value;
        if (value.StartsWith('@'))
        {
            string path = value[1..];
            if (!File.Exists(path)) throw new FormatException($"{option}: file '{path}' does not exist.");
            json = File.ReadAllText(path);
        }
        try
        {
            return JsonSerializer.Deserialize<T>(json) ?? throw new FormatException($"{option} must be {expected}.");
        }
        catch (JsonException e)
        {
            throw new FormatException($"{option} must be {expected}: {e.Message}");
        }
    }
}
