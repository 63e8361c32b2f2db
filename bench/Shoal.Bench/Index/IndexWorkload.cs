using System.Diagnostics;
using Azure.Storage.Blobs;
using Microsoft.Extensions.Logging;
using Orleans;
using Shoal.Bench.Harness;
using Shoal.Bench.Snapshot;
using Shoal.Bench.Sparse;
using Shoal.Engine.Snapshots;
using Shoal.Grains.Contracts;
using Shoal.Grains.Jobs;
using Shoal.Grains.Shards;

namespace Shoal.Bench.Index;

/// <summary>
/// Indexing through the cluster, snapshot to blob storage and restore (issue 7): text-N (BM25) and
/// sparse-N (learned-sparse vectors, no text) are each indexed by an indexing job
/// (<see cref="IIndexJobGrain"/>: read in chunks, spilled to the store, built per shard) on a
/// one-silo cluster in this process whose snapshot store is Azurite. The cluster is then stopped, its local cache
/// dropped, and a new silo on the same container restores every shard; a few queries per index
/// must answer identically (ids and scores) before and after. In the same run, plain
/// Azure.Storage.Blobs uploads and downloads of the same segment files, and a local disk copy,
/// give the figures Shoal's snapshot and restore are compared with.
/// </summary>
/// <remarks>
/// <para><c>dotnet run -c Release --project bench/Shoal.Bench -- index [--docs 1000000] [--shards 4]
/// [--queries 200] [--check 20] [--rounds 3] [--seed 42] [--threads N] [--dir data/bench] [--work /tmp/...]
/// [--chunk-lines 0] [--connection-string ...] [--log-level warning] [--keep] [--data-only]</c></para>
/// <para>Data (<c>--dir</c>, reused when present with the same parameters): text-N as BEIR jsonl
/// (<see cref="TextBenchData"/>) and sparse-N as Anserini JSON vectors over bert-base-uncased's
/// vocabulary (<see cref="SparseJsonCorpus"/>). Without <c>--connection-string</c> an Azurite
/// (<c>azurite-blob</c>) is started with its data in the work directory.</para>
/// <para>Figures. <b>docs/s</b> per channel: documents over the wall clock from submitting the job
/// to the manifest being written (published); the time until every shard serves it is
/// reported too (the bench asks every shard, which loads it). <b>snapshot MB/s</b>: bytes the
/// cluster wrote under <c>indexes/</c> (segments, the sparse vocabulary, manifests) over the time
/// those uploads were in flight (the union of their intervals, so concurrent uploads count once and
/// the building between a job's shard uploads does not count), read from the silo's store through
/// <see cref="MeasuringSnapshotStore"/>; measured once (it is the indexing run's own snapshot).
/// <b>restore MB/s</b>: bytes a new silo with an empty cache downloaded over the wall clock from the
/// first call (index grains, then every shard's <c>GetInfoAsync</c>, all at once) to the last shard
/// serving, which includes listing versions, reading manifests, XXH3 verification and opening the
/// segments, not the silo's start-up; median of <c>--rounds</c> restores, each on a new silo.
/// <b>plain</b>: the same segment files, one after another, with <c>BlobClient.UploadAsync(path)</c>,
/// then <c>DownloadToAsync(path)</c> (no verification), then a local copy (<see cref="PlainTransfers"/>).
/// The plain upload figure pairs with the snapshot: it is taken right after each index serves, on
/// that index's files as the silo restored them after publishing (same bytes), so both see the same
/// moments of a shared machine; the plain download and disk copy figures pair with the restore: a
/// plain round follows each restore round, on the files it restored (medians; the paired ratios'
/// median is reported too). The restore fetches every shard at once, so each plain round also
/// uploads and downloads all files at once (one task per file) and those figures and ratios are
/// reported beside. Both paths are warmed up first (32 MB up and down each). Ratios are Shoal over
/// plain (the acceptance bar is 0.80). <b>peak RSS</b>: VmHWM of this process (anonymous memory and
/// touched pages of mapped segment files) during indexing (reset after data generation; it
/// includes the plain rounds that follow each index) and during each restore (after a full
/// garbage collection, reset before each, read before the silo stops). MB is 2^20 bytes.
/// <c>--data-only</c> generates the data files and stops.</para>
/// </remarks>
public sealed class IndexWorkload : IWorkload
{
    private const double MiB = 1 << 20;
    private const string TextIndex = "text";
    private const string SparseIndex = "sparse";
    private const string Container = "shoal-bench-index";

