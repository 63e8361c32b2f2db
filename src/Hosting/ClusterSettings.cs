using System.Globalization;
using System.Net;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Orleans.Configuration;
using Orleans.Hosting;

namespace Shoal.Hosting;

/// <summary>
/// How a process joins a Shoal cluster: localhost clustering (one silo, the embedded default)
/// or Redis membership (several silo processes, and gateways connecting as clients).
/// Read from configuration keys <c>Redis</c>, <c>SiloPort</c>, <c>GatewayPort</c>,
/// <c>AdvertisedAddress</c>, <c>ClusterId</c>, <c>ServiceId</c>, and <c>Tls:*</c> (see <see cref="SiloTls"/>).
/// </summary>
public sealed record ClusterSettings
{
    /// <summary>Redis connection string (e.g. "127.0.0.1:6379"); null for localhost clustering.</summary>
    public string? Redis { get; init; }

    /// <summary>Silo-to-silo port.</summary>
    public int SiloPort { get; init; } = 11111;

    /// <summary>Port clients (gateways) connect to.</summary>
    public int GatewayPort { get; init; } = 30000;

    /// <summary>Address other silos and clients use to reach this silo.</summary>
    public IPAddress AdvertisedAddress { get; init; } = IPAddress.Loopback;

    /// <summary>Cluster id: silos and clients with the same id form one cluster.</summary>
    public string ClusterId { get; init; } = "shoal";

    /// <summary>Service id: stable across deployments of the same service.</summary>
    public string ServiceId { get; init; } = "shoal";

    /// <summary>How often a client (a gateway in client mode) reads the list of silo gateways from the membership table.</summary>
    public static readonly TimeSpan GatewayListRefreshPeriod = TimeSpan.FromSeconds(10);

    /// <summary>TLS between silos and between clients (gateways) and silos; null: plain TCP.</summary>
    public SiloTls? Tls { get; init; }

    /// <summary>A cluster or service id from <c>{key}</c> or <c>Shoal:{key}</c>: 1-64 characters of letters, digits, '.', '_' or '-'; "shoal" when absent.</summary>
    private static string Id(IConfiguration configuration, string key)
    {
        string? value = configuration[key] ?? configuration[$"Shoal:{key}"];
        if (string.IsNullOrEmpty(value)) return "shoal";
        if (value.Length > 64 || !value.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
            throw new ArgumentException($"{key} must be 1-64 characters of letters, digits, '.', '_' or '-' (got '{value}').");
        return value;
    }

    /// <summary>Reads the settings; a port of 0 picks a free one.</summary>
    public static ClusterSettings From(IConfiguration configuration)
    {
        int Port(string key, int fallback)
        {
            var text = configuration[key];
            if (string.IsNullOrEmpty(text)) return fallback;
            if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port < 0 || port > 65535)
                throw new ArgumentException($"{key} must be a TCP port between 0 and 65535 (got '{text}').");
            return port == 0 ? EmbeddedCluster.FreeTcpPort() : port;
        }
        var advertised = configuration["AdvertisedAddress"];
        return new ClusterSettings
        {
            Redis = string.IsNullOrWhiteSpace(configuration["Redis"]) ? null : configuration["Redis"],
            SiloPort = Port("SiloPort", 11111),
            GatewayPort = Port("GatewayPort", 30000),
            AdvertisedAddress = string.IsNullOrEmpty(advertised) ? IPAddress.Loopback
                : IPAddress.TryParse(advertised, out var ip) ? ip
                : throw new ArgumentException($"AdvertisedAddress '{advertised}' is not an IP address."),
            ClusterId = Id(configuration, "ClusterId"),
            ServiceId = Id(configuration, "ServiceId"),
            Tls = SiloTls.From(configuration),
        };
    }

    /// <summary>Applies the settings to a silo.</summary>
    public ISiloBuilder Apply(ISiloBuilder silo)
    {
        Tls?.Apply(silo);
        if (Redis is null)
        {
            silo.UseLocalhostClustering(SiloPort, GatewayPort, serviceId: ServiceId, clusterId: ClusterId);
            return silo;
        }
        silo.UseRedisClustering(Redis);
        silo.Configure<ClusterOptions>(o => { o.ClusterId = ClusterId; o.ServiceId = ServiceId; });
        silo.ConfigureEndpoints(AdvertisedAddress, SiloPort, GatewayPort, listenOnAnyHostAddress: !IPAddress.IsLoopback(AdvertisedAddress));
        return silo;
    }

    /// <summary>Applies the settings to a client (a gateway that hosts no silo).</summary>
    public IClientBuilder Apply(IClientBuilder client)
    {
        Tls?.Apply(client);
        if (Redis is null)
        {
            client.UseLocalhostClustering(GatewayPort, serviceId: ServiceId, clusterId: ClusterId);
            return client;
        }
        client.UseRedisClustering(Redis);
        client.Configure<ClusterOptions>(o => { o.ClusterId = ClusterId; o.ServiceId = ServiceId; });
        // A client sends each grain's messages through one silo gateway, chosen when that grain is
        // first called among the gateways it knows then; Orleans' default refresh (1 minute) left
        // silos that joined just after the gateway started out of the rotation for a minute.
        client.Configure<GatewayOptions>(o => o.GatewayListRefreshPeriod = GatewayListRefreshPeriod);
        return client;
    }
}
