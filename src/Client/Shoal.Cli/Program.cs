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
var parsed = root.Parse(args);
if (parsed.Errors.Count > 0)
{
    // Bad arguments (an unknown option, a missing required one, a value that does not parse)
    // exit with 2, as every other usage error of the tool does.
    foreach (var error in parsed.Errors) Console.Error.WriteLine($"shoal: {error.Message}");
    Console.Error.WriteLine("Add --help to the command for its usage.");
    return 2;
}
return await parsed.InvokeAsync();
