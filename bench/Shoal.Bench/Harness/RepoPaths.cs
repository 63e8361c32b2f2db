namespace Shoal.Bench.Harness;

/// <summary>Finds the repository root (the directory holding Cluster.sln) and the shared data beside it.</summary>
public static class RepoPaths
{
    /// <summary>The repository root, searched upwards from the working directory and the binary.</summary>
    public static string Root()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
            for (var d = new DirectoryInfo(start); d is not null; d = d.Parent)
                if (File.Exists(Path.Combine(d.FullName, "Cluster.sln"))) return d.FullName;
        throw new InvalidOperationException("Run from inside the repository (Cluster.sln not found).");
    }

    /// <summary>A path under ../shared/data.</summary>
    public static string SharedData(params string[] parts) => Path.GetFullPath(Path.Combine([Root(), "..", "shared", "data", .. parts]));
}