    /// <inheritdoc />
    public string Name => "index";

    /// <inheritdoc />
    public string Description => "text-1M and sparse-1M docs/s through indexing jobs on a cluster, snapshot to Azurite and restore MB/s vs plain Azure.Storage.Blobs and disk copy";

    /// <inheritdoc />
    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var a = new BenchArgs(args);
        var o = new Options(
            Docs: a.Int("docs", 1_000_000),
            Shards: a.Int("shards", 4),
            Queries: a.Int("queries", 200),
            Check: a.Int("check", 20),
            Rounds: a.Int("rounds", 3),
            Seed: a.Int("seed", 42),
            Threads: a.Int("threads", Environment.ProcessorCount),
            ChunkLines: a.Int("chunk-lines", 0),
            Dir: Path.GetFullPath(a.String("dir", Path.Combine("data", "bench"))),
            LogLevel: Enum.Parse<LogLevel>(a.String("log-level", "Warning"), ignoreCase: true));
        if (o.Docs < 1 || o.Shards < 1 || o.Queries < 1 || o.Check < 1 || o.Check > o.Queries || o.Rounds < 1 || o.Threads < 1)
            throw new ArgumentException("--docs, --shards, --queries, --rounds and --threads must be positive, and --check between 1 and --queries.");
        string connectionString = a.String("connection-string", "");
        bool keep = a.Flag("keep");
        string work = Path.GetFullPath(a.String("work", Path.Combine(Path.GetTempPath(), $"shoal-bench-index-{Environment.ProcessId}")));
        Directory.CreateDirectory(work);
        try
        {
            var data = PrepareData(o);
            if (a.Flag("data-only")) return 0;
            AzuriteProcess? azurite = null;
            if (connectionString.Length == 0)
            {
                azurite = await AzuriteProcess.StartAsync(Path.Combine(work, "azurite"), cancellationToken);
                connectionString = azurite.ConnectionString;
                Log($"started azurite-blob (pid {azurite.ProcessId}) with data in {Path.Combine(work, "azurite")}");
            }
            await using (azurite)
            {
                return await RunCoreAsync(o, data, connectionString, work, cancellationToken);
            }
        }
        finally
        {
            if (keep) Log($"kept {work}");
            else
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
    }

    private sealed record Options(int Docs, int Shards, int Queries, int Check, int Rounds, int Seed, int Threads, int ChunkLines, string Dir, LogLevel LogLevel);

    private sealed record BenchData(string TextCorpus, IReadOnlyList<(string Id, string Text)> TextQueries, string SparseCorpus, string Vocabulary, SparseBenchData.Csr SparseQueries, double PeakMb);

    private static BenchData PrepareData(Options o)
    {
        var clock = Stopwatch.StartNew();
        string scifact = RepoPaths.SharedData("scifact", "corpus.jsonl");
        string vocabularyPath = RepoPaths.SharedData("tokenizers", "bert-base-uncased-vocab.txt");
        foreach (var f in new[] { scifact, vocabularyPath })
            if (!File.Exists(f)) throw new InvalidOperationException($"'{f}' does not exist (the shared data beside the repository).");
        var vocabulary = TextBenchData.LoadVocabulary(scifact);
        var (text, textReused) = TextBenchData.EnsureCorpus(o.Dir, o.Docs, o.Seed, o.Threads, vocabulary, scifact);
        var textQueries = TextBenchData.Queries(o.Dir, o.Docs, o.Seed, o.Queries, vocabulary);
        Log($"text-{o.Docs}: {text} ({(textReused ? "reused" : "generated")}, {new FileInfo(text).Length / MiB:F0} MB, SciFact vocabulary of {vocabulary.Words.Length:N0} words), {clock.Elapsed.TotalSeconds:F1} s");
        clock.Restart();
        var (sparse, sparseReused) = SparseJsonCorpus.Ensure(o.Dir, o.Docs, o.Seed, o.Threads, vocabularyPath);
        var (queries, _) = SparseBenchData.LoadOrCreate(SparseBenchData.QueriesPath(o.Dir, o.Docs, o.Seed, o.Queries), documents: false, o.Queries, o.Seed, o.Threads);
        Log($"sparse-{o.Docs}: {sparse} ({(sparseReused ? "reused" : "generated")}, {new FileInfo(sparse).Length / MiB:F0} MB), {clock.Elapsed.TotalSeconds:F1} s");
        // Indexing's peak is measured from here: drop the generators' arrays first.
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        return new BenchData(text, textQueries, sparse, vocabularyPath, queries, ProcessMemory.PeakMb());
    }

