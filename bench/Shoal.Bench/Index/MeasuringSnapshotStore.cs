using System.Collections.Concurrent;
using System.Diagnostics;
using Shoal.Engine.Snapshots;

namespace Shoal.Bench.Index;

/// <summary>
/// An <see cref="ISnapshotStore"/> that forwards every call to the real store (Azure Blob on
/// Azurite here) and records each transfer — key, bytes, local file, start and end — so the
/// benchmark can time the cluster's own snapshot and restore from the inside without changing
/// them. Registered before <c>AddShoal</c>, which then keeps it (<c>TryAddSingleton</c>).
/// </summary>
internal sealed class MeasuringSnapshotStore(ISnapshotStore inner) : ISnapshotStore
{
    private readonly ConcurrentQueue<Transfer> _transfers = new();

    /// <summary>One upload or download: its key, size, local file and Stopwatch timestamps.</summary>
    public sealed record Transfer(string Key, bool Upload, long Bytes, string? LocalPath, long Start, long End);

    /// <summary>The store calls are forwarded to.</summary>
    public ISnapshotStore Inner => inner;

    /// <summary>Transfers recorded so far, in completion order.</summary>
    public IReadOnlyList<Transfer> Transfers => [.. _transfers];

    /// <inheritdoc />
    public string Description => inner.Description;

    /// <inheritdoc />
    public async Task PutFileAsync(string key, string sourcePath, CancellationToken cancellationToken = default)
    {
        long start = Stopwatch.GetTimestamp();
        await inner.PutFileAsync(key, sourcePath, cancellationToken);
        Record(key, true, new FileInfo(sourcePath).Length, sourcePath, start);
    }

    /// <inheritdoc />
    public async Task<ObjectChecksum> UploadFileAsync(string key, string sourcePath, CancellationToken cancellationToken = default)
    {
        long start = Stopwatch.GetTimestamp();
        var sum = await inner.UploadFileAsync(key, sourcePath, cancellationToken);
        Record(key, true, sum.Bytes, sourcePath, start);
        return sum;
    }

    /// <inheritdoc />
    public async Task GetFileAsync(string key, string destinationPath, CancellationToken cancellationToken = default)
    {
        long start = Stopwatch.GetTimestamp();
        await inner.GetFileAsync(key, destinationPath, cancellationToken);
        Record(key, false, new FileInfo(destinationPath).Length, destinationPath, start);
    }

    /// <inheritdoc />
    public async Task<ObjectChecksum> DownloadFileAsync(string key, string destinationPath, ObjectChecksum? expected = null, CancellationToken cancellationToken = default)
    {
        long start = Stopwatch.GetTimestamp();
        var sum = await inner.DownloadFileAsync(key, destinationPath, expected, cancellationToken);
        Record(key, false, sum.Bytes, Path.GetFullPath(destinationPath), start);
        return sum;
    }

    /// <inheritdoc />
    public async Task PutBytesAsync(string key, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
    {
        long start = Stopwatch.GetTimestamp();
        await inner.PutBytesAsync(key, data, cancellationToken);
        Record(key, true, data.Length, null, start);
    }

    /// <inheritdoc />
    public async Task<byte[]?> GetBytesAsync(string key, CancellationToken cancellationToken = default)
    {
        long start = Stopwatch.GetTimestamp();
        var bytes = await inner.GetBytesAsync(key, cancellationToken);
        if (bytes is not null) Record(key, false, bytes.Length, null, start);
        return bytes;
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<string>> ListAsync(string prefix, CancellationToken cancellationToken = default) => inner.ListAsync(prefix, cancellationToken);

    /// <inheritdoc />
    public Task DeletePrefixAsync(string prefix, CancellationToken cancellationToken = default) => inner.DeletePrefixAsync(prefix, cancellationToken);

    /// <inheritdoc />
    public Task DeleteAsync(string key, CancellationToken cancellationToken = default) => inner.DeleteAsync(key, cancellationToken);

    /// <inheritdoc />
    public Task<bool> CompareAndSwapAsync(string key, Func<byte[]?, bool> expected, ReadOnlyMemory<byte>? replacement, CancellationToken cancellationToken = default) =>
        inner.CompareAndSwapAsync(key, expected, replacement, cancellationToken);

    /// <inheritdoc />
    public string? TryGetLocalPath(string key) => inner.TryGetLocalPath(key);

    private void Record(string key, bool upload, long bytes, string? localPath, long start) =>
        _transfers.Enqueue(new Transfer(key, upload, bytes, localPath, start, Stopwatch.GetTimestamp()));

    /// <summary>Bytes and busy time (the union of the transfers' intervals, so concurrent transfers are not counted twice) of a set of transfers.</summary>
    public static (long Bytes, TimeSpan Busy, long First, long Last) Summarize(IEnumerable<Transfer> transfers)
    {
        var list = transfers.OrderBy(t => t.Start).ToList();
        if (list.Count == 0) return (0, TimeSpan.Zero, 0, 0);
        long busy = 0, from = list[0].Start, to = list[0].End;
        foreach (var t in list.Skip(1))
        {
            if (t.Start > to)
            {
                busy += to - from;
                from = t.Start;
            }
            to = Math.Max(to, t.End);
        }
        busy += to - from;
        return (list.Sum(t => t.Bytes), Stopwatch.GetElapsedTime(0, busy), list[0].Start, list.Max(t => t.End));
    }
}
