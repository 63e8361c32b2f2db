using Orleans.Configuration;
using Orleans.Hosting;
using Shoal.Gateway.Auth;
using Shoal.Gateway.Limits;
using Shoal.Grains.Hosting;
using Shoal.Hosting;

namespace Shoal.Gateway;

/// <summary>
/// Builds the gateway process. The embedded default co-hosts one Orleans silo (localhost
/// clustering, local-directory snapshot store) with the HTTP API in a single process.
/// </summary>
public static class GatewayHost
{
    /// <summary>Address the embedded default listens on.</summary>
    public const string DefaultUrl = "http://127.0.0.1:5080";

    /// <summary>Creates the application from command-line arguments (e.g. <c>--Corpus path --Shards 4 --urls http://127.0.0.1:5080</c>).</summary>
    public static WebApplication Build(string[] args)
    {
        // Content (appsettings.json) comes from the build output; relative paths the user gives
        // (--Corpus, --DataDirectory) resolve against the directory the command ran from.
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.AddShoalFilters();
        if (string.IsNullOrEmpty(builder.Configuration["urls"]) && string.IsNullOrEmpty(builder.Configuration["ASPNETCORE_URLS"]))
            builder.WebHost.UseUrls(DefaultUrl);

        // Security (README "Security model"): API keys and scopes, request limits; refuses a
        // non-loopback address without keys unless Shoal:Auth:AllowAnonymous says otherwise.
        var auth = GatewayAuth.Decide(builder.Configuration, DefaultUrl);
        var limits = GatewayLimitOptions.From(builder.Configuration);
        builder.Services.AddShoalAuth(auth).AddShoalLimits(limits);
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = limits.MaxRequestBodyBytes);

        var options = new GatewayOptions();
        builder.Configuration.Bind(options);
        var cluster = ClusterSettings.From(builder.Configuration);
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton<SearchRouter>();

        string data = Path.GetFullPath(options.DataDirectory);
        string urls = builder.Configuration["urls"] ?? builder.Configuration["ASPNETCORE_URLS"] ?? DefaultUrl;
        // Before the silo and the start-up loader exist: a second gateway on the same HTTP port is
        // refused here, not after its silo has started and its start-up index has begun to load.
        CheckHttpPorts(urls);
        var encoders = EmbeddedEncoders.None("client mode: encoders are hosted by the silos");
        switch (options.Mode.ToLowerInvariant())
        {
            case "embedded":
                ResolveStartupCorpus(options);
                if (options.Corpus is not null) options.Corpus = Path.GetFullPath(options.Corpus);
                cluster = EmbeddedPorts(cluster, builder.Configuration);
                Console.WriteLine($"shoal gateway: embedded cluster (one silo and the HTTP API in this process) on {urls}; " +
                                  $"state in {data}; silo ports {cluster.SiloPort}/{cluster.GatewayPort}; " +
                                  (string.IsNullOrEmpty(options.Index) ? "no start-up index." : $"start-up index '{options.Index}' from {options.Corpus ?? "its snapshot"}.") +
                                  // Connection strings may carry a password: only ever printed redacted.
                                  (cluster.Redis is null ? "" : $" Redis membership at {Secrets.Redact(cluster.Redis)}."));
                builder.UseOrleans(silo =>
                {
                    cluster.Apply(silo);
                    silo.Configure<SiloOptions>(o => o.SiloName = $"embedded-{Environment.MachineName}");
                    silo.AddShoal(o =>
                    {
                        o.SnapshotDirectory = Path.Combine(data, "snapshots");
                        o.CacheDirectory = Path.Combine(data, "cache");
                        o.BuildDirectory = Path.Combine(data, "build");
                        // The start-up corpus is the operator's choice: its directory is a data root too.
                        if (options.Corpus is { Length: > 0 } corpus && Path.GetDirectoryName(Path.GetFullPath(corpus)) is { } corpusDirectory)
                            o.AdditionalDataRoots = [.. o.AdditionalDataRoots, corpusDirectory];
                    });
                    silo.AddShoalJobs();
                    encoders = EmbeddedEncoders.Configure(silo, options, builder.Configuration);
                });
                break;
            case "client":
                if (options.Corpus is not null) options.Index ??= "default";
                Console.WriteLine($"shoal gateway: HTTP API on {urls} for the cluster '{cluster.ClusterId}' " +
                                  (cluster.Redis is null ? $"on localhost (silo gateway port {cluster.GatewayPort})." : $"found through Redis membership at {Secrets.Redact(cluster.Redis)}."));
                builder.UseOrleansClient(client => cluster.Apply(client).AddActivityPropagation());
                break;
            default:
                throw new ArgumentException($"Mode must be 'embedded' or 'client' (got '{options.Mode}').");
        }

