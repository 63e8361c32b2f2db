using System.Reflection;
using Microsoft.Extensions.Configuration;
using Shoal.Encoders;
using Shoal.Grains.Encoders;
using Shoal.Grains.Hosting;

namespace Shoal.Silo;

/// <summary>
/// Every configuration key the silo process reads, so that a misspelt setting stops the silo at
/// start-up (exit code 2, the key named) instead of being ignored. Keys come from the command line
/// (<c>--Redis host:port</c>), environment variables (<c>Shoal__KeepVersions</c>, the <c>:</c>
/// written <c>__</c>) or appsettings.json. Command-line keys are all checked; from the other sources
/// the <c>Shoal</c> section is checked (other environment variables belong to the machine).
/// <c>Shoal.Silo --list-settings</c> prints the catalog.
/// </summary>
public static class SiloSettings
{
    /// <summary>Top-level keys and what they mean.</summary>
    public static readonly IReadOnlyList<(string Key, string Meaning)> TopLevel =
    [
        ("Redis", "Redis connection string for cluster membership (host:port[,options]); absent: localhost clustering (one silo)"),
        ("SiloPort", "silo-to-silo port (default 11111)"),
        ("GatewayPort", "port Orleans clients (gateways) connect to (default 30000)"),
        ("AdvertisedAddress", "IP address other silos and clients use to reach this silo (default 127.0.0.1; under Kubernetes hosting: the pod IP)"),
        ("ClusterId", "silos and clients with the same id form one cluster (default shoal)"),
        ("DataDirectory", "root of local snapshots, segment cache and build scratch (default .shoal)"),
        ("BlobConnectionString", "Azure Blob Storage connection string for snapshots (also Shoal:BlobConnectionString)"),
        ("BlobContainer", "blob container of the snapshot store (also Shoal:BlobContainer)"),
        ("KubernetesHosting", "auto (default: on when KUBERNETES_SERVICE_HOST and POD_NAMESPACE are set), true or false: Orleans' Kubernetes hosting (silo name = pod name, pod IP, pod watch)"),
        ("ShutdownTimeout", "how long a stopping silo may take to hand its grains over (default 00:00:45)"),
        ("urls", "where the health endpoints (/health/live, /health/ready) and the Prometheus scrape endpoint (/metrics) listen, e.g. http://0.0.0.0:8080; absent: no HTTP"),
        ("Logging", "Microsoft.Extensions.Logging settings (Logging:LogLevel:Default, ...)"),
        ("ServiceId", "service id, stable across deployments of the same service (default shoal)"),
        ("Tls:CertificatePath", "PEM or PFX certificate for mutual TLS between silos and gateways (also Shoal:Tls:CertificatePath)"),
        ("Tls:KeyPath", "PEM private key of that certificate (also Shoal:Tls:KeyPath)"),
        ("Tls:CertificatePassword", "password of a PFX certificate (also Shoal:Tls:CertificatePassword)"),
        ("Tls:CaPath", "CA certificate that signs the peers' certificates (also Shoal:Tls:CaPath)"),
        ("Otlp:Endpoint", "OTLP collector address for metrics and traces, e.g. http://collector:4317 (or OTEL_EXPORTER_OTLP_ENDPOINT); OTLP/HTTP posts to its /v1/traces and /v1/metrics; absent: no export"),
        ("Otlp:Protocol", "grpc (default) or http (http/protobuf)"),
        ("Otlp:ExportIntervalMilliseconds", "how often metrics are pushed and spans flushed by OTLP (default: the SDK's 60000 and 5000)"),
        ("Telemetry:ServiceName", "service name in exported telemetry (default shoal-silo)"),
        ("Telemetry:Traces", "record Shoal's and Orleans' spans even without an exporter (true/false), so a trace keeps its context through this silo"),
        ("Telemetry:ScrapeCacheMilliseconds", "how long a /metrics answer is reused (default 300)"),
    ];

    /// <summary>Keys that <see cref="IsKnown"/> accepts, as patterns (<c>*</c>: one segment, <c>**</c>: anything below).</summary>
    public static IReadOnlyList<string> Patterns { get; } = BuildPatterns();

    /// <summary>Whether <paramref name="key"/> (segments separated by <c>:</c>) is one the silo reads.</summary>
    public static bool IsKnown(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        var segments = key.Split(':');
        foreach (var pattern in Patterns)
            if (Matches(pattern.Split(':'), segments)) return true;
        return false;
    }

