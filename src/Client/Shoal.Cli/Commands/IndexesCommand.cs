using System.CommandLine;
using Shoal.Client;

namespace Shoal.Cli.Commands;

/// <summary><c>shoal indexes</c>: lists indexes and their versions.</summary>
internal static class IndexesCommand
{
    public static Command Create()
    {
        var url = CommonOptions.Url();
        var command = new Command("indexes", "List the indexes of a running gateway.") { url };
        command.SetAction(async (parse, ct) =>
        {
            using var client = parse.CreateClient(url);
            try
            {
                foreach (var name in await client.ListIndexesAsync(ct))
                {
                    var info = await client.GetIndexAsync(name, ct);
                    Console.WriteLine(info is null ? name : $"{name}\tv{info.Version}\t{info.DocCount} docs\t{info.ShardCount} shards");
                }
                return 0;
            }
            catch (ShoalApiException e) { return CommonOptions.Fail(e.Message); }
            catch (HttpRequestException e) { return CommonOptions.Fail($"cannot reach {parse.GetUrl(url)}: {e.Message}"); }
            catch (TimeoutException e) { return CommonOptions.Fail(e.Message); }
        });
        return command;
    }
}
