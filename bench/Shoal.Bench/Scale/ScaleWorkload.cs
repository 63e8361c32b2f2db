using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Azure.Storage.Blobs;
using Microsoft.Extensions.Logging;
using Orleans;
using Shoal.Engine.Ingest;
using Shoal.Bench.Harness;
using Shoal.Bench.Index;
using Shoal.Bench.Snapshot;
using Shoal.Bench.Sparse;
using Shoal.Engine.Snapshots;
using Shoal.Grains.Contracts;
using Shoal.Grains.Jobs;
using Shoal.Grains.Shards;

namespace Shoal.Bench.Scale;

/// <summary>
/// How cost grows with the corpus (issue 18): for each N of <c>--sizes</c> (default 1M, 3M, 10M)
/// and each channel, learned sparse (SPLADE statistics of <see cref="SparseBenchData"/>, from a
/// SHOALSPV binary source, <see cref="SparseBinaryCorpus"/>) and BM25 text (<see cref="TextBenchData"/>,
/// MS MARCO passage length over a Zipf vocabulary), N documents go through an indexing job on a
/// one-silo cluster whose snapshot store is Azurite (<see cref="BlobCluster"/>); then a new silo
/// restores both indexes from the store and serves the queries. Printed per N: job wall time and
/// documents/s (and the job's reading rate), peak RSS while indexing (per channel) and while
/// restoring and serving, index bytes per document, snapshot upload time, restore time beside a
/// plain blob download of the same bytes, and query latency p50/p99 one query at a time and
/// queries/s with every core busy: BM25, sparse exact, and sparse approximate at the cheapest
/// (query term cut, heap factor) whose recall@10 against the engine's exact mode is at least
/// <c>--recall</c> (0.95). At N = 1M (<c>--scipy-at</c>) the exact answers of a sample of queries are
/// checked against SciPy (bench/peers/scipy_sparse.py on the same documents). Then the growth from
/// the first to the last N of each figure beside the corpus ratio, and <c>RESULT {json}</c>.
/// </summary>
/// <remarks>
/// <para><c>dotnet run -c Release --project bench/Shoal.Bench -- scale [--sizes 1000000,3000000,10000000]
/// [--shard-docs 1000000] [--queries 200] [--recall 0.95] [--scipy-at 1000000] [--scipy-sample 20]
/// [--channels sparse,text] [--seed 42] [--threads N] [--dir /work/scale-data] [--work DIR] [--chunk-lines 0]
/// [--passes 3] [--connection-string ...] [--log-level warning] [--data-only]</c></para>
/// <para><b>Shard size.</b> Shards hold a fixed number of documents (<c>--shard-docs</c>, 1M by
/// default), so the shard count grows with N (1, 3, 10 shards for 1M, 3M, 10M; 138 for MS MARCO
/// v2). That is how a deployment grows: a shard is the unit that is built, uploaded, restored and
/// moved between silos, and a job builds one shard at a time, so the memory of indexing is bounded
/// by one shard's build whatever the corpus (the bar the issue sets) and a restore is as parallel as
/// the shard count. Keeping shards the same size also keeps each shard's Seismic structure the same
/// (postings per term, blocks) so per-shard query cost and recall stay comparable across N, and the
/// growth of latency measures fan-out, which a capacity plan needs. 1M documents is the largest
/// shard whose sparse build (~1.2 GB of vectors plus the Seismic build) fits comfortably beside
/// the other work of a 2-core, 24 GB machine, and the smallest that keeps MS MARCO v2 under 150 shards.</para>
/// <para>Data files (<c>--dir</c>) are generated once and reused when their parameters match; they are
/// not part of the repository. Peak RSS is VmHWM of this process (<see cref="ProcessMemory"/>),
/// reset before each job and before the restoring silo starts, after a full garbage collection.</para>
/// </remarks>
public sealed class ScaleWorkload : IWorkload
{
    private const double MiB = 1 << 20;
    private const string TextIndex = "text";
    private const string SparseIndex = "sparse";

    /// <inheritdoc />
    public string Name => "scale";

    /// <inheritdoc />
    public string Description => "cost growth from 1M to 10M documents: job docs/s, peak RSS, bytes/doc, restore vs plain download, latency at recall 0.95";

    private sealed record Options(int[] Sizes, int ShardDocs, int Queries, double Recall, int ScipyAt, int ScipySample, bool Sparse, bool Text,
        int Seed, int Threads, int ChunkLines, int Passes, string Dir, LogLevel LogLevel);

