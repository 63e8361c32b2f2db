using System.IO.Hashing;
using Microsoft.Win32.SafeHandles;

namespace Shoal.Engine.Snapshots;

/// <summary>
/// Local file helpers for snapshot stores (the local directory store here, the blob store in its
/// own assembly): temporary names beside a destination, one-pass hashing reads and hashing copies.
/// </summary>
public static class SnapshotFiles
{
    private const int BufferBytes = 1 << 20;

    /// <summary>A temporary name beside <paramref name="path"/> (same directory, so a rename is atomic).</summary>
    public static string TempPathFor(string path) => path + ".part-" + Guid.NewGuid().ToString("N");

    /// <summary>Whether a file name is one of <see cref="TempPathFor"/>'s temporary names.</summary>
    public static bool IsTempPath(string path) => Path.GetFileName(path).Contains(".part-", StringComparison.Ordinal);

    /// <summary>Deletes a file if it exists, ignoring a file that is already gone.</summary>
    public static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    /// <summary>XXH3-64 and length of a file, in one sequential read (the next block is read while this one is hashed).</summary>
    public static async Task<ObjectChecksum> ChecksumAsync(string path, CancellationToken cancellationToken)
    {
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.Asynchronous | FileOptions.SequentialScan);
        var hash = new XxHash3();
        byte[] a = new byte[BufferBytes], b = new byte[BufferBytes];
        long offset = 0;
        var pending = RandomAccess.ReadAsync(handle, a, offset, cancellationToken);
        while (true)
        {
            int n = await pending.ConfigureAwait(false);
            if (n == 0) break;
            offset += n;
            pending = RandomAccess.ReadAsync(handle, b, offset, cancellationToken);
            hash.Append(a.AsSpan(0, n));
            (a, b) = (b, a);
        }
        return new ObjectChecksum(offset, hash.GetCurrentHashAsUInt64());
    }

    /// <summary>
    /// Copies <paramref name="source"/> to a new file <paramref name="destination"/>, hashing the
    /// bytes as they pass (reads of the next block overlap the write of this one).
    /// </summary>
    public static async Task<ObjectChecksum> CopyAsync(string source, string destination, bool flushToDisk, CancellationToken cancellationToken)
    {
        using var src = File.OpenHandle(source, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.Asynchronous | FileOptions.SequentialScan);
        long length = RandomAccess.GetLength(src);
        using var dst = File.OpenHandle(destination, FileMode.CreateNew, FileAccess.Write, FileShare.None, FileOptions.Asynchronous, preallocationSize: length);
        var hash = new XxHash3();
        byte[] a = new byte[BufferBytes], b = new byte[BufferBytes];
        long offset = 0;
        ValueTask write = default;
        while (true)
        {
            int n = await RandomAccess.ReadAsync(src, a, offset, cancellationToken).ConfigureAwait(false);
            await write.ConfigureAwait(false);
            if (n == 0) break;
            hash.Append(a.AsSpan(0, n));
            write = RandomAccess.WriteAsync(dst, new ReadOnlyMemory<byte>(a, 0, n), offset, cancellationToken);
            offset += n;
            (a, b) = (b, a);
        }
        if (flushToDisk) RandomAccess.FlushToDisk(dst);
        return new ObjectChecksum(offset, hash.GetCurrentHashAsUInt64());
    }

    /// <summary>Opens a new file for positional writes, preallocated to <paramref name="length"/>.</summary>
    public static SafeFileHandle CreateForWrite(string path, long length) =>
        File.OpenHandle(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, FileOptions.Asynchronous, preallocationSize: length);
}
