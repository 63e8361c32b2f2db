namespace Shoal.Engine.Tests;

/// <summary>
/// Locates the repository and the shared, read-only test data at <c>&lt;repo&gt;/../shared/data</c>.
/// Tests that need shared data call <see cref="Require"/>, which fails with a clear message when the
/// data is missing (it is always present in CI) rather than letting the test skip silently.
/// </summary>
internal static class TestData
{
    private static readonly Lazy<string> Root = new(FindRepoRoot);

    /// <summary>The repository root: the nearest ancestor of the test binaries containing <c>Cluster.sln</c>.</summary>
    public static string RepoRoot => Root.Value;

    /// <summary>The shared data folder, <c>&lt;repo&gt;/../shared/data</c> (normalised, may not exist).</summary>
    public static string SharedData => Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared", "data"));

    /// <summary>
    /// Returns the full path of <paramref name="relativePath"/> under <see cref="SharedData"/>, or throws
    /// <see cref="FileNotFoundException"/> naming the expected location when it does not exist.
    /// </summary>
    public static string Require(string relativePath)
    {
        string path = Path.GetFullPath(Path.Combine(SharedData, relativePath));
        if (!File.Exists(path) && !Directory.Exists(path))
        {
            string reason = Directory.Exists(SharedData)
                ? $"'{relativePath}' is missing from the shared data folder '{SharedData}'."
                : $"The shared data folder '{SharedData}' does not exist.";
            throw new FileNotFoundException(
                $"Required shared test data not found: {path}. {reason} Tests expect it at <repo>/../shared/data (present in CI); "
                + "provide it there instead of skipping the test.",
                path);
        }

        return path;
    }

    private static string FindRepoRoot()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Cluster.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException(
            $"Cannot find the repository root: no directory containing Cluster.sln above '{AppContext.BaseDirectory}'.");
    }
}