    private static async Task<int> RunCoreAsync(Options o, BenchData data, string connectionString, string work, CancellationToken ct)
    {
        Log($"{o.Docs:N0} docs per index, {o.Shards} shards, {Environment.ProcessorCount} cores, snapshots to {new BlobContainerClient(connectionString, Container).Uri}");
        bool resettable = ProcessMemory.ResetPeak();
        if (!resettable) Log("cannot reset VmHWM here: peak RSS figures include data generation");
        Log($"RSS before indexing {ProcessMemory.CurrentMb():F0} MB (data generation peaked at {data.PeakMb:F0} MB)");

        var plainContainer = new BlobContainerClient(connectionString, "plain-bench");
        await plainContainer.CreateIfNotExistsAsync(cancellationToken: ct);
        string scratch = Path.Combine(work, "plain-scratch");

        // 1. Index both corpora on a fresh silo and remember a few answers. Right after each index
        // serves, its segment files (in the silo's cache) go through a plain round: the plain upload
        // figure is taken at the same moments of the shared machine as the snapshot.
        IndexRun text, sparse;
        Answers before;
        var plainAtSnapshot = new List<(long Bytes, PlainTransfers.Timings Times)>();
        string siloA = Path.Combine(work, "silo-a");
        await using (var cluster = await BlobCluster.StartAsync(connectionString, Container, siloA, o.LogLevel, ct, [o.Dir]))
        {
            await WarmUpAsync(cluster.Store.Inner, plainContainer, work, ct);
            text = await IndexTextAsync(cluster, o, data, ct);
            plainAtSnapshot.Add(await PlainRoundAsync(plainContainer, SegmentFiles(cluster, text), scratch, "text", ct));
            sparse = await IndexSparseAsync(cluster, o, data, ct);
            plainAtSnapshot.Add(await PlainRoundAsync(plainContainer, SegmentFiles(cluster, sparse), scratch, "sparse", ct));
            before = await AskAsync(cluster.Grains, o, data, ct);
        }
        double indexPeak = ProcessMemory.PeakMb();
        Directory.Delete(siloA, recursive: true);

        // 2. Restore, --rounds times: each round a new silo with an empty cache on the same container,
        // then a plain round (upload, download, disk copy) of the files it restored. The first
        // round's answers are checked against the ones before.
        var restores = new List<Restore>();
        double restorePeak = 0;
        var plainAtRestore = new List<(long Bytes, PlainTransfers.Timings Times)>();
        Answers? after = null;
        for (int r = 1; r <= o.Rounds; r++)
        {
            string silo = Path.Combine(work, $"silo-r{r}");
            // The previous silos' heaps go back to the OS first, so the peak is the restore's own.
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
            if (resettable) ProcessMemory.ResetPeak();
            double baseline = ProcessMemory.CurrentMb();
            var startClock = Stopwatch.StartNew();
            await using (var cluster = await BlobCluster.StartAsync(connectionString, Container, silo, o.LogLevel, ct, [o.Dir]))
            {
                Log($"restore round {r}: new silo started in {startClock.Elapsed.TotalSeconds:F1} s (RSS {baseline:F0} MB before it)");
                restores.Add(await RestoreAsync(cluster, [text, sparse]));
                after ??= await AskAsync(cluster.Grains, o, data, ct);
                restorePeak = Math.Max(restorePeak, ProcessMemory.PeakMb());
            }
            plainAtRestore.Add(await PlainRoundAsync(plainContainer, restores[^1].Files, scratch, $"restored, round {r}", ct));
            Directory.Delete(silo, recursive: true);
        }
        var (identical, compared, differences) = Compare(before, after!);
        Log($"restored answers: {compared} queries compared, {(identical ? "all identical (ids and scores)" : $"{differences} differ")}");

        double Mbs(long bytes, TimeSpan t) => bytes / MiB / t.TotalSeconds;
        var plain = new PlainFigures(
            Mbs(plainAtSnapshot.Sum(x => x.Bytes), TimeSpan.FromTicks(plainAtSnapshot.Sum(x => x.Times.Upload.Ticks))),
            PlainTransfers.Median(plainAtRestore.Select(x => Mbs(x.Bytes, x.Times.Download))),
            PlainTransfers.Median(plainAtRestore.Select(x => Mbs(x.Bytes, x.Times.DiskCopy))));
        double plainUploadLater = PlainTransfers.Median(plainAtRestore.Select(x => Mbs(x.Bytes, x.Times.Upload)));
        double plainUploadConcurrent = Mbs(plainAtSnapshot.Sum(x => x.Bytes), TimeSpan.FromTicks(plainAtSnapshot.Sum(x => x.Times.UploadConcurrent!.Value.Ticks)));
        double plainDownloadConcurrent = PlainTransfers.Median(plainAtRestore.Select(x => Mbs(x.Bytes, x.Times.DownloadConcurrent!.Value)));
        var restore = restores[0];
        double restoreMbS = PlainTransfers.Median(restores.Select(x => Mbs(x.Bytes, x.Time)));
        double restoreRatioPaired = PlainTransfers.Median(restores.Select((x, i) => Mbs(x.Bytes, x.Time) / Mbs(plainAtRestore[i].Bytes, plainAtRestore[i].Times.Download)));
        Log($"restore MB/s by round: {string.Join(", ", restores.Select(x => Mbs(x.Bytes, x.Time).ToString("F1", System.Globalization.CultureInfo.InvariantCulture)))}; "
            + $"paired ratios to plain download: {string.Join(", ", restores.Select((x, i) => (Mbs(x.Bytes, x.Time) / Mbs(plainAtRestore[i].Bytes, plainAtRestore[i].Times.Download)).ToString("F2", System.Globalization.CultureInfo.InvariantCulture)))}");

        double snapshotBytes = text.SnapshotBytes + sparse.SnapshotBytes;
        double snapshotSeconds = text.SnapshotTime.TotalSeconds + sparse.SnapshotTime.TotalSeconds;
        double snapshotMbS = snapshotBytes / MiB / snapshotSeconds;
        double peakMb = Math.Max(indexPeak, restorePeak);

        var report = new Report();
        report.Row($"text (BM25) docs/s, job, submit to published", Report.F(text.DocsPerSecond, 0), null, null, $"{text.Documents:N0} docs in {text.ToPublished.TotalSeconds:F1} s");
        report.Row($"sparse docs/s, job, submit to published", Report.F(sparse.DocsPerSecond, 0), null, null, $"{sparse.Documents:N0} docs in {sparse.ToPublished.TotalSeconds:F1} s");
        report.Row($"snapshot MB/s ({snapshotBytes / MiB:F0} MB: segments, vocab, manifests)", Report.F(snapshotMbS, 1),
            $"plain UploadAsync: {Report.F(plain.UploadMbS, 1)}", Report.F(snapshotMbS / plain.UploadMbS), ">= 0.80");
        report.Row($"restore MB/s ({restore.Bytes / MiB:F0} MB, {restore.Shards} shards to serving)", Report.F(restoreMbS, 1),
            $"plain DownloadToAsync: {Report.F(plain.DownloadMbS, 1)}", Report.F(restoreMbS / plain.DownloadMbS), ">= 0.80");
        report.Row("  same, plain with all files at once", null, $"upload {Report.F(plainUploadConcurrent, 1)}, download {Report.F(plainDownloadConcurrent, 1)}",
            $"{Report.F(snapshotMbS / plainUploadConcurrent)} / {Report.F(restoreMbS / plainDownloadConcurrent)}");
        report.Row("local disk copy MB/s", null, $"disk copy: {Report.F(plain.DiskCopyMbS, 1)}");
        report.Row("snapshot / restore vs disk copy", $"{Report.F(snapshotMbS / plain.DiskCopyMbS)} / {Report.F(restoreMbS / plain.DiskCopyMbS)}");
        report.Row("peak RSS MB, indexing / restore", $"{Report.F(indexPeak, 0)} / {Report.F(restorePeak, 0)}");
        report.Row($"restored answers identical ({compared} queries)", identical ? "yes" : $"NO ({differences} differ)");

        report.Result("docs", o.Docs);
        report.Result("shards", o.Shards);
        report.Result("text_docs_per_s", text.DocsPerSecond);
        report.Result("sparse_docs_per_s", sparse.DocsPerSecond);
        report.Result("text_index_s", text.ToPublished.TotalSeconds);
        report.Result("sparse_index_s", sparse.ToPublished.TotalSeconds);
        report.Result("text_serving_s", text.ToServing.TotalSeconds);
        report.Result("sparse_serving_s", sparse.ToServing.TotalSeconds);
        report.Result("snapshot_mb", snapshotBytes / MiB);
        report.Result("snapshot_mb_s", snapshotMbS);
        report.Result("text_snapshot_mb_s", text.SnapshotBytes / MiB / text.SnapshotTime.TotalSeconds);
        report.Result("sparse_snapshot_mb_s", sparse.SnapshotBytes / MiB / sparse.SnapshotTime.TotalSeconds);
        report.Result("restore_mb", restore.Bytes / MiB);
        report.Result("restore_s", PlainTransfers.Median(restores.Select(x => x.Time.TotalSeconds)));
        report.Result("restore_mb_s", restoreMbS);
        report.Result("plain_upload_mb_s", plain.UploadMbS);
        report.Result("plain_download_mb_s", plain.DownloadMbS);
        report.Result("disk_copy_mb_s", plain.DiskCopyMbS);
        report.Result("snapshot_ratio", snapshotMbS / plain.UploadMbS);
        report.Result("restore_ratio", restoreMbS / plain.DownloadMbS);
        report.Result("restore_ratio_paired_median", restoreRatioPaired);
        report.Result("plain_upload_concurrent_mb_s", plainUploadConcurrent);
        report.Result("plain_download_concurrent_mb_s", plainDownloadConcurrent);
        report.Result("snapshot_ratio_vs_concurrent", snapshotMbS / plainUploadConcurrent);
        report.Result("restore_ratio_vs_concurrent", restoreMbS / plainDownloadConcurrent);
        report.Result("plain_upload_after_restore_mb_s", plainUploadLater);
        report.Result("rounds", o.Rounds);
        report.Result("peak_rss_mb", peakMb);
        report.Result("peak_rss_index_mb", indexPeak);
        report.Result("peak_rss_restore_mb", restorePeak);
        report.Result("peak_rss_generate_mb", data.PeakMb);
        report.Result("queries_checked", compared);
        report.Result("restored_identical", identical);
        report.Print(Console.Out);
        return identical ? 0 : 1;
    }

