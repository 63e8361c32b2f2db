using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Orleans.TestingHost;
using Shoal.Grains.Contracts;
using Shoal.Hosting;

namespace Shoal.Integration.Tests.Security;

/// <summary>Mutual TLS between silos and between a client and silos, with a self-signed certificate made here.</summary>
public sealed class SiloTlsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("shoal-tls-").FullName;

    public void Dispose() => TempDirectory.Delete(_dir);

    /// <summary>A self-signed certificate with its key as PEM files, as a Kubernetes TLS Secret mounts them (tls.crt, tls.key).</summary>
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

    [Fact]
    public async Task Two_silos_and_a_client_sharing_a_certificate_talk_over_tls()
    {
        var (cert, key) = SelfSigned("shoal-cluster");
        var tls = SiloTls.Load(cert, key);
        string data = _dir;
        var builder = new InProcessTestClusterBuilder(2);
        builder.ConfigureSilo((_, silo) =>
        {
            tls.Apply(silo);
            silo.AddShoal(o =>
            {
                o.SnapshotDirectory = Path.Combine(data, "snapshots");
                o.CacheDirectory = Path.Combine(data, "cache");
                o.BuildDirectory = Path.Combine(data, "build");
            });
        });
        builder.ConfigureClient(client => tls.Apply(client));
        var cluster = builder.Build();
        try
        {
            await cluster.DeployAsync();
            await cluster.WaitForLivenessToStabilizeAsync();
            var info = await cluster.Client.GetGrain<IIndexGrain>("tls-probe").GetInfoAsync().WaitAsync(TimeSpan.FromSeconds(60));
            Assert.Null(info); // answered (over TLS) that the index does not exist
            Assert.Equal(2, cluster.Silos.Count);
        }
        finally
        {
            await cluster.StopAllSilosAsync();
            await cluster.DisposeAsync();
        }
    }

    [Fact]
    public void A_peer_certificate_is_accepted_only_when_it_is_ours_or_signed_by_the_configured_ca()
    {
        var (cert, key) = SelfSigned("ours");
        var (otherCert, otherKey) = SelfSigned("theirs");
        var tls = SiloTls.Load(cert, key);
        using var ours = X509Certificate2.CreateFromPemFile(cert, key);
        using var theirs = X509Certificate2.CreateFromPemFile(otherCert, otherKey);
        Assert.True(tls.Accepts(ours, System.Net.Security.SslPolicyErrors.RemoteCertificateChainErrors));
        Assert.False(tls.Accepts(theirs, System.Net.Security.SslPolicyErrors.RemoteCertificateChainErrors));
        Assert.False(tls.Accepts(null, System.Net.Security.SslPolicyErrors.None));
        // With their certificate as the CA bundle, theirs chains to a trusted root.
        var withCa = SiloTls.Load(cert, key, caPath: otherCert);
        Assert.True(withCa.Accepts(theirs, System.Net.Security.SslPolicyErrors.RemoteCertificateChainErrors));
        var e = Assert.Throws<ArgumentException>(() => SiloTls.Load(Path.Combine(_dir, "missing.crt"), key));
        Assert.Contains("Tls:CertificatePath", e.Message);
    }
}
