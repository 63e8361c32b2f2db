using System.CommandLine;
using System.Globalization;
using Shoal.Client;

namespace Shoal.Cli.Commands;

/// <summary><c>shoal search --index NAME [--k N] TEXT</c>: one search against a running gateway.</summary>
internal static class SearchCommand
{
    public static Command Create()
    {
        var url = CommonOptions.Url();
        var index = CommonOptions.Index();
        var k = new Option<int>("--k", "-k") { Description = "Number of hits.", DefaultValueFactory = _ => 10 };
        var deadline = new Option<int?>("--deadline-ms") { Description = "Per-request deadline in milliseconds." };
        var text = new Argument<string[]>("text") { Description = "Query text.", Arity = ArgumentArity.OneOrMore };
        var command = new Command("search", "Search an index on a running gateway.") { url, index, k, deadline, text };
        command.SetAction(async (parse, ct) =>
        {
            using var client = new ShoalClient(parse.GetUrl(url));
            try
            {
                var results = await client.SearchAsync(parse.GetValue(index)!, new SearchQuery(string.Join(' ', parse.GetValue(text)!), parse.GetValue(k), parse.GetValue(deadline)), ct);
                var c = results.Coverage;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"index {results.Index} v{results.Version}: {results.Hits.Count} hits in {results.TookMs:F1} ms, shards {c.Answered}/{c.Shards}{(c.Partial ? " (PARTIAL)" : "")}"));
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
        });
        return command;
    }
}