    /// <inheritdoc />
    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var a = new BenchArgs(args);
        var channels = a.String("channels", "sparse,text").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var o = new Options(
            Sizes: [.. a.String("sizes", "1000000,3000000,10000000").Split(',', StringSplitOptions.RemoveEmptyEntries).Select(x => int.Parse(x.Trim(), CultureInfo.InvariantCulture))],
            ShardDocs: a.Int("shard-docs", 1_000_000),
            Queries: a.Int("queries", 200),
            Recall: a.Double("recall", 0.95),
            ScipyAt: a.Int("scipy-at", 1_000_000),
            ScipySample: a.Int("scipy-sample", 20),
            Sparse: channels.Contains("sparse"),
            Text: channels.Contains("text"),
            Seed: a.Int("seed", 42),
            Threads: a.Int("threads", Environment.ProcessorCount),
            ChunkLines: a.Int("chunk-lines", 0),
            Passes: Math.Max(1, a.Int("passes", 3)),
            Dir: Path.GetFullPath(a.String("dir", Path.Combine("data", "scale"))),
            LogLevel: Enum.Parse<LogLevel>(a.String("log-level", "Warning"), ignoreCase: true));
        if (o.Sizes.Length == 0 || o.Sizes.Any(n => n < 1) || o.ShardDocs < 1 || o.Queries < 1 || o.Threads < 1 || o.ScipySample < 1 || o.ScipySample > o.Queries)
            throw new ArgumentException("--sizes, --shard-docs, --queries and --threads must be positive, and --scipy-sample between 1 and --queries.");
        if (!o.Sparse && !o.Text) throw new ArgumentException("--channels must name sparse and/or text.");
        string connectionString = a.String("connection-string", "");
        string work = Path.GetFullPath(a.String("work", Path.Combine(Path.GetTempPath(), $"shoal-bench-scale-{Environment.ProcessId}")));
        Directory.CreateDirectory(work);
        try
        {
            var data = o.Sizes.Select(n => PrepareData(o, n)).ToList();
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
                var runs = new List<SizeRun>();
                foreach (var d in data)
                {
                    // A run whose Azurite died would wait on blob retries forever: stop it with the reason.
                    var run = RunSizeAsync(o, d, connectionString, work, cancellationToken);
                    if (azurite is not null && await Task.WhenAny(run, azurite.Exited) != run)
                        throw new InvalidOperationException($"The {d.Docs:N0}-document run cannot go on: {azurite.DescribeExit()}.");
                    runs.Add(await run);
                    // Each size's figures as soon as they are known (a long run stopped later keeps them).
                    Log("SIZE " + JsonSerializer.Serialize(RunFigures(runs[^1])));
                }
                return Print(o, runs);
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

    // ------------------------------------------------------------------ data

    private sealed record SizeData(int Docs, string? TextCorpus, IReadOnlyList<(string Id, string Text)> TextQueries, string? SparseCorpus,
        SparseBenchData.Csr SparseQueries, string Vocabulary);

    private static SizeData PrepareData(Options o, int docs)
    {
        var clock = Stopwatch.StartNew();
        string scifact = RepoPaths.SharedData("scifact", "corpus.jsonl");
        string vocabularyPath = RepoPaths.SharedData("tokenizers", "bert-base-uncased-vocab.txt");
        foreach (var f in new[] { scifact, vocabularyPath })
            if (!File.Exists(f)) throw new InvalidOperationException($"'{f}' does not exist (the shared data beside the repository).");
        string? text = null;
        IReadOnlyList<(string, string)> textQueries = [];
        if (o.Text)
        {
            var vocabulary = TextBenchData.LoadVocabulary(scifact);
            (text, bool reused) = TextBenchData.EnsureCorpus(o.Dir, docs, o.Seed, o.Threads, vocabulary, scifact);
            textQueries = TextBenchData.Queries(o.Dir, docs, o.Seed, o.Queries, vocabulary);
            Log($"text-{docs}: {text} ({(reused ? "reused" : "generated")}, {new FileInfo(text).Length / MiB:F0} MB), {clock.Elapsed.TotalSeconds:F1} s");
            clock.Restart();
        }
        string? sparse = null;
        if (o.Sparse)
        {
            (sparse, bool reused) = SparseBinaryCorpus.Ensure(o.Dir, docs, o.Seed, o.Threads);
            Log($"sparse-{docs}: {sparse} ({(reused ? "reused" : "generated")}, {new FileInfo(sparse).Length / MiB:F0} MB), {clock.Elapsed.TotalSeconds:F1} s");
        }
        var (queries, _) = SparseBenchData.LoadOrCreate(SparseBenchData.QueriesPath(o.Dir, docs, o.Seed, o.Queries), documents: false, o.Queries, o.Seed, o.Threads);
        return new SizeData(docs, text, textQueries, sparse, queries, vocabularyPath);
    }

    // ------------------------------------------------------------------ one size

    /// <summary>Latency of a query set: p50 and p99 one at a time (ms), and queries/s with every core busy.</summary>
    private sealed record Latency(double P50, double P99, double Qps);

    /// <summary>A channel's figures at one N.</summary>
    private sealed record ChannelRun(string Channel, long Documents, int Shards, double JobSeconds, double DocsPerSecond, double ReadDocsPerSecond,
        double PeakIndexMb, double IndexBytesPerDoc, long SnapshotBytes, double SnapshotSeconds);

    /// <summary>The approximate configuration chosen for the recall target.</summary>
    private sealed record Approximate(int Cut, double HeapFactor, double Recall, Latency Latency, bool Reached);

    private sealed record SizeRun(int Docs, ChannelRun? Text, ChannelRun? Sparse, double PeakIndexMb, double PeakServeMb, double RestoreSeconds, long RestoreBytes,
        double PlainDownloadSeconds, double PlainDownloadConcurrentSeconds, Latency? Bm25, Latency? Exact, Approximate? Approx, double? ScipyAgreement);

    private static async Task<SizeRun> RunSizeAsync(Options o, SizeData data, string connectionString, string work, CancellationToken ct)
    {
        int shards = (int)Math.Max(1, (data.Docs + (long)o.ShardDocs - 1) / o.ShardDocs);
        string container = $"shoal-scale-{data.Docs}";
        Log($"=== N = {data.Docs:N0}: {shards} shard(s) of <= {o.ShardDocs:N0} documents per index, {Environment.ProcessorCount} cores");
        var blobs = new BlobContainerClient(connectionString, container);
        await blobs.DeleteIfExistsAsync(cancellationToken: ct);
        var plainContainer = new BlobContainerClient(connectionString, "plain-scale");
        await plainContainer.CreateIfNotExistsAsync(cancellationToken: ct);

        // 1. Index on a fresh silo, each channel by its own job, peak RSS per job.
        ChannelRun? text = null, sparse = null;
        IndexWorkload.IndexRun? textRun = null, sparseRun = null;
        string siloA = Path.Combine(work, $"silo-index-{data.Docs}");
        await using (var cluster = await BlobCluster.StartAsync(connectionString, container, siloA, o.LogLevel, ct, [o.Dir]))
        {
            if (data.TextCorpus is not null)
            {
                (text, textRun) = await IndexAsync(cluster, "text", new IndexJobRequest
                {
                    Index = TextIndex, Source = data.TextCorpus, Format = "beir", Shards = shards, ChunkLines = o.ChunkLines, OnMalformed = "stop",
                }, ct);
            }
            if (data.SparseCorpus is not null)
            {
                (sparse, sparseRun) = await IndexAsync(cluster, "sparse", new IndexJobRequest
                {
                    Index = SparseIndex, SparseVectors = data.SparseCorpus, SparseVocabulary = data.Vocabulary, Shards = shards, ChunkLines = o.ChunkLines, OnMalformed = "stop",
                }, ct);
            }
        }
        Directory.Delete(siloA, recursive: true);
        double peakIndex = Math.Max(text?.PeakIndexMb ?? 0, sparse?.PeakIndexMb ?? 0);

        // 2. Restore on a new silo with an empty cache, then serve the queries there.
        var runs = new[] { textRun, sparseRun }.OfType<IndexWorkload.IndexRun>().ToArray();
        Collect();
        ProcessMemory.ResetPeak();
        string siloB = Path.Combine(work, $"silo-serve-{data.Docs}");
        Latency? bm25 = null, exact = null;
        Approximate? approx = null;
        double? scipy = null;
        double restoreSeconds;
        long restoreBytes;
        IReadOnlyList<string> restoredFiles;
        double peakServe;
        await using (var cluster = await BlobCluster.StartAsync(connectionString, container, siloB, o.LogLevel, ct, [o.Dir]))
        {
            (restoreSeconds, restoreBytes, restoredFiles) = await RestoreAsync(cluster, runs);
            var coordinator = cluster.Grains.GetGrain<IQueryCoordinatorGrain>(0);
            if (text is not null)
            {
                var requests = data.TextQueries.Select(q => new SearchRequest { Index = TextIndex, Text = q.Text, K = 10, IncludeStored = false, DeadlineMs = 60_000 }).ToArray();
                (bm25, _) = await MeasureAsync(coordinator, requests, o, ct);
                Log($"  bm25: p50 {bm25.P50:F2} ms, p99 {bm25.P99:F2} ms, {bm25.Qps:F0} q/s with {Environment.ProcessorCount} cores");
            }
            if (sparse is not null)
            {
                var requests = Enumerable.Range(0, o.Queries).Select(q => SparseRequest(data.SparseQueries, q, exact: true, 0, 0)).ToArray();
                (exact, var truth) = await MeasureAsync(coordinator, requests, o, ct);
                Log($"  sparse exact: p50 {exact.P50:F2} ms, p99 {exact.P99:F2} ms, {exact.Qps:F0} q/s");
                approx = await TuneApproximateAsync(coordinator, data, truth, o, ct);
                Log($"  sparse approximate (cut {approx.Cut}, heap factor {approx.HeapFactor}): recall@10 {approx.Recall:F4}{(approx.Reached ? "" : " (target NOT reached)")}, "
                    + $"p50 {approx.Latency.P50:F2} ms, p99 {approx.Latency.P99:F2} ms, {approx.Latency.Qps:F0} q/s");
                // Serving's peak is read before the check, which generates the documents in this process.
                peakServe = ProcessMemory.PeakMb();
                if (data.Docs == o.ScipyAt) scipy = await ScipyCheckAsync(o, data, truth, ct);
            }
            else peakServe = ProcessMemory.PeakMb();
        }

        // 3. A plain download of the same bytes, file after file and all at once.
        var plain = await PlainTransfers.RoundAsync(plainContainer, restoredFiles, "plain/", Path.Combine(work, "plain-scratch"), ct, concurrent: true);
        Log($"  plain round: {restoreBytes / MiB:F0} MB, download {plain.Download.TotalSeconds:F1} s ({restoreBytes / MiB / plain.Download.TotalSeconds:F0} MB/s), "
            + $"all at once {plain.DownloadConcurrent!.Value.TotalSeconds:F1} s; restore {restoreSeconds:F1} s ({restoreBytes / MiB / restoreSeconds:F0} MB/s)");
        Directory.Delete(siloB, recursive: true);
        // The next size starts from an empty Azurite (disk) and a collected heap.
        await blobs.DeleteIfExistsAsync(cancellationToken: ct);
        Collect();
        return new SizeRun(data.Docs, text, sparse, peakIndex, peakServe, restoreSeconds, restoreBytes, plain.Download.TotalSeconds,
            plain.DownloadConcurrent!.Value.TotalSeconds, bm25, exact, approx, scipy);
    }

    private static void Collect() => GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);

