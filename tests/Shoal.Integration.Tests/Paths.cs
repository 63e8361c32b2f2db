using System.Reflection;

namespace Shoal.Integration.Tests;

/// <summary>Locates the repository and the shared evaluation data beside it.</summary>
internal static class Paths
{
    public static string RepoRoot { get; } = FindRoot();

    public static string Shared(params string[] parts)
    {
        string path = Path.GetFullPath(Path.Combine([RepoRoot, "..", "shared", "data", .. parts]));
        if (!File.Exists(path) && !Directory.Exists(path))
            throw new InvalidOperationException($"Shared test data '{path}' is missing: the repository expects ../shared/data beside it.");
        return path;
    }

    public static string SamplePassages => Path.Combine(RepoRoot, "samples", "passages.jsonl");

    /// <summary>
    /// The build configuration of this test assembly (Release, Debug or any other name), as the
    /// compiler recorded it, not guessed from the output path: the projects it references were
    /// built in the same one (<c>src/*/bin/{Configuration}/</c>).
    /// </summary>
    public static string Configuration { get; } =
        typeof(Paths).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration is { Length: > 0 } c
            ? c
            : throw new InvalidOperationException("The test assembly records no build configuration (AssemblyConfigurationAttribute).");

    /// <summary>The build output of project <paramref name="project"/> (a path under src/) in this assembly's configuration.</summary>
    public static string BuildOutput(string project, string file) => Path.Combine([RepoRoot, "src", .. project.Split('/'), "bin", Configuration, "net10.0", file]);

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Cluster.sln"))) return dir.FullName;
        throw new InvalidOperationException("Cluster.sln not found above " + AppContext.BaseDirectory);
    }
}
