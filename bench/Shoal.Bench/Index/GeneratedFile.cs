namespace Shoal.Bench.Index;

/// <summary>
/// A generated data file with a sidecar (<c>path.meta</c>) naming the parameters it was made with
/// and its length, so a later run reuses it only when both still match. Files are written to a
/// temporary name and renamed, then the sidecar is written: a run stopped half-way leaves no
/// sidecar and the file is made again.
/// </summary>
internal static class GeneratedFile
{
    /// <summary>True when <paramref name="path"/> exists and was made with <paramref name="parameters"/>.</summary>
    public static bool IsCurrent(string path, string parameters)
    {
        string meta = path + ".meta";
        if (!File.Exists(path) || !File.Exists(meta)) return false;
        var lines = File.ReadAllLines(meta);
        return lines.Length == 2 && lines[0] == parameters && lines[1] == new FileInfo(path).Length.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Writes <paramref name="path"/> through <paramref name="write"/> (given a temporary path), then its sidecar.</summary>
    public static void Write(string path, string parameters, Action<string> write)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        File.Delete(path + ".meta");
        string temp = path + ".tmp";
        write(temp);
        File.Move(temp, path, overwrite: true);
        File.WriteAllLines(path + ".meta", [parameters, new FileInfo(path).Length.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
    }

    /// <summary>
    /// Writes rows in chunks generated in parallel (at most <paramref name="threads"/> at a time, a few
    /// chunks buffered) and appended in order, after <paramref name="header"/> when given, so the
    /// output does not depend on the thread count.
    /// </summary>
    public static void WriteChunks(string path, int chunks, int threads, Func<int, byte[]> chunk, byte[]? header = null)
    {
        using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        if (header is not null) file.Write(header);
        int batch = Math.Max(1, threads) * 2;
        var buffers = new byte[batch][];
        for (int from = 0; from < chunks; from += batch)
        {
            int n = Math.Min(batch, chunks - from);
            Parallel.For(0, n, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, threads) }, i => buffers[i] = chunk(from + i));
            for (int i = 0; i < n; i++)
            {
                file.Write(buffers[i]);
                buffers[i] = [];
            }
        }
    }
}