    private static async Task<(ChannelRun, IndexWorkload.IndexRun)> IndexAsync(BlobCluster cluster, string what, IndexJobRequest request, CancellationToken ct)
    {
        Collect();
        ProcessMemory.ResetPeak();
        double before = ProcessMemory.CurrentMb();
        var run = await IndexWorkload.IndexByJobAsync(cluster, what, request, ct);
        double peak = ProcessMemory.PeakMb();
        var infos = await IndexWorkload.ServeAsync(cluster.Grains, run.Index, run.Version, run.Shards, run.Documents);
        double reading = run.ReadDocsPerSecond;
        var channel = new ChannelRun(what, run.Documents, run.Shards, run.ToPublished.TotalSeconds, run.DocsPerSecond, reading, peak,
            (double)infos.Sum(i => i.SegmentBytes) / run.Documents, run.SnapshotBytes, run.SnapshotTime.TotalSeconds);
        Log($"  {what}: peak RSS {peak:F0} MB while indexing (RSS {before:F0} MB before the job), {channel.IndexBytesPerDoc:F0} index bytes/doc, reading {reading:F0} docs/s");
        return (channel, run);
    }

    private static async Task<(double Seconds, long Bytes, IReadOnlyList<string> Files)> RestoreAsync(BlobCluster cluster, IndexWorkload.IndexRun[] runs)
    {
        long start = Stopwatch.GetTimestamp();
        var infos = await Task.WhenAll(runs.Select(r => cluster.Grains.GetGrain<IIndexGrain>(r.Index).GetInfoAsync()));
        var keys = runs.Zip(infos).SelectMany(x =>
        {
            var (run, info) = x;
            if (info is null || info.Version != run.Version) throw new InvalidOperationException($"index {run.Index}: restored version {info?.Version} is not {run.Version}");
            return Enumerable.Range(0, info.ShardCount).Select(s => (Key: ShardGrain.KeyOf(run.Index, s), run.Version));
        }).ToArray();
        // Shards activate at once and restore in the background: serving means every one has its version.
        await IndexWorkload.WaitServingAsync(cluster.Grains, keys, TimeSpan.FromMinutes(30));
        var time = Stopwatch.GetElapsedTime(start);
        foreach (var run in runs) await IndexWorkload.ServeAsync(cluster.Grains, run.Index, run.Version, run.Shards, run.Documents);
        var downloads = cluster.Store.Transfers.Where(t => !t.Upload && t.LocalPath is not null && t.Start >= start && t.Key.StartsWith("indexes/", StringComparison.Ordinal)).ToList();
        if (downloads.Count == 0) throw new InvalidOperationException("the new silo downloaded nothing: the restore did not come from the blob store");
        long bytes = downloads.Sum(t => t.Bytes);
        Log($"  restore: {keys.Length} shards serving in {time.TotalSeconds:F1} s, {downloads.Count} files, {bytes / MiB:F0} MB ({bytes / MiB / time.TotalSeconds:F0} MB/s)");
        return (time.TotalSeconds, bytes, [.. downloads.Select(t => t.LocalPath!).Distinct()]);
    }

