using System.CommandLine;
using System.Reflection;
using Microsoft.Extensions.Configuration;
using Orleans.Hosting.Kubernetes;
using Shoal.Cli.Commands;
using Shoal.Gateway;
using Shoal.Hosting;
using Shoal.Silo;
using k8s.Models;

namespace Shoal.Deploy.Tests;

/// <summary>
/// Whether the settings a manifest gives a container (environment variables and arguments) are
/// ones its binary reads: the silo's catalog (<see cref="SiloSettings"/>, the same one the silo
/// checks at start-up), the gateway's options, and the CLI's own command-line parser.
/// </summary>
internal static class SettingsCheck
{
    /// <summary>Environment variables Orleans' Kubernetes hosting reads in a silo (downward API).</summary>
    private static readonly string[] KubernetesHostingVariables =
    [
        KubernetesHostingOptions.PodNameEnvironmentVariable,
        KubernetesHostingOptions.PodNamespaceEnvironmentVariable,
        KubernetesHostingOptions.PodIPEnvironmentVariable,
    ];

    /// <summary>Third-party images whose settings are theirs, not Shoal's.</summary>
    public static readonly string[] ThirdPartyImages = ["redis", "azurite"];

    /// <summary>The binary a container image runs: silo, gateway, cli, or null for a third-party image.</summary>
    public static string? BinaryOf(string image)
    {
        string name = image.Split('/')[^1].Split(':')[0];
        return name switch
        {
            "shoal-silo" or "shoal-silo-cuda" => "silo",
            "shoal-gateway" => "gateway",
            "shoal-cli" => "cli",
            _ => ThirdPartyImages.Contains(name, StringComparer.Ordinal) ? null
                : throw new InvalidOperationException($"image '{image}' is neither a Shoal image nor a known third-party one"),
        };
    }

    /// <summary>The problems with the container's settings; empty when its binary reads all of them.</summary>
    public static List<string> Problems(V1Container container)
    {
        var env = (container.Env ?? []).ToList();
        var args = (container.Args ?? []).ToArray();
        var problems = new List<string>();
        switch (BinaryOf(container.Image))
        {
            case "silo":
                CheckConfiguration(env, args, SiloSettings.IsKnown, KubernetesHostingVariables, problems);
                if (problems.Count == 0)
                {
                    var configuration = Configuration(env, args);
                    problems.AddRange(SiloSettings.Check(args, configuration));
                    CheckValues(WithoutMountedFiles(container, configuration, problems), problems, c => SiloHost.UsesKubernetesHosting(c));
                }
                break;
            case "gateway":
                CheckConfiguration(env, args, GatewayKeys.IsKnown, [], problems);
                if (problems.Count == 0) CheckValues(WithoutMountedFiles(container, Configuration(env, args), problems), problems, _ => { });
                break;
            case "cli":
                foreach (var e in env)
                    if (e.Name is not ("SHOAL_URL" or Shoal.Client.ShoalClientOptions.ApiKeyEnvironmentVariable))
                        problems.Add($"environment variable {e.Name} is not read by the shoal CLI (it reads SHOAL_URL and {Shoal.Client.ShoalClientOptions.ApiKeyEnvironmentVariable})");
                var parse = CliRoot().Parse(args);
                foreach (var error in parse.Errors) problems.Add($"shoal {string.Join(' ', args)}: {error.Message}");
                break;
        }
        return problems;
    }

    /// <summary>The CLI's commands as its Program.cs assembles them.</summary>
    private static RootCommand CliRoot() => new("shoal")
    {
        SearchCommand.Create(),
        IndexesCommand.Create(),
        IngestCommand.Create(),
        EvalCommand.Create(),
        LoadTestCommand.Create(),
        JobsCommand.Create(),
        UpdateCommands.Upsert(),
        UpdateCommands.Delete(),
        UpdateCommands.Merge(),
    };

