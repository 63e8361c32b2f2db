namespace Shoal.Grains.Hosting;

/// <summary>
/// Finds files of the repository's evaluation data (<c>shared/data</c>, beside the repository
/// root) from the working directory or the application directory, for defaults that make the
/// embedded cluster work out of a clone.
/// </summary>
public static class SharedData
{
    /// <summary>bert-base-uncased's WordPiece vocabulary, relative to <c>shared/data</c>.</summary>
    public const string BertVocabulary = "tokenizers/bert-base-uncased-vocab.txt";

    /// <summary>The full path of <paramref name="relative"/> under the nearest <c>shared/data</c>, or null.</summary>
    public static string? Find(string relative)
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                string candidate = Path.Combine(dir.FullName, "shared", "data", relative);
                if (File.Exists(candidate)) return candidate;
            }
        }
        return null;
    }

    /// <summary>The nearest <c>shared/data</c> directory, or null.</summary>
    public static string? Root() => Nearest(dir => Path.Combine(dir, "shared", "data"));

    /// <summary>The repository's <c>samples</c> directory (beside <c>Cluster.sln</c>), or null.</summary>
    public static string? Samples() => Nearest(dir => File.Exists(Path.Combine(dir, "Cluster.sln")) ? Path.Combine(dir, "samples") : null);

    private static string? Nearest(Func<string, string?> candidateOf)
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
                if (candidateOf(dir.FullName) is { } candidate && Directory.Exists(candidate)) return candidate;
        }
        return null;
    }
}
