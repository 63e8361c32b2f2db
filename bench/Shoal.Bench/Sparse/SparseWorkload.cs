using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Shoal.Bench.Harness;
using Shoal.Engine.Search;
using Shoal.Engine.Sparse;

namespace Shoal.Bench.Sparse;

/// <summary>
/// sparse-1M (../shared/docs/BENCHMARKS.md): learned-sparse top-10 by dot product. Generates the data
/// (or reuses the files), builds a Shoal sparse segment, times exact and Seismic approximate search
/// single-threaded, sweeps the approximate knobs, and runs the SciPy peer on the same files.
/// </summary>
/// <remarks>
/// <c>dotnet run -c Release --project bench/Shoal.Bench -- sparse --docs 1000000 [--queries 200]
/// [--dir data/bench] [--seed 42] [--k 10] [--threads N] [--lambda 750] [--cut 16] [--heap-factor 1.75]
/// [--passes 3] [--no-peer] [--no-sweep] [--keep-segment]</c>
/// </remarks>
public sealed class SparseWorkload : IWorkload
{
    /// <inheritdoc />
    public string Name => "sparse";

    /// <inheritdoc />
    public string Description => "sparse-1M: exact and Seismic approximate SPLADE-style top-10 vs SciPy";

    /// <inheritdoc />
    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var a = new BenchArgs(args);
        int docCount = a.Int("docs", 1_000_000);
        int queryCount = a.Int("queries", 200);
        int k = a.Int("k", 10);
        long seed = a.Int("seed", 42);
        int threads = a.Int("threads", Environment.ProcessorCount);
        int passes = Math.Max(1, a.Int("passes", 3));
        string dir = Path.GetFullPath(a.String("dir", Path.Combine("data", "bench")));
        var defaults = new SparseBuildOptions(1f);
        int lambda = a.Int("lambda", defaults.PostingsPerTerm);
        double centroidFraction = a.Double("centroid-fraction", defaults.CentroidFraction);
        double alpha = a.Double("alpha", defaults.SummaryEnergy);
        int summaryMax = a.Int("summary-max", defaults.SummaryMaxTerms);
        int maxBlock = a.Int("max-block", defaults.MaxBlockSize);
        var search = new SeismicSearchParameters(
            a.Int("cut", SeismicSearchParameters.Default.QueryTermCut),
            a.Double("heap-factor", SeismicSearchParameters.Default.HeapFactor));
        if (docCount < 1 || queryCount < 1 || k < 1) throw new ArgumentException("--docs, --queries and --k must be >= 1.");
        search.Validate();
        var report = new Report();
        var log = Console.Out;

        // 1. Data.
        var sw = Stopwatch.StartNew();
        string docsPath = SparseBenchData.DocsPath(dir, docCount, seed);
        string queriesPath = SparseBenchData.QueriesPath(dir, docCount, seed, queryCount);
        var (docsCsr, docsReused) = SparseBenchData.LoadOrCreate(docsPath, documents: true, docCount, seed, threads);
        var (queriesCsr, _) = SparseBenchData.LoadOrCreate(queriesPath, documents: false, queryCount, seed, threads);
        log.WriteLine($"data: {SparseBenchData.Describe(docsCsr, queriesCsr)} ({(docsReused ? "reused" : "generated")} in {sw.Elapsed.TotalSeconds:F1} s)");
        log.WriteLine($"      {docsPath}");
        var queries = Enumerable.Range(0, queryCount).Select(queriesCsr.Row).ToArray();
        float maxWeight = docsCsr.MaxWeight;
        long postings = docsCsr.Indices.LongLength;

        // 2. Build.
        string segmentPath = Path.Combine(dir, $"sparse-{docCount}-s{seed}.seg");
        var options = new SparseBuildOptions(maxWeight)
        {
            PostingsPerTerm = lambda,
            CentroidFraction = centroidFraction,
            SummaryEnergy = alpha,
            SummaryMaxTerms = summaryMax,
            MaxBlockSize = maxBlock,
            Threads = threads,
        };
        double buildSeconds;
        {
            var docs = new SparseDocument[docCount];
            for (int r = 0; r < docCount; r++) docs[r] = new SparseDocument(SparseBenchData.DocId(r), null, docsCsr.Row(r));
            docsCsr = null!;
            GC.Collect();
            sw.Restart();
            SparseSegmentWriter.Write(segmentPath, docs, options);
            buildSeconds = sw.Elapsed.TotalSeconds;
        }
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        log.WriteLine($"build: {buildSeconds:F1} s with {threads} threads (λ={lambda}, centroid fraction {centroidFraction}, α={alpha}, summary <= {summaryMax}, block <= {maxBlock})");