    /// <summary>What indexing one corpus gave: documents, times and the snapshot's bytes and upload time.</summary>
    internal sealed record IndexRun(string Index, long Version, int Shards, long Documents, TimeSpan ToPublished, TimeSpan ToServing, long SnapshotBytes, TimeSpan SnapshotTime)
    {
        public double DocsPerSecond => Documents / ToPublished.TotalSeconds;

        /// <summary>The job's reading rate (documents over the time spent reading and spilling chunks).</summary>
        public double ReadDocsPerSecond { get; init; }
    }

    private static Task<IndexRun> IndexTextAsync(BlobCluster cluster, Options o, BenchData data, CancellationToken ct) =>
        IndexByJobAsync(cluster, "text", new IndexJobRequest
        {
            Index = TextIndex, Source = data.TextCorpus, Format = "beir", Shards = o.Shards, ChunkLines = o.ChunkLines, OnMalformed = "stop",
        }, ct);

    /// <summary>
    /// sparse-N through an indexing job with a sparse vector source only (no text): the job reads the
    /// Anserini JSON vectors in chunks and spills them, so the corpus is never held in memory whole.
    /// </summary>
    private static Task<IndexRun> IndexSparseAsync(BlobCluster cluster, Options o, BenchData data, CancellationToken ct) =>
        IndexByJobAsync(cluster, "sparse", new IndexJobRequest
        {
            Index = SparseIndex, SparseVectors = data.SparseCorpus, SparseVocabulary = data.Vocabulary, Shards = o.Shards, ChunkLines = o.ChunkLines, OnMalformed = "stop",
        }, ct);