    private static SearchRequest SparseRequest(SparseBenchData.Csr queries, int q, bool exact, int cut, double heapFactor)
    {
        var v = queries.Row(q);
        return new SearchRequest
        {
            Index = SparseIndex, K = 10, IncludeStored = false, DeadlineMs = 60_000,
            Sparse = new SparseQuerySpec
            {
                TermIds = v.Terms, Weights = v.Weights, Exact = exact,
                QueryTermCut = exact ? null : cut, HeapFactor = exact ? null : heapFactor,
            },
        };
    }

    /// <summary>
    /// Runs the queries one at a time (a warm-up pass, then <c>--passes</c> timed passes: p50 and p99
    /// over all timed queries), then with 2 x cores clients at once (q/s over one pass each).
    /// Returns the hits of the last one-at-a-time pass.
    /// </summary>
    private static async Task<(Latency, Hit[][])> MeasureAsync(IQueryCoordinatorGrain coordinator, SearchRequest[] requests, Options o, CancellationToken ct)
    {
        var hits = new Hit[requests.Length][];
        var times = new List<double>(requests.Length * o.Passes);
        for (int pass = 0; pass <= o.Passes; pass++)
        {
            for (int i = 0; i < requests.Length; i++)
            {
                long t0 = Stopwatch.GetTimestamp();
                hits[i] = await SearchAsync(coordinator, requests[i], ct);
                if (pass > 0) times.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
            }
        }
        double qps = await ThroughputAsync(coordinator, requests, ct);
        times.Sort();
        return (new Latency(Percentile(times, 0.50), Percentile(times, 0.99), qps), hits);
    }

