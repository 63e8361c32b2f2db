namespace Shoal.Grains.Hosting;

/// <summary>
/// Finds files of the repository's evaluation data (<c>shared/data</c>, beside the repository
/// root) for defaults that make the embedded cluster work out of a clone. The repository root is
/// the nearest directory holding <c>Cluster.sln</c> above the working directory or the
/// application directory; only the <c>shared</c> directory beside that root counts, so a
/// <c>shared</c> folder further up (say <c>/tmp/shared</c> for another checkout) is never taken
/// for this clone's data.
/// </summary>
public static class SharedData
{
    /// <summary>bert-base-uncased's WordPiece vocabulary, relative to <c>shared/data</c>.</summary>
    public const string BertVocabulary = "tokenizers/bert-base-uncased-vocab.txt";

    /// <summary>The full path of <paramref name="relative"/> under the repository's <c>shared/data</c>, or null.</summary>
    public static string? Find(string relative) => Find(relative, DefaultStarts());

    internal static string? Find(string relative, IEnumerable<string> starts)
    {
        foreach (string root in RepositoryRoots(starts))
        {
            string candidate = Path.Combine(root, "..", "shared", "data", relative);
            if (File.Exists(candidate)) return Path.GetFullPath(candidate);
        }
        return null;
    }

    /// <summary>The repository's <c>shared/data</c> directory, or null.</summary>
    public static string? Root() => Root(DefaultStarts());

    internal static string? Root(IEnumerable<string> starts)
    {
        foreach (string root in RepositoryRoots(starts))
        {
            string candidate = Path.Combine(root, "..", "shared", "data");
            if (Directory.Exists(candidate)) return Path.GetFullPath(candidate);
        }
        return null;
    }

    /// <summary>The repository's <c>samples</c> directory (beside <c>Cluster.sln</c>), or null.</summary>
    public static string? Samples() => Samples(DefaultStarts());

    internal static string? Samples(IEnumerable<string> starts)
    {
        foreach (string root in RepositoryRoots(starts))
        {
            string candidate = Path.Combine(root, "samples");
            if (Directory.Exists(candidate)) return candidate;
        }
        return null;
    }

    private static string[] DefaultStarts() => [Directory.GetCurrentDirectory(), AppContext.BaseDirectory];

    /// <summary>The nearest repository root above each start (the working directory, then the application directory).</summary>
    private static IEnumerable<string> RepositoryRoots(IEnumerable<string> starts)
    {
        string? seen = null;
        foreach (string start in starts)
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (!File.Exists(Path.Combine(dir.FullName, "Cluster.sln"))) continue;
                if (dir.FullName != seen) yield return seen = dir.FullName;
                break;
            }
        }
    }
}