    /// <summary>
    /// Submits an indexing job, follows its phases until it ends, checks that every shard serves the
    /// published version with all documents, and measures publish time and the snapshot's uploads.
    /// </summary>
    internal static async Task<IndexRun> IndexByJobAsync(BlobCluster cluster, string what, IndexJobRequest request, CancellationToken ct)
    {
        string jobId = IndexJobIds.New();
        var job = cluster.Grains.GetGrain<IIndexJobGrain>(jobId);
        long start = Stopwatch.GetTimestamp();
        var status = await job.SubmitAsync(request);
        string phase = "";
        while (!status.IsFinished)
        {
            await Task.Delay(100, ct);
            status = await job.GetStatusAsync() ?? throw new InvalidOperationException($"{what} job {jobId} vanished");
            if (status.Phase != phase)
            {
                phase = status.Phase;
                Log($"  {what} job {jobId}: {phase} at {Stopwatch.GetElapsedTime(start).TotalSeconds:F1} s ({status.DocumentsRead:N0} docs read, {status.Chunks} chunks, {status.ShardsBuilt} shards built, RSS {ProcessMemory.CurrentMb():F0} MB)");
            }
        }
        if (status.State != IndexJobState.Succeeded) throw new InvalidOperationException($"{what} job {jobId} ended {status.State}: {status.Error}");
        if (status.Malformed > 0) throw new InvalidOperationException($"{what} job {jobId} skipped {status.Malformed} malformed lines (first: line {status.MalformedLines[0].Line}, {status.MalformedLines[0].Reason})");
        // The job's "activating" step does not load shards whose index grain activated after the
        // publish (it then already knows the version); they would restore on the first query.
        // Serving means every shard loaded: ask them all.
        await ServeAsync(cluster.Grains, request.Index, status.Version!.Value, request.Shards, status.DocumentsIndexed);
        var serving = Stopwatch.GetElapsedTime(start);
        var run = Measure(cluster, request.Index, status.Version!.Value, request.Shards, status.DocumentsIndexed, start, serving) with { ReadDocsPerSecond = status.DocsPerSecond };
        var spills = cluster.Store.Transfers.Where(t => t.Key.StartsWith($"jobs/spill/{jobId}/", StringComparison.Ordinal)).ToList();
        var uploads = cluster.Store.Transfers.Where(t => t.Upload && t.Key.StartsWith(SnapshotCatalog.VersionPrefix(request.Index, run.Version), StringComparison.Ordinal)).ToList();
        Log($"  {what}: {run.Documents:N0} docs published in {run.ToPublished.TotalSeconds:F1} s ({run.DocsPerSecond:F0} docs/s; reading {status.DocsPerSecond:F0} docs/s), serving at {serving.TotalSeconds:F1} s; "
            + $"snapshot {run.SnapshotBytes / MiB:F1} MB in {run.SnapshotTime.TotalSeconds:F2} s of uploads (upload phase {Stopwatch.GetElapsedTime(uploads.Min(t => t.Start), uploads.Max(t => t.End)).TotalSeconds:F2} s wall); "
            + $"job spills {spills.Where(t => t.Upload).Sum(t => t.Bytes) / MiB:F0} MB up, {spills.Where(t => !t.Upload).Sum(t => t.Bytes) / MiB:F0} MB down");
        return run;
    }

