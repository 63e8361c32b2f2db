using System.Reflection;
using Shoal.Bench.Harness;

// Shoal's macro benchmarks: `dotnet run -c Release --project bench/Shoal.Bench -- <workload> [options]`.
// Each prints a table with a peer's (or the machine's) figure beside Shoal's and ends with
// `RESULT {json}` (see ../shared/docs/BENCHMARKS.md).
var workloads = typeof(IWorkload).Assembly.GetTypes()
    .Where(t => t is { IsClass: true, IsAbstract: false } && typeof(IWorkload).IsAssignableFrom(t))
    .Select(t => (IWorkload)Activator.CreateInstance(t)!)
    .OrderBy(w => w.Name, StringComparer.Ordinal)
    .ToList();

if (args.Length == 0 || args[0] is "-h" or "--help")
{
    Console.Error.WriteLine("usage: dotnet run -c Release --project bench/Shoal.Bench -- <workload> [options]");
    foreach (var w in workloads) Console.Error.WriteLine($"  {w.Name,-10} {w.Description}");
    return args.Length == 0 ? 2 : 0;
}
var workload = workloads.FirstOrDefault(w => string.Equals(w.Name, args[0], StringComparison.OrdinalIgnoreCase));
if (workload is null)
{
    Console.Error.WriteLine($"unknown workload '{args[0]}'; known: {string.Join(", ", workloads.Select(w => w.Name))}");
    return 2;
}
using var cts = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; cts.Cancel(); };
try
{
    return await workload.RunAsync(args[1..], cts.Token);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"{workload.Name}: {e.Message}");
    return 2;
}
catch (InvalidOperationException e)
{
    // A run that cannot go on (a helper process died, a peer is missing): the reason, not a stack.
    Console.Error.WriteLine($"{workload.Name}: {e.Message}");
    return 1;
}
