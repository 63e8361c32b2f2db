using System.CommandLine;
using Shoal.Client;

namespace Shoal.Cli.Commands;

/// <summary><c>shoal indexes</c>: lists indexes and their versions; <c>shoal indexes delete NAME --yes</c> deletes one.</summary>
internal static class IndexesCommand
{
    public static Command Create()
    {
        var url = CommonOptions.Url();
        var command = new Command("indexes", "List the indexes of a running gateway.") { url, Delete() };
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

    private static Command Delete()
    {
        var url = CommonOptions.Url();
        var name = new Argument<string>("name") { Description = "Index name." };
        var yes = new Option<bool>("--yes", "-y") { Description = "Confirm: the index's versions and update log are deleted from the snapshot store." };
        var command = new Command("delete", "Delete an index (needs an admin key): it stops serving and its versions leave the snapshot store.") { url, name, yes };
        command.SetAction(async (parse, ct) =>
        {
            string index = parse.GetValue(name)!;
            if (!parse.GetValue(yes)) return CommonOptions.Fail($"deleting '{index}' removes every version of it; run again with --yes to confirm.", 2);
            using var client = parse.CreateClient(url, maxRetries: 0);
            try
            {
                var deleted = await client.DeleteIndexAsync(index, ct);
                if (deleted is null) return CommonOptions.Fail($"index '{index}' does not exist.");
                Console.WriteLine($"deleted {index}: {deleted.RemovedVersions.Count} versions, {deleted.RemovedObjects} store objects, {deleted.ShardReplicasDropped} shard replicas stopped");
                foreach (var warning in deleted.Warnings) Console.Error.WriteLine($"warning: {warning}");
                return 0;
            }
            catch (ShoalApiException e) { return CommonOptions.Fail(e.Message); }
            catch (HttpRequestException e) { return CommonOptions.Fail($"cannot reach {parse.GetUrl(url)}: {e.Message}"); }
            catch (TimeoutException e) { return CommonOptions.Fail(e.Message); }
        });
        return command;
    }
}
