using System.Diagnostics;
using Azure.Storage.Blobs;
using Shoal.Bench.Harness;
using Shoal.Engine.Snapshots;
using Shoal.Storage.AzureBlob;

namespace Shoal.Bench.Snapshot;

/// <summary>
/// Snapshot and restore throughput against plain Azure.Storage.Blobs on the same Azurite, same
/// bytes, same run: Shoal's snapshot (<see cref="SnapshotCatalog.UploadSegmentAsync"/> of every
/// file, then the manifest) versus <c>BlobClient.UploadAsync(path)</c> of every file, Shoal's
/// restore (latest manifest, then <see cref="SnapshotCatalog.MaterializeVerifiedAsync"/> of every
/// segment into an empty cache: download and XXH3 verification) versus
/// <c>BlobClient.DownloadToAsync(path)</c> (no verification), and a plain local copy of the files
/// (1 MiB buffered read and write, no fsync, like the downloads). Ends with <c>RESULT</c> holding
/// snapshot_mb_s, restore_mb_s, plain_upload_mb_s, plain_download_mb_s, disk_copy_mb_s and the
/// ratios snapshot_ratio and restore_ratio (Shoal over plain; the acceptance bar is 0.80).
/// </summary>
/// <remarks>
/// <c>snapshot [--mb 256] [--files 4] [--rounds 3] [--chunk-kb 16384] [--parallelism 4] [--initial-kb 65536]
/// [--connection-string ...] [--dir /tmp/...]</c>. Without a connection string an Azurite
/// (<c>azurite-blob</c>) is started on a free loopback port with its data in the work directory.
/// The files are random bytes (incompressible, like segment postings), sized unevenly
/// (file i gets a share proportional to files - i). Every round runs the five measurements,
/// alternating which of Shoal and plain goes first, on fresh keys and an empty cache; the best
/// round of each figure counts (shared machine), the median is logged too. MB is 2^20 bytes.
/// </remarks>
public sealed class SnapshotWorkload : IWorkload
{
    private const double MiB = 1 << 20;

    /// <inheritdoc />
    public string Name => "snapshot";

    /// <inheritdoc />
    public string Description => "snapshot upload and verified restore MB/s vs plain Azure.Storage.Blobs on Azurite, and disk copy";

