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

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Cluster.sln"))) return dir.FullName;
        throw new InvalidOperationException("Cluster.sln not found above " + AppContext.BaseDirectory);
    }
}