    /// <summary>
    /// The problems with the given settings: each command-line key and each key of the <c>Shoal</c>
    /// section (any source) that the silo does not read. Empty when all are known.
    /// </summary>
    public static IReadOnlyList<string> Check(string[] args, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(configuration);
        var problems = new List<string>();
        var commandLine = new ConfigurationBuilder().AddCommandLine(args).Build();
        foreach (var (key, value) in commandLine.AsEnumerable())
        {
            if (value is null) continue; // a section, not a leaf
            if (!IsKnown(key)) problems.Add($"unknown setting '--{key}' on the command line{Suggest(key)}");
        }
        foreach (var (key, value) in configuration.GetSection("Shoal").AsEnumerable())
        {
            if (value is null || commandLine[key] is not null) continue;
            if (!IsKnown(key)) problems.Add($"unknown setting '{key}' (environment variable {key.Replace(":", "__", StringComparison.Ordinal)} or appsettings){Suggest(key)}");
        }
        return problems;
    }

    /// <summary>Lines of <c>--list-settings</c>: each pattern, then the meanings of the top-level keys.</summary>
    public static IEnumerable<string> Describe()
    {
        foreach (var pattern in Patterns) yield return pattern;
    }

    private static string Suggest(string key)
    {
        string? best = null;
        int bestDistance = int.MaxValue;
        foreach (var pattern in Patterns)
        {
            if (pattern.Contains('*', StringComparison.Ordinal)) continue;
            int d = Distance(pattern.ToLowerInvariant(), key.ToLowerInvariant());
            if (d < bestDistance) (best, bestDistance) = (pattern, d);
        }
        return best is not null && bestDistance <= 3 ? $" (did you mean '{best}'?)" : "";
    }

    private static int Distance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (int j = 0; j <= b.Length; j++) previous[j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (int j = 1; j <= b.Length; j++)
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            (previous, current) = (current, previous);
        }
        return previous[b.Length];
    }

    private static bool Matches(string[] pattern, string[] key)
    {
        for (int i = 0; i < pattern.Length; i++)
        {
            if (pattern[i] == "**") return key.Length > i;
            if (i >= key.Length) return false;
            if (pattern[i] != "*" && !string.Equals(pattern[i], key[i], StringComparison.OrdinalIgnoreCase)) return false;
        }
        return key.Length == pattern.Length;
    }

    private static List<string> BuildPatterns()
    {
        var patterns = new List<string>();
        foreach (var (key, _) in TopLevel)
            patterns.Add(key == "Logging" ? "Logging:**" : key);
        // Host settings every .NET host reads.
        patterns.AddRange(["environment", "applicationName", "contentRoot"]);
        foreach (var name in SettableProperties(typeof(ShoalOptions))) patterns.Add($"Shoal:{name}");
        // Collections (data roots) bind from indexed keys (Shoal:DataRoots:0, ...); TLS under Shoal: too.
        foreach (var property in typeof(ShoalOptions).GetProperties())
            if (property.PropertyType.IsArray) patterns.Add($"Shoal:{property.Name}:*");
        patterns.AddRange(["Shoal:Tls:CertificatePath", "Shoal:Tls:KeyPath", "Shoal:Tls:CertificatePassword", "Shoal:Tls:CaPath"]);
        patterns.Add(EncoderPoolsOptions.RolesKey);
        patterns.Add($"{EncoderPoolsOptions.RolesKey}:*");
        patterns.Add($"{EncoderPoolsOptions.EncodersSection}:*:Kind");
        foreach (var name in SettableProperties(typeof(EncoderOptions)))
            if (name != nameof(EncoderOptions.Name)) patterns.Add($"{EncoderPoolsOptions.EncodersSection}:*:{name}");
        foreach (var name in SettableProperties(typeof(EncoderClientOptions)))
            patterns.Add($"{EncoderPoolsHostingExtensions.EncoderClientSection}:{name}");
        return patterns.Distinct(StringComparer.OrdinalIgnoreCase).ToList();
    }

    private static IEnumerable<string> SettableProperties(Type type) =>
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.CanWrite && p.SetMethod is { IsPublic: true })
            .Select(p => p.Name);
}