    /// <inheritdoc />
    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var a = new BenchArgs(args);
        int mb = a.Int("mb", 256);
        int fileCount = a.Int("files", 4);
        int rounds = a.Int("rounds", 3);
        var defaults = new BlobTransferSettings();
        var settings = defaults with
        {
            ChunkBytes = a.Int("chunk-kb", defaults.ChunkBytes >> 10) << 10,
            Parallelism = a.Int("parallelism", defaults.Parallelism),
            InitialDownloadBytes = (long)a.Int("initial-kb", (int)(defaults.InitialDownloadBytes >> 10)) << 10,
        };
        settings.Validate();
        string connectionString = a.String("connection-string", "");
        if (mb < 1 || fileCount < 1 || rounds < 1 || fileCount > mb)
            throw new ArgumentException("--mb, --files and --rounds must be positive, with at least 1 MB per file.");
        string work = Path.GetFullPath(a.String("dir", Path.Combine(Path.GetTempPath(), $"shoal-bench-snapshot-{Environment.ProcessId}")));
        Directory.CreateDirectory(work);
        try
        {
            AzuriteProcess? azurite = null;
            if (connectionString.Length == 0)
            {
                azurite = await AzuriteProcess.StartAsync(Path.Combine(work, "azurite"), cancellationToken);
                connectionString = azurite.ConnectionString;
                Log($"started azurite-blob (pid {azurite.ProcessId}) with data in {Path.Combine(work, "azurite")}");
            }
            await using (azurite)
            {
                return await RunCoreAsync(connectionString, work, mb, fileCount, rounds, settings, new CpuMeter(azurite?.ProcessId), cancellationToken);
            }
        }
        finally
        {
            try
            {
                Directory.Delete(work, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private static async Task<int> RunCoreAsync(string connectionString, string work, int mb, int fileCount, int rounds, BlobTransferSettings settings, CpuMeter cpu, CancellationToken ct)
    {
        string source = Path.Combine(work, "source");
        var files = WriteFiles(source, (long)mb << 20, fileCount);
        long total = files.Sum(f => new FileInfo(f).Length);
        Log($"{files.Length} files, {total / MiB:F0} MB in {source}; chunk {settings.ChunkBytes >> 10} KiB, first download range {(settings.InitialDownloadBytes > 0 ? settings.InitialDownloadBytes : settings.ChunkBytes) >> 10} KiB, parallelism {settings.Parallelism}, "
            + $"{Environment.ProcessorCount} cores, {rounds} rounds");

        var store = AzureBlobSnapshotStore.Create(connectionString, "shoal-bench", settings);
        var catalog = new SnapshotCatalog(store);
        var plain = new BlobContainerClient(connectionString, "plain-bench");
        await plain.CreateIfNotExistsAsync(cancellationToken: ct);

        // Warm-up (JIT, connection pools, Azurite's first writes), not measured.
        string warm = Path.Combine(work, "warm.bin");
        WriteRandom(warm, 12 << 20, 99);
        await RoundAsync(catalog, plain, [warm], work, 0, shoalFirst: true, new CpuMeter(null), ct);
        File.Delete(warm);

        var measured = new List<Figures>();
        for (int r = 1; r <= rounds; r++)
        {
            var f = await RoundAsync(catalog, plain, files, work, r, shoalFirst: r % 2 == 1, cpu, ct);
            double mbs(TimeSpan t) => total / MiB / t.TotalSeconds;
            var row = new Figures(mbs(f.Snapshot), mbs(f.PlainUpload), mbs(f.Restore), mbs(f.PlainDownload), mbs(f.DiskCopy));
            measured.Add(row);
            Log($"round {r}: snapshot {row.Snapshot:F1}, plain upload {row.PlainUpload:F1} ({row.Snapshot / row.PlainUpload:F2}); restore {row.Restore:F1}, "
                + $"plain download {row.PlainDownload:F1} ({row.Restore / row.PlainDownload:F2}); disk copy {row.DiskCopy:F1} MB/s");
        }
        if (store.RetryCount > 0) Log($"Shoal retried {store.RetryCount} requests");
        foreach (var (what, (client, server)) in cpu.Totals)
            Log($"cpu ms per MB, {what}: client {client / (total / MiB * rounds):F2}, azurite {(cpu.MeasuresServer ? (server / (total / MiB * rounds)).ToString("F2", System.Globalization.CultureInfo.InvariantCulture) : "-")}");

        var best = new Figures(
            measured.Max(m => m.Snapshot), measured.Max(m => m.PlainUpload), measured.Max(m => m.Restore),
            measured.Max(m => m.PlainDownload), measured.Max(m => m.DiskCopy));
        var median = new Figures(
            Median(measured.Select(m => m.Snapshot)), Median(measured.Select(m => m.PlainUpload)), Median(measured.Select(m => m.Restore)),
            Median(measured.Select(m => m.PlainDownload)), Median(measured.Select(m => m.DiskCopy)));
        Log($"medians: snapshot {median.Snapshot:F1} / plain {median.PlainUpload:F1} = {median.Snapshot / median.PlainUpload:F2}; "
            + $"restore {median.Restore:F1} / plain {median.PlainDownload:F1} = {median.Restore / median.PlainDownload:F2}; disk copy {median.DiskCopy:F1}");

        var report = new Report();
        report.Row("snapshot MB/s (upload + xxh3, manifest)", Report.F(best.Snapshot, 1), $"plain UploadAsync: {Report.F(best.PlainUpload, 1)}",
            Report.F(best.Snapshot / best.PlainUpload), ">= 0.80");
        report.Row("restore MB/s (download + xxh3 verify)", Report.F(best.Restore, 1), $"plain DownloadToAsync: {Report.F(best.PlainDownload, 1)}",
            Report.F(best.Restore / best.PlainDownload), ">= 0.80");
        report.Row("local disk copy MB/s", null, $"disk copy: {Report.F(best.DiskCopy, 1)}");
        report.Row("snapshot / restore vs disk copy", $"{Report.F(best.Snapshot / best.DiskCopy)} / {Report.F(best.Restore / best.DiskCopy)}");
        report.Result("mb", Math.Round(total / MiB));
        report.Result("files", files.Length);
        report.Result("rounds", rounds);
        report.Result("chunk_kb", settings.ChunkBytes >> 10);
        report.Result("parallelism", settings.Parallelism);
        report.Result("snapshot_mb_s", best.Snapshot);
        report.Result("restore_mb_s", best.Restore);
        report.Result("plain_upload_mb_s", best.PlainUpload);
        report.Result("plain_download_mb_s", best.PlainDownload);
        report.Result("disk_copy_mb_s", best.DiskCopy);
        report.Result("snapshot_ratio", best.Snapshot / best.PlainUpload);
        report.Result("restore_ratio", best.Restore / best.PlainDownload);
        // Paired within a round (same moments of the machine), then the median over rounds.
        report.Result("snapshot_ratio_paired_median", Median(measured.Select(m => m.Snapshot / m.PlainUpload)));
        report.Result("restore_ratio_paired_median", Median(measured.Select(m => m.Restore / m.PlainDownload)));
        report.Print(Console.Out);
        return 0;
    }

    private sealed record Figures(double Snapshot, double PlainUpload, double Restore, double PlainDownload, double DiskCopy);

    private sealed record Timings(TimeSpan Snapshot, TimeSpan PlainUpload, TimeSpan Restore, TimeSpan PlainDownload, TimeSpan DiskCopy);

    private static async Task<Timings> RoundAsync(SnapshotCatalog catalog, BlobContainerClient plain, string[] files, string work, int round, bool shoalFirst, CpuMeter cpu, CancellationToken ct)
    {
        const string index = "bench";
        long version = round + 1;
        string cache = Path.Combine(work, "cache");
        string downloads = Path.Combine(work, "plain");
        string copies = Path.Combine(work, "copy");
        foreach (var d in new[] { cache, downloads, copies }) Directory.CreateDirectory(d);

        // Shoal and plain alternate file by file (who goes first alternates too), so both see the
        // same moments of a shared machine; each side's times are summed.
        var snapshot = TimeSpan.Zero;
        var plainUpload = TimeSpan.Zero;
        var segments = new List<SegmentManifest>();
        for (int i = 0; i < files.Length; i++)
        {
            for (int turn = 0; turn < 2; turn++)
            {
                var start = cpu.Now();
                var clock = Stopwatch.StartNew();
                if ((turn == 0) == ((i % 2 == 0) == shoalFirst))
                {
                    segments.Add(await catalog.UploadSegmentAsync(index, version, i, files[i], ct));
                    snapshot += clock.Elapsed;
                    cpu.Add("snapshot", start);
                }
                else
                {
                    await PlainTransfers.UploadAsync(plain, $"r{round}/file-{i}", files[i], ct);
                    plainUpload += clock.Elapsed;
                    cpu.Add("plain upload", start);
                }
            }
        }
        var publish = Stopwatch.StartNew();
        await catalog.PublishAsync(new IndexManifest
        {
            Index = index, Version = version, CreatedUtc = DateTimeOffset.UtcNow, ShardCount = files.Length,
            Schema = IndexSchema.DefaultText, DocCount = 0,
            Shards = [.. segments.Select((s, i) => new ShardManifest(i, 0, [s]))],
        }, ct);
        snapshot += publish.Elapsed;

        var restore = Stopwatch.StartNew();
        var manifest = await catalog.GetLatestManifestAsync(index, ct)
            ?? throw new InvalidOperationException("the snapshot just published is not there");
        if (manifest.Version != version) throw new InvalidOperationException($"latest version is {manifest.Version}, not {version}");
        var restoreTime = restore.Elapsed;
        var plainDownload = TimeSpan.Zero;
        for (int i = 0; i < files.Length; i++)
        {
            for (int turn = 0; turn < 2; turn++)
            {
                var start = cpu.Now();
                var clock = Stopwatch.StartNew();
                if ((turn == 0) == ((i % 2 == 0) == shoalFirst))
                {
                    var m = await catalog.MaterializeVerifiedAsync(manifest.Shards[i].Segments[0], cache, ct);
                    restoreTime += clock.Elapsed;
                    cpu.Add("restore", start);
                    if (m.Source != SegmentSource.Downloaded || !m.Verified) throw new InvalidOperationException($"{m.Path} was not downloaded and verified");
                }
                else
                {
                    await PlainTransfers.DownloadAsync(plain, $"r{round}/file-{i}", Path.Combine(downloads, $"file-{i}"), ct);
                    plainDownload += clock.Elapsed;
                    cpu.Add("plain download", start);
                }
            }
        }

        var copy = Stopwatch.StartNew();
        for (int i = 0; i < files.Length; i++) await PlainTransfers.CopyFileAsync(files[i], Path.Combine(copies, $"file-{i}"), ct);
        var diskCopy = copy.Elapsed;

        // Same bytes on both sides.
        for (int i = 0; i < files.Length; i++)
        {
            var want = await SnapshotCatalog.ChecksumFileAsync(files[i], ct);
            if (await SnapshotCatalog.ChecksumFileAsync(Path.Combine(downloads, $"file-{i}"), ct) != want)
                throw new InvalidOperationException($"plain download of file {i} differs from the source");
        }

        // Keep the disk footprint to one round: drop this round's blobs and local copies.
        foreach (var d in new[] { cache, downloads, copies }) Directory.Delete(d, recursive: true);
        await catalog.Store.DeletePrefixAsync(SnapshotCatalog.VersionPrefix(index, version), ct);
        await foreach (var blob in plain.GetBlobsAsync(Azure.Storage.Blobs.Models.BlobTraits.None, Azure.Storage.Blobs.Models.BlobStates.None, $"r{round}/", ct))
            await plain.DeleteBlobIfExistsAsync(blob.Name, cancellationToken: ct);
        return new Timings(snapshot, plainUpload, restoreTime, plainDownload, diskCopy);
    }

    /// <summary>CPU time of this process and of Azurite (from /proc) per measured operation, for the log.</summary>
    private sealed class CpuMeter(int? serverPid)
    {
        public Dictionary<string, (double Client, double Server)> Totals { get; } = new(StringComparer.Ordinal);

        public bool MeasuresServer => serverPid is not null && OperatingSystem.IsLinux();

        public (double Client, double Server) Now()
        {
            using var self = Process.GetCurrentProcess();
            return (self.TotalProcessorTime.TotalMilliseconds, ServerMs());
        }

        public void Add(string what, (double Client, double Server) start)
        {
            var now = Now();
            var t = Totals.GetValueOrDefault(what);
            Totals[what] = (t.Client + now.Client - start.Client, t.Server + now.Server - start.Server);
        }

        private double ServerMs()
        {
            if (!MeasuresServer) return 0;
            try
            {
                // Fields 14 and 15 (utime, stime) in clock ticks, after the parenthesised command name.
                string stat = File.ReadAllText($"/proc/{serverPid}/stat");
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                return (long.Parse(fields[11], System.Globalization.CultureInfo.InvariantCulture) + long.Parse(fields[12], System.Globalization.CultureInfo.InvariantCulture)) * 10.0;
            }
            catch (IOException)
            {
                return 0;
            }
        }
    }

    private static string[] WriteFiles(string dir, long totalBytes, int count)
    {
        Directory.CreateDirectory(dir);
        long weights = (long)count * (count + 1) / 2;
        var paths = new string[count];
        long written = 0;
        for (int i = 0; i < count; i++)
        {
            long size = i == count - 1 ? totalBytes - written : totalBytes * (count - i) / weights;
            paths[i] = Path.Combine(dir, $"seg-{i:D6}.seg");
            WriteRandom(paths[i], size, i);
            written += size;
        }
        return paths;
    }

    private static void WriteRandom(string path, long size, int seed)
    {
        var random = new Random(seed);
        var buffer = new byte[1 << 20];
        using var f = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        for (long left = size; left > 0; left -= buffer.Length)
        {
            random.NextBytes(buffer);
            f.Write(buffer, 0, (int)Math.Min(buffer.Length, left));
        }
    }

    private static double Median(IEnumerable<double> values) => PlainTransfers.Median(values);

    private static void Log(string message) => Console.Error.WriteLine(message);
}
