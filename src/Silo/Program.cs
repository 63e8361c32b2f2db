using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Hosting;
using Shoal.Grains.Hosting;
using Shoal.Silo;

// A silo without the HTTP gateway. Alone it uses localhost clustering; with --Redis host:port it
// joins a multi-process cluster (gateways connect with --Mode client --Redis host:port).
//   dotnet run --project src/Silo -- --Redis 127.0.0.1:6379 --SiloPort 11112 --GatewayPort 30001 --DataDirectory .shoal
var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = args, ContentRootPath = AppContext.BaseDirectory });
builder.Logging.AddShoalFilters();
ClusterSettings cluster;
try
{
    cluster = ClusterSettings.From(builder.Configuration);
}
catch (ArgumentException e)
{
    await Console.Error.WriteLineAsync($"shoal silo: {e.Message}");
    return 2;
}
string data = Path.GetFullPath(builder.Configuration["DataDirectory"] ?? ".shoal");
try
{
    builder.AddShoalSiloTelemetry(); // OTLP export of metrics and traces when Otlp:Endpoint is set
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"shoal silo: {e.Message}");
    return 2;
}
Console.WriteLine($"shoal silo: cluster '{cluster.ClusterId}' " +
                  (cluster.Redis is null ? "on localhost clustering" : "with Redis membership") +
                  $", silo port {cluster.SiloPort}, gateway port {cluster.GatewayPort}; state in {data}" +
                  (string.IsNullOrEmpty(builder.Configuration["BlobConnectionString"]) ? "." : ", snapshots in blob storage."));
builder.UseOrleans(silo =>
{
    cluster.Apply(silo);
    silo.AddShoal(o =>
    {
        o.SnapshotDirectory = Path.Combine(data, "snapshots");
        o.CacheDirectory = Path.Combine(data, "cache");
        o.BuildDirectory = Path.Combine(data, "build");
        o.BlobConnectionString = builder.Configuration["BlobConnectionString"];
        o.BlobContainer = builder.Configuration["BlobContainer"] ?? o.BlobContainer;
    });
    silo.AddShoalJobs();
});
await builder.Build().RunAsync();
return 0;