    private static void CheckConfiguration(List<V1EnvVar> env, string[] args, Func<string, bool> isKnown, string[] extraVariables, List<string> problems)
    {
        foreach (var e in env)
        {
            if (extraVariables.Contains(e.Name, StringComparer.Ordinal)) continue;
            string key = e.Name.Replace("__", ":", StringComparison.Ordinal);
            if (!isKnown(key)) problems.Add($"environment variable {e.Name} (setting '{key}') is not read by the binary");
        }
        for (int i = 0; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal) || args[i].Contains('=', StringComparison.Ordinal))
            {
                problems.Add($"argument '{args[i]}' is not a --Key (followed by its value)");
                continue;
            }
            string key = args[i][2..];
            if (!isKnown(key)) problems.Add($"argument --{key} is not read by the binary");
            if (i + 1 >= args.Length || args[i + 1].StartsWith("--", StringComparison.Ordinal)) problems.Add($"argument --{key} has no value");
            else i++;
        }
    }

    /// <summary>Settings that name files the pod mounts (a TLS Secret): they must lie under one of the container's volume mounts.</summary>
    private static readonly string[] MountedFileKeys = ["Tls:CertificatePath", "Tls:KeyPath", "Tls:CaPath", "Shoal:Tls:CertificatePath", "Shoal:Tls:KeyPath", "Shoal:Tls:CaPath"];

    /// <summary>
    /// Checks that every file setting (<see cref="MountedFileKeys"/>) names a path under a volume the
    /// container mounts, and returns the configuration without them: the files exist only in the pod,
    /// so the cluster settings are checked without loading them.
    /// </summary>
    private static IConfiguration WithoutMountedFiles(V1Container container, IConfiguration configuration, List<string> problems)
    {
        var mounts = (container.VolumeMounts ?? []).Select(m => m.MountPath.TrimEnd('/') + "/").ToList();
        foreach (string key in MountedFileKeys)
        {
            if (configuration[key] is not { Length: > 0 } path) continue;
            if (!mounts.Any(m => path.StartsWith(m, StringComparison.Ordinal)))
                problems.Add($"setting {key} names '{path}', which is under none of the container's volume mounts ({string.Join(", ", mounts)})");
        }
        var kept = configuration.AsEnumerable().Where(kv => kv.Value is not null && !MountedFileKeys.Contains(kv.Key, StringComparer.OrdinalIgnoreCase));
        return new ConfigurationBuilder().AddInMemoryCollection(kept).Build();
    }

    private static void CheckValues(IConfiguration configuration, List<string> problems, Action<IConfiguration> more)
    {
        try
        {
            ClusterSettings.From(configuration);
            more(configuration);
        }
        catch (ArgumentException e)
        {
            problems.Add(e.Message);
        }
    }

    /// <summary>Configuration as the process would see it; values from Secrets and the downward API are placeholders.</summary>
    private static IConfiguration Configuration(List<V1EnvVar> env, string[] args)
    {
        var values = env.Select(e => new KeyValuePair<string, string?>(e.Name.Replace("__", ":", StringComparison.Ordinal), e.Value ?? "from-" + (e.ValueFrom?.SecretKeyRef?.Name ?? e.ValueFrom?.FieldRef?.FieldPath ?? "elsewhere")));
        return new ConfigurationBuilder().AddInMemoryCollection(values).AddCommandLine(args).Build();
    }

    /// <summary>Keys the gateway reads: its options, the cluster settings, the URLs, logging and (embedded mode) the silo's Shoal section.</summary>
    internal static class GatewayKeys
    {
        private static readonly HashSet<string> TopLevel = BuildTopLevel();

        public static bool IsKnown(string key)
        {
            if (TopLevel.Contains(key)) return true;
            if (key.StartsWith("Logging:", StringComparison.OrdinalIgnoreCase)) return true;
            if (AuthKey.IsMatch(key)) return true;
            if (key.StartsWith("Shoal:Limits:", StringComparison.OrdinalIgnoreCase) && LimitKeys.Contains(key["Shoal:Limits:".Length..])) return true;
            return key.StartsWith("Shoal:", StringComparison.OrdinalIgnoreCase) && SiloSettings.IsKnown(key);
        }

        /// <summary>What src/Gateway/Auth reads: Shoal:Auth:AllowAnonymous and each key's Hash, Key, KeyFile, Scopes (a string or a list) and Name.</summary>
        private static readonly System.Text.RegularExpressions.Regex AuthKey = new(
            @"^Shoal:Auth:(AllowAnonymous|Keys:[0-9]+:(Hash|Key|KeyFile|Name|Scopes(:[0-9]+)?))$",
            System.Text.RegularExpressions.RegexOptions.IgnoreCase | System.Text.RegularExpressions.RegexOptions.CultureInvariant);

        /// <summary>The properties Shoal:Limits binds to.</summary>
        private static readonly HashSet<string> LimitKeys = new(
            typeof(Shoal.Gateway.Limits.GatewayLimitOptions).GetProperties(BindingFlags.Public | BindingFlags.Instance)
                .Where(p => p.SetMethod is { IsPublic: true }).Select(p => p.Name), StringComparer.OrdinalIgnoreCase);

        private static HashSet<string> BuildTopLevel()
        {
            var keys = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
            {
                // ClusterSettings.From reads these; ASP.NET Core reads the URLs; every host reads the rest.
                "Redis", "SiloPort", "GatewayPort", "AdvertisedAddress", "ClusterId", "ServiceId",
                "Tls:CertificatePath", "Tls:KeyPath", "Tls:CertificatePassword", "Tls:CaPath",
                "urls", "ASPNETCORE_URLS", "environment", "applicationName", "contentRoot",
            };
            foreach (var p in typeof(GatewayOptions).GetProperties(BindingFlags.Public | BindingFlags.Instance))
                if (p.SetMethod is { IsPublic: true }) keys.Add(p.Name);
            return keys;
        }
    }
}
