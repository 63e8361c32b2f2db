using System.Diagnostics;
using Azure.Storage.Blobs;
using Shoal.Engine.Snapshots;

namespace Shoal.Bench.Snapshot;

/// <summary>
/// The baselines Shoal's snapshot and restore are compared with, shared by the <c>snapshot</c> and
/// <c>index</c> workloads: a plain <c>BlobClient.UploadAsync(path)</c> / <c>DownloadToAsync(path)</c>
/// (the SDK's defaults, no verification) and a plain local copy (1 MiB buffered read and write, no fsync).
/// </summary>
internal static class PlainTransfers
{
    private const int CopyBuffer = 1 << 20;

    /// <summary>Plain upload of one file (overwrites).</summary>
    public static Task UploadAsync(BlobContainerClient container, string blobName, string path, CancellationToken cancellationToken) =>
        container.GetBlobClient(blobName).UploadAsync(path, overwrite: true, cancellationToken);

    /// <summary>Plain download of one blob to a file (no verification).</summary>
    public static Task DownloadAsync(BlobContainerClient container, string blobName, string path, CancellationToken cancellationToken) =>
        container.GetBlobClient(blobName).DownloadToAsync(path, cancellationToken);

    /// <summary>Local copy of one file, 1 MiB buffered, no fsync (like the downloads).</summary>
    public static async Task CopyFileAsync(string source, string destination, CancellationToken cancellationToken)
    {
        await using var src = new FileStream(source, FileMode.Open, FileAccess.Read, FileShare.Read, CopyBuffer, useAsync: true);
        await using var dst = new FileStream(destination, FileMode.Create, FileAccess.Write, FileShare.None, CopyBuffer, useAsync: true);
        await src.CopyToAsync(dst, CopyBuffer, cancellationToken);
    }

    /// <summary>Times of one round of <see cref="RoundAsync"/> (the concurrent ones when asked for).</summary>
    public sealed record Timings(TimeSpan Upload, TimeSpan Download, TimeSpan DiskCopy, TimeSpan? UploadConcurrent = null, TimeSpan? DownloadConcurrent = null);

    /// <summary>
    /// One round over <paramref name="files"/>, file after file: plain upload of all of them under
    /// <paramref name="prefix"/>, then plain download of all into <paramref name="scratch"/>, then a local
    /// copy of all; checks that every download equals its source (XXH3, outside the timings), then
    /// deletes the blobs and the local copies. With <paramref name="concurrent"/>, also all files at
    /// once (one task per file, as a cluster's shards do): an upload under <c>prefix + "c/"</c> after
    /// the sequential one and a download after the sequential one.
    /// </summary>
    public static async Task<Timings> RoundAsync(BlobContainerClient container, IReadOnlyList<string> files, string prefix, string scratch, CancellationToken cancellationToken, bool concurrent = false)
    {
        string downloads = Path.Combine(scratch, "plain");
        string copies = Path.Combine(scratch, "copy");
        string concurrentDownloads = Path.Combine(scratch, "plain-concurrent");
        Directory.CreateDirectory(downloads);
        Directory.CreateDirectory(copies);
        Directory.CreateDirectory(concurrentDownloads);
        try
        {
            TimeSpan? uploadConcurrent = null, downloadConcurrent = null;
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < files.Count; i++) await UploadAsync(container, $"{prefix}file-{i}", files[i], cancellationToken);
            var upload = clock.Elapsed;
            if (concurrent)
            {
                clock.Restart();
                await Task.WhenAll(files.Select((f, i) => UploadAsync(container, $"{prefix}c/file-{i}", f, cancellationToken)));
                uploadConcurrent = clock.Elapsed;
            }

            clock.Restart();
            for (int i = 0; i < files.Count; i++) await DownloadAsync(container, $"{prefix}file-{i}", Path.Combine(downloads, $"file-{i}"), cancellationToken);
            var download = clock.Elapsed;
            if (concurrent)
            {
                clock.Restart();
                await Task.WhenAll(files.Select((_, i) => DownloadAsync(container, $"{prefix}c/file-{i}", Path.Combine(concurrentDownloads, $"file-{i}"), cancellationToken)));
                downloadConcurrent = clock.Elapsed;
                Directory.Delete(concurrentDownloads, recursive: true);
            }

            clock.Restart();
            for (int i = 0; i < files.Count; i++) await CopyFileAsync(files[i], Path.Combine(copies, $"file-{i}"), cancellationToken);
            var copy = clock.Elapsed;

            for (int i = 0; i < files.Count; i++)
            {
                if (await SnapshotCatalog.ChecksumFileAsync(Path.Combine(downloads, $"file-{i}"), cancellationToken) != await SnapshotCatalog.ChecksumFileAsync(files[i], cancellationToken))
                    throw new InvalidOperationException($"plain download of {files[i]} differs from the source");
            }
            return new Timings(upload, download, copy, uploadConcurrent, downloadConcurrent);
        }
        finally
        {
            foreach (var d in new[] { downloads, copies, concurrentDownloads })
                if (Directory.Exists(d)) Directory.Delete(d, recursive: true);
            await foreach (var blob in container.GetBlobsAsync(Azure.Storage.Blobs.Models.BlobTraits.None, Azure.Storage.Blobs.Models.BlobStates.None, prefix, cancellationToken))
                await container.DeleteBlobIfExistsAsync(blob.Name, cancellationToken: cancellationToken);
        }
    }

    /// <summary>The median (mean of the middle two for an even count).</summary>
    public static double Median(IEnumerable<double> values)
    {
        var v = values.OrderBy(x => x).ToArray();
        return v.Length % 2 == 1 ? v[v.Length / 2] : (v[v.Length / 2 - 1] + v[v.Length / 2]) / 2;
    }
}
