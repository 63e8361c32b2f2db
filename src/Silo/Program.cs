using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Orleans.Hosting;
using Shoal.Grains.Hosting;

// A silo without the HTTP gateway: localhost clustering with the silo on 11111 and the
// client gateway on 30000 unless --SiloPort / --GatewayPort say otherwise.
var builder = Host.CreateApplicationBuilder(args);
int siloPort = builder.Configuration.GetValue("SiloPort", 11111);
int gatewayPort = builder.Configuration.GetValue("GatewayPort", 30000);
string data = Path.GetFullPath(builder.Configuration["DataDirectory"] ?? ".shoal");
builder.UseOrleans(silo =>
{
    silo.UseLocalhostClustering(siloPort, gatewayPort, serviceId: "shoal", clusterId: "shoal-embedded");
    silo.AddShoal(o =>
    {
        o.SnapshotDirectory = Path.Combine(data, "snapshots");
        o.CacheDirectory = Path.Combine(data, "cache");
        o.BuildDirectory = Path.Combine(data, "build");
    });
});
await builder.Build().RunAsync();
