using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Configuration;
using Orleans.Connections.Security;
using Orleans.Hosting;

namespace Shoal.Hosting;

/// <summary>
/// Mutual TLS for Orleans connections (silo to silo, and gateway to silo), configured by
/// <c>Tls:CertificatePath</c> (a PFX/PKCS#12 file, or a PEM certificate with <c>Tls:KeyPath</c>,
/// e.g. <c>tls.crt</c>/<c>tls.key</c> of a Kubernetes TLS Secret mounted as files),
/// <c>Tls:CertificatePassword</c> (for a PFX; from the environment, never logged) and
/// <c>Tls:CaPath</c> (optional PEM bundle of the CA that signs peers' certificates). Every
/// connection must present a certificate, accepted when it is the same certificate as this
/// process's (one Secret shared by the cluster) or chains to the CA; host names are not checked,
/// since silos are addressed by IP. Without <c>Tls:CertificatePath</c> connections are plain TCP.
/// </summary>
public sealed class SiloTls
{
    private readonly X509Certificate2 _certificate;
    private readonly X509Certificate2Collection _authorities;

    private SiloTls(X509Certificate2 certificate, X509Certificate2Collection authorities)
    {
        _certificate = certificate;
        _authorities = authorities;
    }

    /// <summary>This process's certificate.</summary>
    public X509Certificate2 Certificate => _certificate;

    /// <summary>Reads <c>Tls:*</c>; null without a certificate path. A bad file is an <see cref="ArgumentException"/> naming the setting (never the password).</summary>
    public static SiloTls? From(IConfiguration configuration)
    {
        string? path = configuration["Tls:CertificatePath"] ?? configuration["Shoal:Tls:CertificatePath"];
        if (string.IsNullOrWhiteSpace(path)) return null;
        string? key = configuration["Tls:KeyPath"] ?? configuration["Shoal:Tls:KeyPath"];
        string? password = configuration["Tls:CertificatePassword"] ?? configuration["Shoal:Tls:CertificatePassword"];
        string? ca = configuration["Tls:CaPath"] ?? configuration["Shoal:Tls:CaPath"];
        return Load(path, key, password, ca);
    }

    /// <summary>Loads the certificate (PFX, or PEM with a key file) and the optional CA bundle.</summary>
    public static SiloTls Load(string certificatePath, string? keyPath = null, string? password = null, string? caPath = null)
    {
        X509Certificate2 certificate;
        try
        {
            certificate = string.IsNullOrWhiteSpace(keyPath)
                ? X509CertificateLoader.LoadPkcs12FromFile(certificatePath, password)
                : X509Certificate2.CreateFromPemFile(certificatePath, keyPath);
            if (!certificate.HasPrivateKey) throw new ArgumentException($"Tls:CertificatePath '{certificatePath}' has no private key (give a PFX with its key, or Tls:KeyPath).");
            if (OperatingSystem.IsWindows() && !string.IsNullOrWhiteSpace(keyPath))
            {
                // SChannel needs a persisted key; re-import through PKCS#12.
                var exported = certificate.Export(X509ContentType.Pkcs12);
                certificate.Dispose();
                certificate = X509CertificateLoader.LoadPkcs12(exported, null);
            }
        }
        catch (Exception e) when (e is System.Security.Cryptography.CryptographicException or IOException or UnauthorizedAccessException)
        {
            throw new ArgumentException($"Tls:CertificatePath '{certificatePath}' cannot be loaded: {e.GetType().Name} ({(keyPath is null ? "a PFX and Tls:CertificatePassword" : "a PEM certificate and Tls:KeyPath")} expected).", e);
        }
        var authorities = new X509Certificate2Collection();
        if (!string.IsNullOrWhiteSpace(caPath))
        {
            try
            {
                authorities.ImportFromPemFile(caPath);
            }
            catch (Exception e) when (e is System.Security.Cryptography.CryptographicException or IOException or UnauthorizedAccessException)
            {
                throw new ArgumentException($"Tls:CaPath '{caPath}' cannot be loaded: {e.GetType().Name}.", e);
            }
        }
        return new SiloTls(certificate, authorities);
    }

    /// <summary>Whether a peer's certificate is accepted: valid by the system's rules, the same as ours, or chained to the configured CA.</summary>
    public bool Accepts(X509Certificate2? remote, SslPolicyErrors errors)
    {
        if (remote is null) return false;
        if (errors == SslPolicyErrors.None) return true;
        if (remote.RawDataMemory.Span.SequenceEqual(_certificate.RawDataMemory.Span)) return true;
        if (_authorities.Count == 0) return false;
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(_authorities);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(remote);
    }

    private void Configure(TlsOptions options)
    {
        options.LocalCertificate = _certificate;
        options.RemoteCertificateMode = RemoteCertificateMode.RequireCertificate;
        options.ClientCertificateMode = RemoteCertificateMode.RequireCertificate;
        options.RemoteCertificateValidation = (certificate, _, errors) => Accepts(certificate, errors);
    }

    /// <summary>Applies TLS to a silo's silo-to-silo and gateway connections.</summary>
    public void Apply(ISiloBuilder silo) => silo.UseTls(_certificate, Configure);

    /// <summary>Applies TLS to a client's (gateway's) connections to silos.</summary>
    public void Apply(IClientBuilder client) => client.UseTls(_certificate, Configure);
}
