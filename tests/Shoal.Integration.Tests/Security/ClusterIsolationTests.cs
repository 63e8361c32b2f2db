using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans;
using Orleans.Runtime;
using Shoal.Hosting;

namespace Shoal.Integration.Tests.Security;

/// <summary>
/// End to end, through the settings the binaries read (<see cref="ClusterSettings"/>): a silo with
/// TLS refuses clients without TLS or with a foreign certificate, and silos with different
/// ClusterId values sharing one Redis form separate clusters.
/// </summary>
public sealed class ClusterIsolationTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("shoal-isolation-").FullName;

    public void Dispose() => TempDirectory.Delete(_dir);

    private (string Cert, string Key) SelfSigned(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false));
        using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        string dir = Directory.CreateDirectory(Path.Combine(_dir, name)).FullName;
        string certPath = Path.Combine(dir, "tls.crt"), keyPath = Path.Combine(dir, "tls.key");
        File.WriteAllText(certPath, cert.ExportCertificatePem());
        File.WriteAllText(keyPath, key.ExportPkcs8PrivateKeyPem());
        return (certPath, keyPath);
    }

    private static IConfiguration Settings(params (string Key, string? Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build();

    private static async Task<IHost> StartSiloAsync(IConfiguration configuration)
    {
        var cluster = ClusterSettings.From(configuration);
        var host = Host.CreateDefaultBuilder().UseOrleans(silo => cluster.Apply(silo)).Build();
        await host.StartAsync();
        return host;
    }

    private static async Task<IHost> StartClientAsync(IConfiguration configuration, TimeSpan within)
    {
        var cluster = ClusterSettings.From(configuration);
        var host = Host.CreateDefaultBuilder().UseOrleansClient(client => cluster.Apply(client)).Build();
        try
        {
            using var deadline = new CancellationTokenSource(within);
            await host.StartAsync(deadline.Token).WaitAsync(deadline.Token);
            // A call, so a connection that was accepted and then dropped shows too.
            await host.Services.GetRequiredService<IClusterClient>().GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true).WaitAsync(deadline.Token);
            return host;
        }
        catch
        {
            host.Dispose();
            throw;
        }
    }

    [Fact]
    public async Task A_silo_with_tls_refuses_a_client_without_tls_or_with_a_foreign_certificate_and_serves_one_with_its_certificate()
    {
        var (cert, key) = SelfSigned("cluster");
        var (foreignCert, foreignKey) = SelfSigned("foreign");
        string siloPort = EmbeddedCluster.FreeTcpPort().ToString(System.Globalization.CultureInfo.InvariantCulture);
        string gatewayPort = EmbeddedCluster.FreeTcpPort().ToString(System.Globalization.CultureInfo.InvariantCulture);
        const string clusterId = "tls-isolation";
        using var silo = await StartSiloAsync(Settings(("SiloPort", siloPort), ("GatewayPort", gatewayPort), ("ClusterId", clusterId),
            ("Tls:CertificatePath", cert), ("Tls:KeyPath", key)));
        try
        {
            // The cluster's own certificate: served (so what follows is refused for its TLS, not a dead silo).
            using (var ours = await StartClientAsync(Settings(("GatewayPort", gatewayPort), ("ClusterId", clusterId), ("Tls:CertificatePath", cert), ("Tls:KeyPath", key)), TimeSpan.FromSeconds(90)))
            {
                var hosts = await ours.Services.GetRequiredService<IClusterClient>().GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true);
                Assert.Single(hosts);
                await ours.StopAsync();
            }

            // Plain TCP, and TLS with a certificate the cluster did not issue: never connected and
            // never answered (the connection fails, or the handshake never completes), where the
            // client above took moments.
            foreach (var (what, settings) in new[]
            {
                ("plain TCP", Settings(("GatewayPort", gatewayPort), ("ClusterId", clusterId))),
                ("a foreign certificate", Settings(("GatewayPort", gatewayPort), ("ClusterId", clusterId), ("Tls:CertificatePath", foreignCert), ("Tls:KeyPath", foreignKey))),
            })
            {
                var refused = await Record.ExceptionAsync(async () => (await StartClientAsync(settings, TimeSpan.FromSeconds(20))).Dispose());
                Assert.True(refused is not null, $"a client with {what} connected and called the silo");
            }
        }
        finally
        {
            await silo.StopAsync();
        }
    }

    [Fact]
    public async Task Silos_sharing_a_redis_with_different_cluster_ids_form_separate_clusters()
    {
        int redisPort = EmbeddedCluster.FreeTcpPort();
        using var redis = Process.Start(new ProcessStartInfo("redis-server", $"--port {redisPort} --bind 127.0.0.1 --save \"\" --appendonly no")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        }) ?? throw new InvalidOperationException("redis-server did not start (the test needs the Debian package redis-server).");
        redis.BeginOutputReadLine();
        redis.BeginErrorReadLine();
        var silos = new List<IHost>();
        try
        {
            for (var until = DateTime.UtcNow.AddSeconds(20); ; await Task.Delay(100))
            {
                try
                {
                    using var probe = new TcpClient();
                    await probe.ConnectAsync(IPAddress.Loopback, redisPort);
                    break;
                }
                catch (SocketException) when (DateTime.UtcNow < until)
                {
                }
            }
            IConfiguration Silo(string clusterId) => Settings(("Redis", $"127.0.0.1:{redisPort}"), ("SiloPort", "0"), ("GatewayPort", "0"), ("ClusterId", clusterId));
            silos.Add(await StartSiloAsync(Silo("alpha")));
            silos.Add(await StartSiloAsync(Silo("alpha")));
            silos.Add(await StartSiloAsync(Silo("beta")));

            static async Task<Dictionary<SiloAddress, SiloStatus>> HostsSeenBy(IHost silo) =>
                await silo.Services.GetRequiredService<IGrainFactory>().GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true);
            static SiloAddress AddressOf(IHost silo) => silo.Services.GetRequiredService<ILocalSiloDetails>().SiloAddress;

            // The two alpha silos find each other through Redis...
            Dictionary<SiloAddress, SiloStatus> alpha;
            for (var until = DateTime.UtcNow.AddSeconds(60); ; await Task.Delay(250))
            {
                alpha = await HostsSeenBy(silos[0]);
                if (alpha.Count >= 2) break;
                Assert.True(DateTime.UtcNow < until, $"the alpha silos did not join each other: {string.Join(", ", alpha.Keys)}");
            }
            Assert.Equal([AddressOf(silos[0]), AddressOf(silos[1])], alpha.Keys.OrderBy(a => a == AddressOf(silos[0]) ? 0 : 1));
            // ...and never see the beta silo, nor it them.
            var beta = await HostsSeenBy(silos[2]);
            Assert.Equal([AddressOf(silos[2])], beta.Keys);
            Assert.DoesNotContain(AddressOf(silos[2]), (await HostsSeenBy(silos[1])).Keys);
        }
        finally
        {
            foreach (var silo in silos)
            {
                await silo.StopAsync();
                silo.Dispose();
            }
            if (!redis.HasExited) redis.Kill();
        }
    }
}
