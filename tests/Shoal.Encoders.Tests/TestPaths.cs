namespace Shoal.Encoders.Tests;

/// <summary>Where the repository, its fixtures and the shared evaluation data are.</summary>
internal static class TestPaths
{
    private static readonly Lazy<string> Root = new(FindRepoRoot);

    /// <summary>The directory holding Cluster.sln, found by walking up from the test binaries.</summary>
    public static string RepoRoot => Root.Value;

    /// <summary><c>../shared/data</c> beside the repository.</summary>
    public static string SharedData => Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared", "data"));

    /// <summary><c>tests/fixtures/models</c>.</summary>
    public static string Models => Path.Combine(RepoRoot, "tests", "fixtures", "models");

    public static string Model(string fileName) => Path.Combine(Models, fileName);

    public static string VocabTxt => Path.Combine(SharedData, "tokenizers", "bert-base-uncased-vocab.txt");

    public static string OpenSearchTokenizerJson => Path.Combine(SharedData, "opensearch-idf", "tokenizer.json");

    public static string OpenSearchIdfJson => Path.Combine(SharedData, "opensearch-idf", "idf.json");

    /// <summary>The reference tokenizer.json files (all bert-base-uncased WordPiece).</summary>
    public static IEnumerable<string> TokenizerJsonFiles =>
    [
        Path.Combine(SharedData, "tokenizers", "all-minilm-l6-v2-tokenizer.json"),
        Path.Combine(SharedData, "tokenizers", "bge-small-en-v1.5-tokenizer.json"),
        Path.Combine(SharedData, "tokenizers", "e5-small-v2-tokenizer.json"),
        OpenSearchTokenizerJson,
    ];

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Cluster.sln"))) return dir.FullName;
        }
        throw new InvalidOperationException($"No Cluster.sln above {AppContext.BaseDirectory}: run the tests from inside the repository.");
    }
}