    private static async Task<double> ThroughputAsync(IQueryCoordinatorGrain coordinator, SearchRequest[] requests, CancellationToken ct)
    {
        int clients = 2 * Environment.ProcessorCount;
        int next = -1;
        int total = requests.Length * Math.Max(1, clients / 2);
        long start = Stopwatch.GetTimestamp();
        await Task.WhenAll(Enumerable.Range(0, clients).Select(_ => Task.Run(async () =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < total) await SearchAsync(coordinator, requests[i % requests.Length], ct);
        }, ct)));
        return total / Stopwatch.GetElapsedTime(start).TotalSeconds;
    }

    private static async Task<Hit[]> SearchAsync(IQueryCoordinatorGrain coordinator, SearchRequest request, CancellationToken ct)
    {
        var response = await coordinator.SearchAsync(request, ct);
        if (response.Status != SearchStatus.Ok || response.Coverage.Partial)
            throw new InvalidOperationException($"{request.Index}: {response.Status} {response.Error} (answered {response.Coverage.Answered}/{response.Coverage.Shards} shards)");
        return response.Hits;
    }

    private static double Percentile(List<double> sorted, double p) =>
        sorted.Count == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Count) - 1, 0, sorted.Count - 1)];

    private static double RecallAt10(Hit[][] truth, Hit[][] got)
    {
        int found = 0, total = 0;
        for (int q = 0; q < truth.Length; q++)
        {
            var ids = truth[q].Select(h => h.Id).ToHashSet(StringComparer.Ordinal);
            found += got[q].Count(h => ids.Contains(h.Id));
            total += truth[q].Length;
        }
        return total == 0 ? 1 : (double)found / total;
    }

    /// <summary>
    /// The cheapest (query term cut, heap factor) whose recall@10 against exact reaches the target:
    /// for each cut, heap factors in increasing order until one reaches it (recall grows with both);
    /// each candidate is timed on one pass; the fastest candidate is then measured fully.
    /// </summary>
    private static async Task<Approximate> TuneApproximateAsync(IQueryCoordinatorGrain coordinator, SizeData data, Hit[][] truth, Options o, CancellationToken ct)
    {
        (int Cut, double Heap, double Recall, double Ms)? best = null, closest = null;
        foreach (int cut in new[] { 8, 12, 16, 24, 32 })
        {
            foreach (double heap in new[] { 1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0 })
            {
                var got = new Hit[truth.Length][];
                long t0 = Stopwatch.GetTimestamp();
                for (int q = 0; q < truth.Length; q++) got[q] = await SearchAsync(coordinator, SparseRequest(data.SparseQueries, q, exact: false, cut, heap), ct);
                double ms = Stopwatch.GetElapsedTime(t0).TotalMilliseconds / truth.Length;
                double recall = RecallAt10(truth, got);
                if (closest is null || recall > closest.Value.Recall) closest = (cut, heap, recall, ms);
                if (recall < o.Recall) continue;
                Log($"    cut {cut}, heap factor {heap}: recall@10 {recall:F4}, {ms:F2} ms/query");
                if (best is null || ms < best.Value.Ms) best = (cut, heap, recall, ms);
                break;
            }
        }
        var chosen = best ?? closest!.Value;
        var requests = Enumerable.Range(0, truth.Length).Select(q => SparseRequest(data.SparseQueries, q, exact: false, chosen.Cut, chosen.Heap)).ToArray();
        var (latency, hits) = await MeasureAsync(coordinator, requests, o, ct);
        return new Approximate(chosen.Cut, chosen.Heap, RecallAt10(truth, hits), latency, best is not null);
    }

    /// <summary>
    /// SciPy's exact top-10 (bench/peers/scipy_sparse.py, quantised as Shoal quantises) on the first
    /// <c>--scipy-sample</c> queries over the same documents (written as the CSR file the peer reads,
    /// generated from the same seed), as the share of Shoal's exact hits SciPy also returns.
    /// </summary>
    private static async Task<double?> ScipyCheckAsync(Options o, SizeData data, Hit[][] truth, CancellationToken ct)
    {
        string docsPath = SparseBenchData.DocsPath(o.Dir, data.Docs, o.Seed);
        string queriesPath = SparseBenchData.QueriesPath(o.Dir, data.Docs, o.Seed, o.ScipySample);
        var clock = Stopwatch.StartNew();
        _ = SparseBenchData.LoadOrCreate(docsPath, documents: true, data.Docs, o.Seed, o.Threads);
        _ = SparseBenchData.LoadOrCreate(queriesPath, documents: false, o.ScipySample, o.Seed, o.Threads);
        Collect();
        Log($"  scipy check: CSR documents ready in {clock.Elapsed.TotalSeconds:F0} s ({docsPath})");
        var peer = await Peers.TryRunAsync("scipy_sparse.py", ["--docs", docsPath, "--queries", queriesPath, "--k", "10"], ct);
        if (peer is null) return null;
        var top = peer.Value.GetProperty("top").EnumerateArray().Select(x => x.EnumerateArray().Select(i => SparseBenchData.DocId(i.GetInt32())).ToHashSet(StringComparer.Ordinal)).ToArray();
        int same = 0, total = 0;
        for (int q = 0; q < o.ScipySample; q++)
        {
            same += truth[q].Count(h => top[q].Contains(h.Id));
            total += truth[q].Length;
        }
        double agreement = total == 0 ? 1 : (double)same / total;
        Log($"  scipy check: {o.ScipySample} queries, top-10 agreement with Shoal exact {agreement:F4} (SciPy {peer.Value.GetProperty("mean_ms").GetDouble():F1} ms/query)");
        return agreement;
    }

    // ------------------------------------------------------------------ report

    private static int Print(Options o, List<SizeRun> runs)
    {
        var report = new Report();
        foreach (var r in runs)
        {
            string n = r.Docs.ToString("N0", CultureInfo.InvariantCulture);
            foreach (var c in new[] { r.Text, r.Sparse }.OfType<ChannelRun>())
            {
                report.Row($"{n} {c.Channel}: job s / docs/s (reading docs/s), {c.Shards} shards", $"{Report.F(c.JobSeconds, 0)} / {Report.F(c.DocsPerSecond, 0)}", $"reading {Report.F(c.ReadDocsPerSecond, 0)}");
                report.Row($"{n} {c.Channel}: peak RSS MB indexing, index bytes/doc", $"{Report.F(c.PeakIndexMb, 0)}, {Report.F(c.IndexBytesPerDoc, 0)}");
                report.Row($"{n} {c.Channel}: snapshot MB in s of uploads", $"{Report.F(c.SnapshotBytes / MiB, 0)} in {Report.F(c.SnapshotSeconds, 1)}");
            }
            report.Row($"{n}: restore s ({Report.F(r.RestoreBytes / MiB, 0)} MB) vs plain download", Report.F(r.RestoreSeconds, 1),
                $"plain {Report.F(r.PlainDownloadSeconds, 1)} (all at once {Report.F(r.PlainDownloadConcurrentSeconds, 1)})", Report.F(RestoreVsPlain(r)), ">= 0.80");
            report.Row($"{n}: peak RSS MB serving (restore + queries)", Report.F(r.PeakServeMb, 0));
            if (r.Bm25 is { } b) report.Row($"{n} bm25: p50 / p99 ms, q/s", $"{Report.F(b.P50)} / {Report.F(b.P99)}, {Report.F(b.Qps, 0)}");
            if (r.Exact is { } e) report.Row($"{n} sparse exact: p50 / p99 ms, q/s", $"{Report.F(e.P50)} / {Report.F(e.P99)}, {Report.F(e.Qps, 0)}");
            if (r.Approx is { } x)
                report.Row($"{n} sparse approx (cut {x.Cut}, hf {x.HeapFactor}, recall {Report.F(x.Recall, 3)}): p50 / p99 ms, q/s", $"{Report.F(x.Latency.P50)} / {Report.F(x.Latency.P99)}, {Report.F(x.Latency.Qps, 0)}",
                    null, null, x.Reached ? $">= {o.Recall}" : $"recall {o.Recall} NOT reached");
            if (r.ScipyAgreement is { } s) report.Row($"{n} sparse exact vs SciPy top-10 agreement ({o.ScipySample} queries)", Report.F(s, 4), null, null, "1.0 up to float ties");
        }

        var first = runs[0];
        var last = runs[^1];
        double corpus = (double)last.Docs / first.Docs;
        double Ratio(double? x, double? y) => x is { } a && y is { } b && b != 0 ? a / b : double.NaN;
        double rssIndex = Ratio(last.PeakIndexMb, first.PeakIndexMb);
        double approxP50 = Ratio(last.Approx?.Latency.P50, first.Approx?.Latency.P50);
        double sparseRate = Ratio(last.Sparse?.DocsPerSecond, first.Sparse?.DocsPerSecond);
        double textRate = Ratio(last.Text?.DocsPerSecond, first.Text?.DocsPerSecond);
        double buildRate = new[] { sparseRate, textRate }.Where(double.IsFinite).DefaultIfEmpty(double.NaN).Min();
        if (runs.Count > 1)
        {
            string span = $"{first.Docs:N0} -> {last.Docs:N0}";
            report.Row($"growth {span}: corpus", Report.F(corpus));
            report.Row($"growth {span}: peak RSS indexing", Report.F(rssIndex), null, null, "<= 1.5 (+ one shard's build)");
            report.Row($"growth {span}: sparse approx p50", Report.F(approxP50), null, null, "<= 4");
            report.Row($"growth {span}: build docs/s, sparse / text", $"{Report.F(sparseRate)} / {Report.F(textRate)}", null, null, ">= 0.80");
            report.Row($"growth {span}: index bytes/doc, sparse / text", $"{Report.F(Ratio(last.Sparse?.IndexBytesPerDoc, first.Sparse?.IndexBytesPerDoc))} / {Report.F(Ratio(last.Text?.IndexBytesPerDoc, first.Text?.IndexBytesPerDoc))}");
            report.Row($"growth {span}: restore s", Report.F(Ratio(last.RestoreSeconds, first.RestoreSeconds)));
            report.Row($"growth {span}: peak RSS serving", Report.F(Ratio(last.PeakServeMb, first.PeakServeMb)));
            report.Row($"growth {span}: sparse exact p50 / bm25 p50", $"{Report.F(Ratio(last.Exact?.P50, first.Exact?.P50))} / {Report.F(Ratio(last.Bm25?.P50, first.Bm25?.P50))}");
        }

        report.Result("sizes", runs.Select(r => r.Docs).ToArray());
        report.Result("shard_docs", o.ShardDocs);
        report.Result("cores", Environment.ProcessorCount);
        report.Result("corpus_ratio", Finite(corpus));
        report.Result("rss_index_ratio", Finite(rssIndex));
        report.Result("approx_p50_ratio", Finite(approxP50));
        report.Result("build_rate_ratio", Finite(buildRate));
        report.Result("sparse_build_rate_ratio", Finite(sparseRate));
        report.Result("text_build_rate_ratio", Finite(textRate));
        report.Result("restore_vs_plain", Finite(RestoreVsPlain(last)));
        report.Result("recall_target", o.Recall);
        report.Result("runs", runs.Select(RunFigures).ToArray());
        report.Print(Console.Out);
        return 0;
    }

    private static Dictionary<string, object?> RunFigures(SizeRun r) => new()
    {
        ["docs"] = r.Docs,
        ["shards"] = r.Sparse?.Shards ?? r.Text?.Shards,
        ["peak_rss_index_mb"] = Math.Round(r.PeakIndexMb),
        ["peak_rss_serve_mb"] = Math.Round(r.PeakServeMb),
        ["restore_s"] = Math.Round(r.RestoreSeconds, 2),
        ["restore_mb"] = Math.Round(r.RestoreBytes / MiB),
        ["plain_download_s"] = Math.Round(r.PlainDownloadSeconds, 2),
        ["plain_download_concurrent_s"] = Math.Round(r.PlainDownloadConcurrentSeconds, 2),
        ["restore_vs_plain"] = Math.Round(RestoreVsPlain(r), 3),
        ["text"] = Channel(r.Text),
        ["sparse"] = Channel(r.Sparse),
        ["bm25"] = Lat(r.Bm25),
        ["sparse_exact"] = Lat(r.Exact),
        ["sparse_approx"] = r.Approx is { } x ? new Dictionary<string, object?>
        {
            ["cut"] = x.Cut, ["heap_factor"] = x.HeapFactor, ["recall_at_10"] = Math.Round(x.Recall, 4), ["reached"] = x.Reached,
            ["p50_ms"] = Math.Round(x.Latency.P50, 3), ["p99_ms"] = Math.Round(x.Latency.P99, 3), ["qps"] = Math.Round(x.Latency.Qps, 1),
        } : null,
        ["scipy_top10_agreement"] = r.ScipyAgreement,
    };

    // A ratio that cannot be formed (one size, or a channel not run) is null in the RESULT json.
    private static object Finite(double x) => double.IsFinite(x) ? x : JsonSerializer.SerializeToElement<object?>(null);

    // Restore rate over the faster of the two plain downloads (file after file, all at once): the stricter comparison.
    private static double RestoreVsPlain(SizeRun r) => Math.Min(r.PlainDownloadSeconds, r.PlainDownloadConcurrentSeconds) / r.RestoreSeconds;

    private static Dictionary<string, object>? Channel(ChannelRun? c) => c is null ? null : new()
    {
        ["job_s"] = Math.Round(c.JobSeconds, 1), ["docs_per_s"] = Math.Round(c.DocsPerSecond), ["reading_docs_per_s"] = Math.Round(c.ReadDocsPerSecond),
        ["peak_rss_index_mb"] = Math.Round(c.PeakIndexMb), ["index_bytes_per_doc"] = Math.Round(c.IndexBytesPerDoc, 1),
        ["snapshot_mb"] = Math.Round(c.SnapshotBytes / MiB, 1), ["snapshot_s"] = Math.Round(c.SnapshotSeconds, 2),
    };

    private static Dictionary<string, object>? Lat(Latency? l) => l is null ? null : new()
    {
        ["p50_ms"] = Math.Round(l.P50, 3), ["p99_ms"] = Math.Round(l.P99, 3), ["qps"] = Math.Round(l.Qps, 1),
    };

    private static void Log(string message) => Console.Error.WriteLine(message);
}
