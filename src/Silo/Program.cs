using Shoal.Silo;

// A silo without the HTTP API. Alone it uses localhost clustering; with --Redis host:port it
// joins a multi-process cluster (gateways connect with --Mode client --Redis host:port).
//   dotnet run --project src/Silo -- --Redis 127.0.0.1:6379 --SiloPort 11112 --GatewayPort 30001 --DataDirectory .shoal
// With --urls http://0.0.0.0:8080 it serves /health/live and /health/ready (Kubernetes probes);
// under Kubernetes it uses Orleans' Kubernetes hosting (see SiloHost). --list-settings prints
// every key it reads; an unknown key on the command line or under Shoal: stops it (exit code 2).
if (args.Length == 1 && args[0] is "--list-settings")
{
    foreach (var line in SiloSettings.Describe()) Console.WriteLine(line);
    return 0;
}
return await SiloHost.RunAsync(args);
