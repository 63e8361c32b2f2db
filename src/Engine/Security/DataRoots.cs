namespace Shoal.Engine.Security;

/// <summary>
/// A source path that may not be read: outside every data root, through a symbolic link that
/// leaves one, with a <c>..</c> segment, or not a regular file. The message never says whether or
/// what exists outside the roots.
/// </summary>
public sealed class ConfinedPathException : ArgumentException
{
    /// <summary>Creates the exception.</summary>
    public ConfinedPathException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public ConfinedPathException(string message) : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the error that caused it.</summary>
    public ConfinedPathException(string message, Exception innerException) : base(message, innerException)
    {
    }
}

/// <summary>
/// The directories whose files a silo may read as ingest and job sources. A path is accepted
/// only when it has no <c>..</c> segment, its real location (every symbolic link along it
/// resolved, as realpath does) lies inside a root (itself resolved the same way), and it is a
/// regular file (not a directory, device, FIFO or socket). Relative paths resolve against the
/// first root. Refusals say only that the path is not an allowed source, so a caller learns
/// nothing about files outside the roots.
/// </summary>
public sealed class DataRoots
{
    private readonly string[] _roots;
    private readonly string[] _given;

    /// <summary>Creates the set from directories (each made absolute; symbolic links in them resolved when they exist).</summary>
    public DataRoots(IEnumerable<string> roots)
    {
        var list = new List<string>();
        var given = new List<string>();
        foreach (var root in roots)
        {
            if (string.IsNullOrWhiteSpace(root)) continue;
            string full = WithSeparator(Path.GetFullPath(root));
            string real = WithSeparator(RealPath(Path.GetFullPath(root)));
            if (!list.Contains(real, StringComparer.Ordinal)) list.Add(real);
            if (!given.Contains(full, StringComparer.Ordinal)) given.Add(full);
        }
        _roots = [.. list];
        _given = [.. given];
    }

    /// <summary>The roots, absolute and resolved, each ending with a directory separator.</summary>
    public IReadOnlyList<string> Roots => _roots;

    /// <summary>Describes the roots for a message (they are the server's own configuration, not a secret).</summary>
    public string Describe() => _roots.Length == 0 ? "(none configured)" : string.Join(", ", _roots.Select(r => r.TrimEnd(Path.DirectorySeparatorChar)));

    /// <summary>
    /// The resolved full path of <paramref name="path"/> when it may be read; otherwise a
    /// <see cref="ConfinedPathException"/> that names <paramref name="what"/> and the path as given.
    /// </summary>
    public string Resolve(string path, string what)
    {
        if (string.IsNullOrWhiteSpace(path)) throw new ConfinedPathException($"{what}: the path is empty.");
        string refusal = $"{what} '{path}' is not an allowed source: sources must be regular files inside the data roots ({Describe()}) or store:<key> objects of the snapshot store.";
        if (path.Contains('\0', StringComparison.Ordinal) || _roots.Length == 0) throw new ConfinedPathException(refusal);
        foreach (var segment in path.Split('/', '\\'))
            if (segment == "..") throw new ConfinedPathException($"{what} '{path}' has a '..' segment; give the path without it.");
        string full = Path.IsPathRooted(path) ? Path.GetFullPath(path) : Path.GetFullPath(path, _roots[0]);
        // Lexically inside a root (as configured or resolved) first, so nothing outside is even looked at.
        if (!Inside(full, _given) && !Inside(full, _roots)) throw new ConfinedPathException(refusal);
        string real;
        try
        {
            real = RealPath(full);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfinedPathException(refusal, e);
        }
        if (!Inside(real, _roots)) throw new ConfinedPathException(refusal);
        var info = new FileInfo(real);
        if (!info.Exists)
            throw new ConfinedPathException(Directory.Exists(real) ? $"{what} '{path}' is a directory, not a file." : $"{what} file '{path}' does not exist.");
        // FIFOs, sockets and character/block devices report a size of 0 (stat's st_size) and are never
        // opened here (opening a FIFO would block); an empty regular file has nothing to index either.
        if ((info.Attributes & (FileAttributes.Device | FileAttributes.ReparsePoint)) != 0 || info.Length == 0)
            throw new ConfinedPathException($"{what} '{path}' is empty or not a regular file (devices, FIFOs and sockets are refused).");
        return real;
    }

    private static bool Inside(string full, string[] roots)
    {
        foreach (var root in roots)
            if (full.StartsWith(root, StringComparison.Ordinal) || string.Equals(full + Path.DirectorySeparatorChar, root, StringComparison.Ordinal)) return true;
        return false;
    }

    /// <summary>The path with every symbolic link along it resolved (the parts that exist), like realpath.</summary>
    public static string RealPath(string full)
    {
        string root = Path.GetPathRoot(full) ?? "/";
        string current = root;
        var parts = full[root.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries);
        for (int i = 0; i < parts.Length; i++)
        {
            string next = Path.Combine(current, parts[i]);
            FileSystemInfo info = Directory.Exists(next) ? new DirectoryInfo(next) : new FileInfo(next);
            if (info.LinkTarget is not null)
            {
                var target = info.ResolveLinkTarget(returnFinalTarget: true);
                next = target is null ? next : Path.GetFullPath(target.FullName);
            }
            else if (!info.Exists)
            {
                // The rest does not exist: nothing more to resolve.
                return Path.GetFullPath(Path.Combine([next, .. parts[(i + 1)..]]));
            }
            current = next;
        }
        return current;
    }

    private static string WithSeparator(string path) => path.EndsWith(Path.DirectorySeparatorChar) ? path : path + Path.DirectorySeparatorChar;
}

/// <summary>Checks keys of the snapshot store that come from outside (<c>store:</c> sources), before they become paths or blob names.</summary>
public static class StoreKeys
{
    /// <summary>Longest key accepted.</summary>
    public const int MaxLength = 1024;

    /// <summary>Null when <paramref name="key"/> is a valid relative key ("a/b/c.jsonl"), else why not.</summary>
    public static string? Validate(string? key)
    {
        if (string.IsNullOrEmpty(key)) return "The store key is empty.";
        if (key.Length > MaxLength) return $"The store key is {key.Length} characters; the limit is {MaxLength}.";
        if (key.StartsWith('/') || key.Contains('\\', StringComparison.Ordinal)) return $"Store key '{key}' must be relative, with '/' separators.";
        foreach (char c in key)
            if (char.IsControl(c)) return "The store key has a control character.";
        foreach (var segment in key.Split('/'))
            if (segment.Length == 0 || segment == "." || segment == "..") return $"Store key '{key}' has an empty, '.' or '..' segment.";
        return null;
    }
}
