// Shoal's macro benchmarks: each workload prints a table with a peer's figure beside Shoal's
// and ends with one line `RESULT {json}` (see ../shared/docs/BENCHMARKS.md).
Console.Error.WriteLine("usage: dotnet run -c Release --project bench/Shoal.Bench -- <workload> [options]");
Console.Error.WriteLine("workloads: (none yet)");
return 2;