        using var segment = SparseSegment.Open(segmentPath, verifyChecksums: false);
        double bytesPerPosting = (double)segment.IndexBytes / segment.PostingCount;
        log.WriteLine($"segment: {segment.SizeBytes / 1e6:F1} MB file, index {segment.IndexBytes / 1e6:F1} MB = {bytesPerPosting:F2} B/posting; " +
            $"Seismic {segment.SeismicPostingCount:N0} postings in {segment.BlockCount:N0} blocks, {segment.SummaryEntryCount:N0} summary entries");

        // 3. Exact and approximate, single-threaded (this thread), warm-up first.
        var exact = new ScoredDoc[queryCount][];
        var exactMs = Time(() => { for (int q = 0; q < queryCount; q++) exact[q] = segment.SearchExact(queries[q], k); }, passes, queryCount);
        var approx = new ScoredDoc[queryCount][];
        var approxMs = Time(() => { for (int q = 0; q < queryCount; q++) approx[q] = segment.SearchApproximate(queries[q], k, search); }, passes, queryCount);
        double recall = Recall(exact, approx);
        log.WriteLine($"exact: {exactMs.Median:F3} ms/query (passes {string.Join(", ", exactMs.All.Select(x => x.ToString("F3", CultureInfo.InvariantCulture)))})");
        log.WriteLine($"approximate (cut {search.QueryTermCut}, heap factor {search.HeapFactor}): {approxMs.Median:F3} ms/query, recall@{k} {recall:F4} " +
            $"(passes {string.Join(", ", approxMs.All.Select(x => x.ToString("F3", CultureInfo.InvariantCulture)))})");

        // Exact must agree with the brute-force reference (checked on a few queries).
        for (int q = 0; q < Math.Min(5, queryCount); q++)
        {
            var reference = segment.SearchExhaustive(queries[q], k);
            if (!reference.SequenceEqual(exact[q])) throw new InvalidOperationException($"exact search differs from exhaustive on query {q}");
        }

        // Recall/latency curve.
        var curve = new List<Dictionary<string, object>>();
        if (!a.Flag("no-sweep"))
        {
            log.WriteLine();
            log.WriteLine("| cut | heap factor | approx ms/query | recall@10 |");
            log.WriteLine("|---|---|---|---|");
            foreach (int cut in new[] { 8, 12, 16, 24 })
            {
                foreach (double hf in new[] { 1.0, 1.25, 1.5, 1.75, 2.0, 2.5 })
                {
                    var p = new SeismicSearchParameters(cut, hf);
                    var results = new ScoredDoc[queryCount][];
                    var ms = Time(() => { for (int q = 0; q < queryCount; q++) results[q] = segment.SearchApproximate(queries[q], k, p); }, 1, queryCount);
                    double r = Recall(exact, results);
                    log.WriteLine($"| {cut} | {hf:F2} | {ms.Median:F3} | {r:F4} |");
                    curve.Add(new() { ["cut"] = cut, ["heap_factor"] = hf, ["ms"] = Math.Round(ms.Median, 4), ["recall"] = Math.Round(r, 4) });
                }
            }
            log.WriteLine();
        }

        // 4. SciPy peer on the same files.
        double? scipyMs = null, agreement = null;
        if (!a.Flag("no-peer"))
        {
            var peer = await RunPeerAsync(docsPath, queriesPath, k, cancellationToken);
            if (peer is not null)
            {
                scipyMs = peer.Value.GetProperty("mean_ms").GetDouble();
                var top = peer.Value.GetProperty("top").EnumerateArray().Select(x => x.EnumerateArray().Select(i => i.GetInt32()).ToHashSet()).ToArray();
                int same = 0, total = 0;
                for (int q = 0; q < queryCount; q++)
                {
                    same += exact[q].Count(h => top[q].Contains(h.DocId));
                    total += exact[q].Length;
                }
                agreement = total == 0 ? 1 : (double)same / total;
                log.WriteLine($"scipy: {scipyMs:F3} ms/query (load {peer.Value.GetProperty("load_s").GetDouble():F1} s), top-{k} agreement with Shoal exact {agreement:F4}");
            }
        }

