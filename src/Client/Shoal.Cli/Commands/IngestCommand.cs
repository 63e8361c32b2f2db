using System.CommandLine;
using Shoal.Client;

namespace Shoal.Cli.Commands;

/// <summary><c>shoal ingest --index NAME --corpus PATH</c>: builds a new index version on a running gateway and follows it.</summary>
internal static class IngestCommand
{
    public static Command Create()
    {
        var url = CommonOptions.Url();
        var index = CommonOptions.Index();
        var corpus = new Option<string>("--corpus") { Description = "Corpus file path as the silos see it.", Required = true };
        var format = new Option<string?>("--format") { Description = "beir, tsv or msmarco-v2 (default: from the file name)." };
        var shards = new Option<int>("--shards") { Description = "Number of shards.", DefaultValueFactory = _ => 1 };
        var replicas = new Option<int>("--replicas") { Description = "Copies of each shard, served from different silos.", DefaultValueFactory = _ => 1 };
        var command = new Command("ingest", "Build a new version of an index from a corpus file.") { url, index, corpus, format, shards, replicas };
        command.SetAction(async (parse, ct) =>
        {
            using var client = new ShoalClient(parse.GetUrl(url));
            string name = parse.GetValue(index)!;
            try
            {
                await client.StartIngestAsync(name, new IngestOptions(Path.GetFullPath(parse.GetValue(corpus)!), parse.GetValue(format), parse.GetValue(shards), Replicas: parse.GetValue(replicas)), ct);
                var done = await client.WaitForIngestAsync(name, new Progress<IngestProgress>(p =>
                    Console.Error.Write($"\r{p.Phase,-10} {p.DocumentsRead,12:N0} documents read")), cancellationToken: ct);
                Console.Error.WriteLine();
                Console.WriteLine($"index {name} version {done.Version} published");
                return 0;
            }
            catch (ShoalApiException e) { return CommonOptions.Fail(e.Message); }
            catch (InvalidOperationException e) { Console.Error.WriteLine(); return CommonOptions.Fail(e.Message); }
            catch (HttpRequestException e) { return CommonOptions.Fail($"cannot reach {parse.GetUrl(url)}: {e.Message}"); }
        });
        return command;
    }
}
