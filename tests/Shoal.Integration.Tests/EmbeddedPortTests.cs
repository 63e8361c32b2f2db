using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Configuration;
using Shoal.Gateway;
using Shoal.Hosting;

namespace Shoal.Integration.Tests;

/// <summary>
/// Two embedded gateways on one host: the default silo ports move to free ones when taken, ports
/// given on the command line are refused when taken, and a taken HTTP port is refused while the
/// gateway is being built, before its silo or start-up loader exist.
/// </summary>
public sealed class EmbeddedPortTests
{
    private static TcpListener Hold(IPAddress address)
    {
        var holder = new TcpListener(address, 0);
        holder.Start();
        return holder;
    }

    private static int PortOf(TcpListener l) => ((IPEndPoint)l.LocalEndpoint).Port;

    private static bool Bindable(int port)
    {
        try
        {
            using var l = new TcpListener(IPAddress.Any, port);
            l.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    [Fact]
    public void Default_silo_ports_that_another_process_holds_move_to_free_ports_and_given_ones_are_refused()
    {
        using var silo = Hold(IPAddress.Loopback);
        using var gateway = Hold(IPAddress.Any);
        var taken = new ClusterSettings { SiloPort = PortOf(silo), GatewayPort = PortOf(gateway) };

        // Nothing given on the command line: these are the defaults, and they move.
        var moved = GatewayHost.EmbeddedPorts(taken, new ConfigurationBuilder().Build());
        Assert.NotEqual(taken.SiloPort, moved.SiloPort);
        Assert.NotEqual(taken.GatewayPort, moved.GatewayPort);
        Assert.True(moved.SiloPort > 0 && moved.GatewayPort > 0);
        Assert.True(Bindable(moved.SiloPort) && Bindable(moved.GatewayPort), $"{moved.SiloPort}/{moved.GatewayPort} should be free");

        // Free defaults stay as they are.
        int freeSilo = EmbeddedCluster.FreeTcpPort(), freeGateway = EmbeddedCluster.FreeTcpPort();
        var kept = GatewayHost.EmbeddedPorts(new ClusterSettings { SiloPort = freeSilo, GatewayPort = freeGateway }, new ConfigurationBuilder().Build());
        Assert.Equal((freeSilo, freeGateway), (kept.SiloPort, kept.GatewayPort));

        // A taken port the user named is refused, saying how to get a free one.
        var given = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["GatewayPort"] = taken.GatewayPort.ToString(CultureInfo.InvariantCulture) }).Build();
        var e = Assert.Throws<ArgumentException>(() => GatewayHost.EmbeddedPorts(taken with { SiloPort = freeSilo }, given));
        Assert.Contains($"GatewayPort {taken.GatewayPort} is already in use", e.Message, StringComparison.Ordinal);
        Assert.Contains("--GatewayPort 0", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_taken_http_port_is_refused_while_the_gateway_is_built_before_any_silo_starts()
    {
        using var holder = Hold(IPAddress.Loopback);
        int port = PortOf(holder);
        string data = Path.Combine(Path.GetTempPath(), "shoal-http-port-" + Guid.NewGuid().ToString("N"));
        var e = Assert.Throws<ArgumentException>(() => GatewayHost.Build(["--urls", $"http://127.0.0.1:{port}", "--Index", "", "--SiloPort", "0", "--GatewayPort", "0", "--DataDirectory", data]));
        Assert.Contains($"HTTP port {port}", e.Message, StringComparison.Ordinal);
        Assert.Contains("--urls http://127.0.0.1:<port>", e.Message, StringComparison.Ordinal);

        // Every way of naming the port is caught; port 0 and a Unix socket are left to Kestrel.
        foreach (string url in new[] { $"http://localhost:{port}", $"http://*:{port}", $"http://0.0.0.0:{port}", $"http://127.0.0.1:0;http://127.0.0.1:{port}" })
            Assert.Throws<ArgumentException>(() => GatewayHost.CheckHttpPorts(url));
        GatewayHost.CheckHttpPorts("http://127.0.0.1:0");
        GatewayHost.CheckHttpPorts($"http://unix:{Path.Combine(Path.GetTempPath(), "shoal-test.sock")}");
        holder.Stop();
        GatewayHost.CheckHttpPorts($"http://127.0.0.1:{port}");
    }
}