        builder.Services.AddSingleton(_ => encoders);
        builder.Services.AddSingleton<StartupIndexLoader>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<StartupIndexLoader>());
        builder.Services.AddProblemDetails();
        builder.AddShoalOperatorSurface();
        builder.Services.AddExceptionHandler<ClusterUnavailableExceptionHandler>();

        var app = builder.Build();
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        GatewayAuth.LogMode(app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Shoal.Gateway.Auth"), auth);
        app.UseShoalBodyLimits(limits);
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseRateLimiter();
        app.MapGet("/health/live", () => TypedResults.Ok(new { status = "live" })).AllowAnonymous();
        app.MapGet("/health/ready", (StartupIndexLoader loader) => loader.IsReady
            ? Results.Ok(new { status = "ready", detail = loader.State })
            : Results.Json(new { status = "not ready", detail = loader.State }, statusCode: StatusCodes.Status503ServiceUnavailable)).AllowAnonymous();
        app.MapShoalApi();
        app.MapShoalJobsApi();
        app.MapShoalOperatorSurface();
        return app;
    }

    /// <summary>
    /// When no start-up index is named, picks SciFact from ../shared/data when it is there,
    /// else the sample corpus bundled with the repository.
    /// </summary>
    private static void ResolveStartupCorpus(GatewayOptions options)
    {
        if (options.Index is not null && options.Index.Length == 0) return; // explicitly disabled
        if (options.Corpus is not null)
        {
            options.Index ??= Path.GetFileNameWithoutExtension(options.Corpus).Replace("corpus", "index", StringComparison.Ordinal).ToLowerInvariant();
            return;
        }
        string? scifact = SharedData.Find("scifact/corpus.jsonl");
        string? root = FindRepositoryRoot();
        string? sample = root is null ? null : Path.Combine(root, "samples", "passages.jsonl");
        if (scifact is not null)
        {
            options.Corpus = scifact;
            options.Index ??= "scifact";
        }
        else if (sample is not null && File.Exists(sample))
        {
            options.Corpus = sample;
            options.Index ??= "sample";
        }
    }

    /// <summary>
    /// The embedded silo's ports. Ports given on the command line must be free (a clear refusal
    /// rather than two clusters fighting over one port); the defaults (11111/30000) move to free
    /// ports when another Shoal process already holds them.
    /// </summary>
    internal static ClusterSettings EmbeddedPorts(ClusterSettings cluster, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        ArgumentNullException.ThrowIfNull(configuration);
        int Choose(string key, int port)
        {
            if (PortIsFree(System.Net.IPAddress.Any, port)) return port;
            if (!string.IsNullOrEmpty(configuration[key]))
                throw new ArgumentException($"{key} {port} is already in use on this host (another Shoal gateway or silo?). Pass --{key} 0 to pick a free port.");
            return EmbeddedCluster.FreeTcpPort();
        }
        return cluster with { SiloPort = Choose("SiloPort", cluster.SiloPort), GatewayPort = Choose("GatewayPort", cluster.GatewayPort) };
    }

    /// <summary>
    /// Refuses HTTP addresses (<c>--urls</c>, <c>;</c>-separated) whose port another process on this
    /// host already listens on, with what to pass instead. Port 0, Unix sockets and addresses this
    /// host cannot bind (not one of its own) are left to Kestrel.
    /// </summary>
    /// <exception cref="ArgumentException">A port is taken.</exception>
    internal static void CheckHttpPorts(string urls)
    {
        ArgumentNullException.ThrowIfNull(urls);
        foreach (string url in urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            BindingAddress binding;
            try
            {
                binding = BindingAddress.Parse(url);
            }
            catch (FormatException)
            {
                continue; // Kestrel reports it in its own words
            }
            if (binding.IsNamedPipe || binding.IsUnixPipe || binding.Port <= 0) continue;
            var address = binding.Host switch
            {
                "localhost" => System.Net.IPAddress.Loopback,
                "*" or "+" or "" => System.Net.IPAddress.Any,
                var host when System.Net.IPAddress.TryParse(host.Trim('[', ']'), out var ip) => ip,
                _ => System.Net.IPAddress.Any, // a host name: Kestrel listens on every address
            };
            if (!PortIsFree(address, binding.Port))
                throw new ArgumentException($"HTTP port {binding.Port} ({url}) is already in use on this host (another Shoal gateway?). " +
                                            "Pass --urls http://127.0.0.1:<port> with a free port.");
        }
    }

    /// <summary>False when a bind of <paramref name="address"/>:<paramref name="port"/> fails because the port is in use; other bind failures are not this check's to report.</summary>
    private static bool PortIsFree(System.Net.IPAddress address, int port)
    {
        try
        {
            using var socket = new System.Net.Sockets.Socket(address.AddressFamily, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
            socket.Bind(new System.Net.IPEndPoint(address, port));
            return true;
        }
        catch (System.Net.Sockets.SocketException e) when (e.SocketErrorCode == System.Net.Sockets.SocketError.AddressAlreadyInUse)
        {
            return false;
        }
        catch (System.Net.Sockets.SocketException)
        {
            return true;
        }
    }

    private static string? FindRepositoryRoot()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "Cluster.sln"))) return dir.FullName;
        }
        return null;
    }
}
