using System.Diagnostics;
using Shoal.Engine.Security;

namespace Shoal.Engine.Tests.Security;

public sealed class DataRootsTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("shoal-roots-").FullName;
    private readonly string _outside = Directory.CreateTempSubdirectory("shoal-roots-out-").FullName;

    public void Dispose()
    {
        Directory.Delete(_root, recursive: true);
        Directory.Delete(_outside, recursive: true);
    }

    [Fact]
    public void Files_inside_a_root_resolve_and_everything_else_is_refused_alike()
    {
        string inside = Path.Combine(_root, "sub", "corpus.jsonl");
        Directory.CreateDirectory(Path.GetDirectoryName(inside)!);
        File.WriteAllText(inside, "{}\n");
        string secret = Path.Combine(_outside, "secret.txt");
        File.WriteAllText(secret, "secret\n");
        var roots = new DataRoots([_root]);

        Assert.Equal(inside, roots.Resolve(inside, "Corpus"));
        Assert.Equal(inside, roots.Resolve(Path.Combine("sub", "corpus.jsonl"), "Corpus")); // relative to the first root

        var existing = Assert.Throws<ConfinedPathException>(() => roots.Resolve(secret, "Corpus")).Message;
        var absent = Assert.Throws<ConfinedPathException>(() => roots.Resolve(Path.Combine(_outside, "absent.txt"), "Corpus")).Message;
        Assert.Equal(existing.Replace("secret.txt", "X", StringComparison.Ordinal), absent.Replace("absent.txt", "X", StringComparison.Ordinal));
        Assert.Contains("'..'", Assert.Throws<ConfinedPathException>(() => roots.Resolve(Path.Combine(_root, "sub", "..", "sub", "corpus.jsonl"), "Corpus")).Message);
        Assert.Contains("'..'", Assert.Throws<ConfinedPathException>(() => roots.Resolve("../x", "Corpus")).Message);
        Assert.Throws<ConfinedPathException>(() => roots.Resolve("/etc/passwd", "Corpus"));
        Assert.Throws<ConfinedPathException>(() => roots.Resolve(_root + "-sibling/x", "Corpus")); // a prefix is not a parent
        Assert.Contains("directory", Assert.Throws<ConfinedPathException>(() => roots.Resolve(Path.Combine(_root, "sub"), "Corpus")).Message);
        Assert.Contains("does not exist", Assert.Throws<ConfinedPathException>(() => roots.Resolve(Path.Combine(_root, "nope.jsonl"), "Corpus")).Message);
        Assert.Throws<ConfinedPathException>(() => roots.Resolve("", "Corpus"));
        Assert.Throws<ConfinedPathException>(() => roots.Resolve("a\0b", "Corpus"));
        Assert.Throws<ConfinedPathException>(() => new DataRoots([]).Resolve(inside, "Corpus"));
    }

    [Fact]
    public void Symbolic_links_are_followed_and_must_stay_inside_a_root()
    {
        string target = Path.Combine(_root, "real.tsv");
        File.WriteAllText(target, "d1\ttext\n");
        string secret = Path.Combine(_outside, "secret.tsv");
        File.WriteAllText(secret, "s\tsecret\n");
        File.CreateSymbolicLink(Path.Combine(_root, "inner-link.tsv"), target);
        File.CreateSymbolicLink(Path.Combine(_root, "outer-link.tsv"), secret);
        Directory.CreateSymbolicLink(Path.Combine(_root, "outer-dir"), _outside);
        var roots = new DataRoots([_root]);

        Assert.Equal(target, roots.Resolve(Path.Combine(_root, "inner-link.tsv"), "Corpus"));
        Assert.Contains("not an allowed source", Assert.Throws<ConfinedPathException>(() => roots.Resolve(Path.Combine(_root, "outer-link.tsv"), "Corpus")).Message);
        Assert.Contains("not an allowed source", Assert.Throws<ConfinedPathException>(() => roots.Resolve(Path.Combine(_root, "outer-dir", "secret.tsv"), "Corpus")).Message);
        // A root that is itself reached through a link is resolved too.
        string linkedRoot = Path.Combine(_outside, "linked-root");
        Directory.CreateSymbolicLink(linkedRoot, _root);
        Assert.Equal(target, new DataRoots([linkedRoot]).Resolve(Path.Combine(linkedRoot, "real.tsv"), "Corpus"));
    }

    [Fact]
    public void Fifos_devices_and_empty_files_are_refused_without_being_opened()
    {
        string fifo = Path.Combine(_root, "pipe");
        using (var mk = Process.Start("mkfifo", [fifo])) mk.WaitForExit();
        var roots = new DataRoots([_root, "/dev"]);
        var clock = Stopwatch.StartNew();
        Assert.Contains("not a regular file", Assert.Throws<ConfinedPathException>(() => roots.Resolve(fifo, "Corpus")).Message);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5));
        Assert.Contains("not a regular file", Assert.Throws<ConfinedPathException>(() => roots.Resolve("/dev/null", "Corpus")).Message);
        Assert.Contains("not a regular file", Assert.Throws<ConfinedPathException>(() => roots.Resolve("/dev/zero", "Corpus")).Message);
        string empty = Path.Combine(_root, "empty.jsonl");
        File.WriteAllText(empty, "");
        Assert.Throws<ConfinedPathException>(() => roots.Resolve(empty, "Corpus"));
    }

    [Theory]
    [InlineData("uploads/corpus.jsonl", true)]
    [InlineData("a/b/c.gz", true)]
    [InlineData("", false)]
    [InlineData("../etc/passwd", false)]
    [InlineData("uploads/../../x", false)]
    [InlineData("/abs/key", false)]
    [InlineData("a\\b", false)]
    [InlineData("a//b", false)]
    [InlineData("a/./b", false)]
    [InlineData("a/\u0001b", false)]
    public void Store_keys_from_requests_are_checked(string key, bool valid)
    {
        Assert.Equal(valid, StoreKeys.Validate(key) is null);
    }
}