        // 5. Report.
        string Ratio(double? peer, double shoal) => peer is null ? "-" : $"{peer.Value / shoal:F1}x faster";
        report.Row("sparse exact ms/query", Report.F(exactMs.Median, 3), scipyMs is null ? null : $"SciPy {Report.F(scipyMs.Value, 3)}",
            Ratio(scipyMs, exactMs.Median), "target >= 3x faster than SciPy");
        report.Row($"sparse approximate ms/query at recall@{k} {Report.F(recall, 3)}", Report.F(approxMs.Median, 3),
            scipyMs is null ? null : $"SciPy {Report.F(scipyMs.Value, 3)}", Ratio(scipyMs, approxMs.Median), "target >= 20x faster, recall >= 0.90");
        report.Row("sparse approximate vs exact", Report.F(approxMs.Median, 3), $"exact {Report.F(exactMs.Median, 3)}", Ratio(exactMs.Median, approxMs.Median));
        report.Row($"top-{k} agreement, Shoal exact vs SciPy", Report.F(agreement ?? double.NaN, 4), "SciPy", null, "1.0 up to float ties");
        report.Row("index bytes/posting (forward index included)", Report.F(bytesPerPosting, 2), null, null, "<= 8");
        report.Row("segment file bytes/posting", Report.F((double)segment.SizeBytes / segment.PostingCount, 2));
        report.Row("build s", Report.F(buildSeconds, 1), null, null, "<= 600");
        report.Result("docs", docCount);
        report.Result("queries", queryCount);
        report.Result("postings", postings);
        report.Result("exact_ms", exactMs.Median);
        report.Result("approx_ms", approxMs.Median);
        report.Result("approx_recall_at_10", recall);
        report.Result("approx_cut", search.QueryTermCut);
        report.Result("approx_heap_factor", search.HeapFactor);
        if (scipyMs is not null)
        {
            report.Result("scipy_ms", scipyMs.Value);
            report.Result("exact_speedup_vs_scipy", scipyMs.Value / exactMs.Median);
            report.Result("approx_speedup_vs_scipy", scipyMs.Value / approxMs.Median);
            report.Result("scipy_top10_agreement", agreement!.Value);
        }
        report.Result("bytes_per_posting", bytesPerPosting);
        report.Result("file_bytes_per_posting", (double)segment.SizeBytes / segment.PostingCount);
        report.Result("build_s", buildSeconds);
        report.Result("curve", curve);
        report.Print(log);
        segment.Dispose();
        if (!a.Flag("keep-segment")) File.Delete(segmentPath);
        return 0;
    }

    private sealed record Timing(double Median, double[] All);

    // Runs `body` once to warm up, then `passes` times; returns ms per query of each pass and their median.
    private static Timing Time(Action body, int passes, int queries)
    {
        body();
        var all = new double[passes];
        for (int p = 0; p < passes; p++)
        {
            var sw = Stopwatch.StartNew();
            body();
            all[p] = sw.Elapsed.TotalMilliseconds / queries;
        }
        var sorted = all.Order().ToArray();
        return new Timing(sorted[sorted.Length / 2], all);
    }

    private static double Recall(ScoredDoc[][] exact, ScoredDoc[][] approx)
    {
        int found = 0, total = 0;
        for (int q = 0; q < exact.Length; q++)
        {
            var ids = exact[q].Select(h => h.DocId).ToHashSet();
            found += approx[q].Count(h => ids.Contains(h.DocId));
            total += exact[q].Length;
        }
        return total == 0 ? 1 : (double)found / total;
    }

    private static Task<JsonElement?> RunPeerAsync(string docsPath, string queriesPath, int k, CancellationToken cancellationToken) =>
        Peers.TryRunAsync("scipy_sparse.py", ["--docs", docsPath, "--queries", queriesPath, "--k", k.ToString(CultureInfo.InvariantCulture)], cancellationToken);
}
