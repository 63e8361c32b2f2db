using System.IO.Compression;

namespace Shoal.Engine.Ingest;

/// <summary>
/// Opens input files (corpora, topics, qrels, runs) for sequential reading, transparently
/// decompressing gzip. Compression is detected from the file's first two bytes (the gzip magic
/// <c>1f 8b</c>), never from its name, so a gzip file without a <c>.gz</c> suffix and a plain file
/// with one are both read correctly.
/// </summary>
public static class InputStreams
{
    private const int FileBufferSize = 1 << 16;

    /// <summary>
    /// Opens <paramref name="path"/> for reading. Returns a decompressing stream when the file starts
    /// with the gzip magic bytes, otherwise the raw file stream. Concatenated (multi-member) gzip
    /// files are decompressed in full.
    /// </summary>
    /// <exception cref="FileNotFoundException">The file does not exist; the message names the path.</exception>
    public static Stream Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Input file not found: '{path}'.", path);
        }

        var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileBufferSize, FileOptions.SequentialScan);
        try
        {
            Span<byte> magic = stackalloc byte[2];
            int read = file.ReadAtLeast(magic, 2, throwOnEndOfStream: false);
            file.Position = 0;
            if (read == 2 && magic[0] == 0x1f && magic[1] == 0x8b)
            {
                return new GZipStream(file, CompressionMode.Decompress, leaveOpen: false);
            }

            return file;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>Removes a trailing <c>.gz</c> (any case) from a file name or path.</summary>
    public static string StripGzipSuffix(string path) =>
        path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? path[..^3] : path;
}
