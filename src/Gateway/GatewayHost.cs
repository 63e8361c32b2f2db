using Orleans.Configuration;
using Orleans.Hosting;
using Shoal.Grains.Hosting;

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
        var builder = WebApplication.CreateBuilder(args);
        if (string.IsNullOrEmpty(builder.Configuration["urls"]) && string.IsNullOrEmpty(builder.Configuration["ASPNETCORE_URLS"]))
            builder.WebHost.UseUrls(DefaultUrl);

        var options = new GatewayOptions();
        builder.Configuration.Bind(options);
        var cluster = ClusterSettings.From(builder.Configuration);
        builder.Services.AddSingleton(options);

        string data = Path.GetFullPath(options.DataDirectory);
        switch (options.Mode.ToLowerInvariant())
        {
            case "embedded":
                ResolveStartupCorpus(options);
                builder.UseOrleans(silo =>
                {
                    cluster.Apply(silo);
                    silo.Configure<SiloOptions>(o => o.SiloName = $"embedded-{Environment.MachineName}");
                    silo.AddShoal(o =>
                    {
                        o.SnapshotDirectory = Path.Combine(data, "snapshots");
                        o.CacheDirectory = Path.Combine(data, "cache");
                        o.BuildDirectory = Path.Combine(data, "build");
                    });
                    silo.AddShoalJobs();
                });
                break;
            case "client":
                if (options.Corpus is not null) options.Index ??= "default";
                builder.UseOrleansClient(client => cluster.Apply(client));
                break;
            default:
                throw new ArgumentException($"Mode must be 'embedded' or 'client' (got '{options.Mode}').");
        }

        builder.Services.AddSingleton<StartupIndexLoader>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<StartupIndexLoader>());
        builder.Services.AddProblemDetails();
        builder.Services.AddExceptionHandler<ClusterUnavailableExceptionHandler>();

        var app = builder.Build();
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.MapGet("/health/live", () => TypedResults.Ok(new { status = "live" }));
        app.MapGet("/health/ready", (StartupIndexLoader loader) => loader.IsReady
            ? Results.Ok(new { status = "ready", detail = loader.State })
            : Results.Json(new { status = "not ready", detail = loader.State }, statusCode: StatusCodes.Status503ServiceUnavailable));
        app.MapShoalApi();
        app.MapShoalJobsApi();
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
