using System.CommandLine;
using Shoal.Cli.Commands;

var root = new RootCommand("shoal: search, build and evaluate Shoal indexes.")
{
    SearchCommand.Create(),
    IndexesCommand.Create(),
    IngestCommand.Create(),
    EvalCommand.Create(),
    LoadTestCommand.Create(),
    JobsCommand.Create(),
    UpdateCommands.Upsert(),
    UpdateCommands.Delete(),
    UpdateCommands.Merge(),
};
root.Options.Add(CommonOptions.ApiKey);
return await root.Parse(args).InvokeAsync();