    /// <summary>
    /// Activates (or asks) the shard replicas <paramref name="keys"/> and waits until none is still
    /// restoring and each serves its version (a shard activates at once and restores in the
    /// background); their descriptions then.
    /// </summary>
    internal static async Task<ShardInfo[]> WaitServingAsync(IGrainFactory grains, IReadOnlyList<(string Key, long Version)> keys, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var infos = await Task.WhenAll(keys.Select(k => grains.GetGrain<IShardGrain>(k.Key).GetInfoAsync()));
            if (infos.Zip(keys).All(x => !x.First.Restoring && x.First.Version >= x.Second.Version)) return infos;
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"{infos.Count(i => i.Restoring)} of {keys.Count} shards still restoring after {timeout.TotalSeconds:F0} s");
            await Task.Delay(100);
        }
    }

    /// <summary>Activates (or asks) every shard of an index, waits for their restores, and checks that together they serve <paramref name="version"/> with all documents.</summary>
    internal static async Task<ShardInfo[]> ServeAsync(IGrainFactory grains, string index, long version, int shards, long documents)
    {
        var infos = await WaitServingAsync(grains, [.. Enumerable.Range(0, shards).Select(s => (ShardGrain.KeyOf(index, s), version))], TimeSpan.FromMinutes(30));
        if (infos.FirstOrDefault(i => i.Version != version) is { } stale) throw new InvalidOperationException($"index {index}: shard {stale.Shard} serves version {stale.Version}, not {version}");
        if (infos.Sum(i => i.DocCount) != documents) throw new InvalidOperationException($"index {index}: shards hold {infos.Sum(i => i.DocCount)} documents, not {documents}");
        return infos;
    }

    /// <summary>Publish time and snapshot figures of <paramref name="index"/> version <paramref name="version"/>, from the silo's store.</summary>
    private static IndexRun Measure(BlobCluster cluster, string index, long version, int shards, long documents, long start, TimeSpan serving)
    {
        if (documents <= 0) throw new InvalidOperationException($"index {index} has no documents");
        string manifestKey = SnapshotCatalog.ManifestKey(index, version);
        var uploads = cluster.Store.Transfers.Where(t => t.Upload && t.Key.StartsWith(SnapshotCatalog.VersionPrefix(index, version), StringComparison.Ordinal)).ToList();
        var manifest = uploads.SingleOrDefault(t => t.Key == manifestKey) ?? throw new InvalidOperationException($"{manifestKey} was not written through the silo's store");
        var (bytes, busy, _, _) = MeasuringSnapshotStore.Summarize(uploads);
        return new IndexRun(index, version, shards, documents, Stopwatch.GetElapsedTime(start, manifest.End), serving, bytes, busy);
    }

    /// <summary>What the restore gave: bytes downloaded, wall time to every shard serving, and the restored files.</summary>
    private sealed record Restore(long Bytes, TimeSpan Time, int Shards, IReadOnlyList<string> Files);

    private static async Task<Restore> RestoreAsync(BlobCluster cluster, IndexRun[] runs)
    {
        var clock = Stopwatch.StartNew();
        long start = Stopwatch.GetTimestamp();
        var infos = await Task.WhenAll(runs.Select(r => cluster.Grains.GetGrain<IIndexGrain>(r.Index).GetInfoAsync()));
        var shards = runs.Zip(infos).SelectMany(x =>
        {
            var (run, info) = x;
            if (info is null || info.Version != run.Version) throw new InvalidOperationException($"index {run.Index}: restored version {info?.Version} is not {run.Version}");
            return Enumerable.Range(0, info.ShardCount * info.Replicas).Select(i => (run, Key: ShardGrain.KeyOf(run.Index, i / info.Replicas, i % info.Replicas)));
        }).ToArray();
        var shardInfos = await WaitServingAsync(cluster.Grains, [.. shards.Select(s => (s.Key, s.run.Version))], TimeSpan.FromMinutes(30));
        var time = clock.Elapsed;
        // Already active now: this only checks versions and document counts.
        foreach (var run in runs) await ServeAsync(cluster.Grains, run.Index, run.Version, run.Shards, run.Documents);
        var downloads = cluster.Store.Transfers.Where(t => !t.Upload && t.LocalPath is not null && t.Start >= start && t.Key.StartsWith("indexes/", StringComparison.Ordinal)).ToList();
        var (bytes, busy, _, _) = MeasuringSnapshotStore.Summarize(downloads);
        long expected = shardInfos.Sum(i => i.SegmentBytes);
        Log($"  restore: {shards.Length} shards serving in {time.TotalSeconds:F2} s; {downloads.Count} segment files, {bytes / MiB:F1} MB downloaded and verified "
            + $"({busy.TotalSeconds:F2} s of downloads in flight; shards report {expected / MiB:F1} MB of segments)");
        if (downloads.Count == 0) throw new InvalidOperationException("the new silo downloaded nothing: the restore did not come from the blob store");
        return new Restore(bytes, time, shards.Length, [.. downloads.Select(t => t.LocalPath!).Distinct()]);
    }

    /// <summary>Top-k (ids and scores) of the check queries: text through bm25, sparse approximate and exact.</summary>
    private sealed record Answers(IReadOnlyList<(string Query, Hit[] Hits)> Results);

    private static async Task<Answers> AskAsync(IGrainFactory grains, Options o, BenchData data, CancellationToken ct)
    {
        var coordinator = grains.GetGrain<IQueryCoordinatorGrain>(0);
        var results = new List<(string, Hit[])>();
        async Task Ask(string name, SearchRequest request)
        {
            var response = await coordinator.SearchAsync(request, ct);
            if (response.Status != SearchStatus.Ok || response.Coverage.Partial)
                throw new InvalidOperationException($"{name}: {response.Status} {response.Error} (answered {response.Coverage.Answered}/{response.Coverage.Shards} shards)");
            results.Add((name, response.Hits));
        }
        foreach (var (id, text) in data.TextQueries.Take(o.Check))
            await Ask($"text {id} '{text}'", new SearchRequest { Index = TextIndex, Text = text, K = 10, IncludeStored = false });
        for (int q = 0; q < o.Check; q++)
        {
            var v = data.SparseQueries.Row(q);
            foreach (bool exact in new[] { false, true })
                await Ask($"sparse q{q} {(exact ? "exact" : "approximate")}", new SearchRequest
                {
                    Index = SparseIndex, K = 10, IncludeStored = false,
                    Sparse = new SparseQuerySpec { TermIds = v.Terms, Weights = v.Weights, Exact = exact },
                });
        }
        if (results.All(r => r.Item2.Length == 0)) throw new InvalidOperationException("no check query found anything");
        return new Answers(results);
    }

    private static (bool Identical, int Compared, int Differences) Compare(Answers before, Answers after)
    {
        int differences = 0;
        for (int i = 0; i < before.Results.Count; i++)
        {
            var (name, x) = before.Results[i];
            var y = after.Results[i].Hits;
            bool same = x.Length == y.Length && x.Zip(y).All(p => p.First.Id == p.Second.Id && BitConverter.SingleToInt32Bits(p.First.Score) == BitConverter.SingleToInt32Bits(p.Second.Score));
            if (same) continue;
            differences++;
            if (differences <= 5)
                Log($"  differs: {name}: before [{string.Join(", ", x.Select(h => $"{h.Id}:{h.Score:R}"))}] after [{string.Join(", ", y.Select(h => $"{h.Id}:{h.Score:R}"))}]");
        }
        return (differences == 0, before.Results.Count, differences);
    }

    private sealed record PlainFigures(double UploadMbS, double DownloadMbS, double DiskCopyMbS);

    /// <summary>The segment files of a version that the silo restored into its cache (activation after publish).</summary>
    private static IReadOnlyList<string> SegmentFiles(BlobCluster cluster, IndexRun run)
    {
        var files = cluster.Store.Transfers
            .Where(t => !t.Upload && t.LocalPath is not null && t.Key.StartsWith(SnapshotCatalog.VersionPrefix(run.Index, run.Version), StringComparison.Ordinal))
            .Select(t => t.LocalPath!).Distinct().ToList();
        if (files.Count == 0) throw new InvalidOperationException($"index {run.Index}: no segment file in the silo's cache");
        return files;
    }

    private static async Task<(long Bytes, PlainTransfers.Timings Times)> PlainRoundAsync(BlobContainerClient container, IReadOnlyList<string> files, string scratch, string what, CancellationToken ct)
    {
        long total = files.Sum(f => new FileInfo(f).Length);
        var t = await PlainTransfers.RoundAsync(container, files, "plain/", scratch, ct, concurrent: true);
        Log($"  plain ({what}): {files.Count} files, {total / MiB:F1} MB: upload {total / MiB / t.Upload.TotalSeconds:F1} (all at once {total / MiB / t.UploadConcurrent!.Value.TotalSeconds:F1}), "
            + $"download {total / MiB / t.Download.TotalSeconds:F1} (all at once {total / MiB / t.DownloadConcurrent!.Value.TotalSeconds:F1}), disk copy {total / MiB / t.DiskCopy.TotalSeconds:F1} MB/s");
        return (total, t);
    }

    /// <summary>
    /// JIT and connection warm-up of both paths before anything is measured (a long-running silo is
    /// warm): 32 MB of random bytes up and down through Shoal's store (outside <c>indexes/</c>, so not
    /// counted) and through plain Azure.Storage.Blobs.
    /// </summary>
    private static async Task WarmUpAsync(ISnapshotStore store, BlobContainerClient plain, string work, CancellationToken ct)
    {
        string file = Path.Combine(work, "warm-up.bin");
        var bytes = new byte[32 << 20];
        new Random(7).NextBytes(bytes);
        await File.WriteAllBytesAsync(file, bytes, ct);
        await store.UploadFileAsync("bench-warm-up/file", file, ct);
        await store.DownloadFileAsync("bench-warm-up/file", file + ".shoal", null, ct);
        await store.DeletePrefixAsync("bench-warm-up/", ct);
        await PlainTransfers.RoundAsync(plain, [file], "warm-up/", Path.Combine(work, "warm-up"), ct);
        File.Delete(file);
        File.Delete(file + ".shoal");
    }

    private static void Log(string message) => Console.Error.WriteLine(message);
}
