using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using Shoal.Bench.Harness;
using Shoal.Engine.Dense;
using Shoal.Engine.Search;

namespace Shoal.Bench.Dense;

/// <summary>
/// dense-1M (../shared/docs/BENCHMARKS.md): exact flat scan (one query and batches), HNSW build and
/// queries/s at recall@10 >= 0.95, each beside FAISS IndexFlatIP / hnswlib run on the same files in the
/// same run, and the flat scan beside the machine's measured read bandwidth; and a flat int8 segment
/// (with float32 originals for rescoring) for its recall@10 against the fp32 exact results, latency and
/// bytes per vector. Single-thread queries; graph builds on the same number of threads for both.
/// </summary>
/// <remarks>
/// <c>dense --docs N --dims D [--queries 200] [--dir data/bench] [--clusters 1000] [--noise 0.6] [--seed 42]
/// [--m 16] [--efc 200] [--threads cores] [--batch 64] [--ef 16,24,...] [--passes 3] [--no-peers] [--reuse-segment]</c>
/// Timing, the same for Shoal and the peers: every query (batch, ef point) is run in <c>--passes</c>
/// passes and the best pass counts, which keeps other processes on a shared machine out of the figures.
/// </remarks>
public sealed class DenseWorkload : IWorkload
{
    private const int K = 10;
    private const double TargetRecall = 0.95;

    /// <inheritdoc />
    public string Name => "dense";

    /// <inheritdoc />
    public string Description => "dense-1M: flat fp32 scan (1 query, batch 64) vs FAISS and read bandwidth; int8 flat recall/latency; HNSW vs hnswlib";

    /// <inheritdoc />
    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var a = new BenchArgs(args);
        int docs = a.Int("docs", 1_000_000);
        int dims = a.Int("dims", 384);
        int queries = a.Int("queries", 200);
        string dir = Path.GetFullPath(a.String("dir", Path.Combine("data", "bench")));
        int clusters = a.Int("clusters", 1000);
        double noise = a.Double("noise", 0.6);
        int seed = a.Int("seed", 42);
        int m = a.Int("m", 16);
        int efc = a.Int("efc", 200);
        int threads = a.Int("threads", Environment.ProcessorCount);
        int batch = a.Int("batch", 64);
        int[] efs = a.String("ef", "10,16,24,32,48,64,96,128,192,256").Split(',')
            .Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        bool peers = !a.Flag("no-peers");
        int passes = a.Int("passes", 3);
        if (docs < 1 || dims < 8 || queries < 1 || batch < 1 || threads < 1)
            throw new ArgumentException("--docs, --queries, --batch and --threads must be positive and --dims at least 8.");
        Directory.CreateDirectory(dir);

        // 1. Data.
        var sw = Stopwatch.StartNew();
        string docsPath = DenseBenchData.DocsPath(dir, docs, dims, clusters, noise, seed);
        string queriesPath = DenseBenchData.QueriesPath(dir, queries, dims, clusters, noise, seed);
        bool wrote = DenseBenchData.Ensure(docsPath, docs, dims, clusters, noise, seed, kind: 1, threads);
        wrote |= DenseBenchData.Ensure(queriesPath, queries, dims, clusters, noise, seed, kind: 2, threads);
        Log($"data {(wrote ? "generated" : "reused")} in {sw.Elapsed.TotalSeconds:F1} s: {docsPath}");

        // 2. Read bandwidth.
        double anonGbps = MemoryBandwidth.MeasureReadGbps();
        double fileGbps;
        using (var mapped = MappedDenseVectors.Open(docsPath)) fileGbps = MemoryBandwidth.MeasureReadGbps(mapped.Rows);
        Log($"read bandwidth, 1 thread, SIMD sum, best of 6: {anonGbps:F2} GB/s anonymous 1 GiB, {fileGbps:F2} GB/s page cache {docs * (double)dims * 4 / 1e9:F2} GB");

        // 3. Build.
        string segPath = Path.Combine(dir, string.Create(CultureInfo.InvariantCulture,
            $"dense-{docs}x{dims}-c{clusters}-n{noise:0.###}-s{seed}-m{m}-efc{efc}.seg"));
        DenseBuildStatistics? stats = null;
        double? buildCpuS = null;
        if (!(a.Flag("reuse-segment") && File.Exists(segPath)))
        {
            using var mapped = MappedDenseVectors.Open(docsPath);
            string[] ids = mapped.ReadIds();
            var options = new DenseBuildOptions(dims, DenseMetric.Dot, DenseStorage.Float32, new HnswParameters(m, efc, seed), threads);
            var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
            DenseSegmentWriter.Write(segPath, ids, mapped.Rows, options, out stats);
            buildCpuS = (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalSeconds;
            Log($"built {segPath}: graph {stats.Graph.TotalSeconds:F1} s, total {stats.Total.TotalSeconds:F1} s on {threads} threads");
        }
        GC.Collect();

        using var seg = DenseSegment.Open(segPath, verifyChecksums: false);
        if (seg.Count != docs || seg.Dims != dims || !seg.HasAnnIndex) throw new InvalidOperationException($"{segPath} does not match the parameters");
        for (int probe = 0; probe < docs; probe += Math.Max(1, docs / 7))
        {
            if (seg.GetId(probe) != DenseBenchData.Id(probe)) throw new InvalidOperationException("doc order differs from row order");
        }
        float[] qs;
        using (var mq = MappedDenseVectors.Open(queriesPath)) qs = mq.Rows.ToArray();

        // 4. Exact, one query at a time (also the ground truth).
        seg.SearchExact(qs.AsSpan(0, dims), K); // fault the mapping in
        var truth = new ScoredDoc[queries][];
        var times = new double[queries];
        Array.Fill(times, double.MaxValue);
        for (int pass = 0; pass < passes; pass++)
        {
            for (int i = 0; i < queries; i++)
            {
                long t0 = Stopwatch.GetTimestamp();
                truth[i] = seg.SearchExact(qs.AsSpan(i * dims, dims), K);
                times[i] = Math.Min(times[i], Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
            }
        }
        double flatMs = times.Average();
        using (var mapped = MappedDenseVectors.Open(docsPath)) fileGbps = Math.Max(fileGbps, MemoryBandwidth.MeasureReadGbps(mapped.Rows));
        double readGbps = Math.Max(anonGbps, fileGbps);
        double scanBytes = (double)docs * dims * sizeof(float);
        double flatGbps = scanBytes / (flatMs / 1e3) / 1e9;
        Log($"flat 1 query: mean {flatMs:F2} ms (median {Median(times):F2}), {flatGbps:F2} GB/s");

        // 5. Exact, batches.
        int batches = Math.Max(1, queries / batch);
        int batchQueries = Math.Min(queries, batches * batch);
        seg.SearchExactBatch(qs.AsSpan(0, Math.Min(queries, batch) * dims), K);
        int mismatches = 0;
        var batchResults = new List<ScoredDoc[]>();
        double batchMs = 0;
        for (int b = 0; b < batches; b++)
        {
            int from = b * batch, n = Math.Min(batch, queries - from);
            double best = double.MaxValue;
            ScoredDoc[][] r = [];
            for (int pass = 0; pass < passes; pass++)
            {
                long tb = Stopwatch.GetTimestamp();
                r = seg.SearchExactBatch(qs.AsSpan(from * dims, n * dims), K);
                best = Math.Min(best, Stopwatch.GetElapsedTime(tb).TotalMilliseconds);
            }
            batchMs += best;
            batchResults.AddRange(r);
        }
        double batchMsPerQuery = batchMs / batchQueries;
        for (int i = 0; i < batchResults.Count; i++)
        {
            if (!batchResults[i].SequenceEqual(truth[i])) mismatches++;
        }
        Log($"flat batch {batch}: {batchMsPerQuery:F3} ms/query over {batchQueries} queries; {mismatches} differ from single-query results");

        // 5b. Int8 storage with float32 originals (the default): flat scan of the int8 rows, the best
        // max(k * oversample, 16) rescored with the originals. Recall against the float32 exact results above.
        string int8Path = Path.Combine(dir, string.Create(CultureInfo.InvariantCulture,
            $"dense-{docs}x{dims}-c{clusters}-n{noise:0.###}-s{seed}-int8-flat.seg"));
        if (!(a.Flag("reuse-segment") && File.Exists(int8Path)))
        {
            using var mapped = MappedDenseVectors.Open(docsPath);
            var options = new DenseBuildOptions(dims, DenseMetric.Dot, DenseStorage.Int8, Threads: threads) { BuildAnnIndex = false };
            DenseSegmentWriter.Write(int8Path, mapped.ReadIds(), mapped.Rows, options, out var int8Stats);
            Log($"built {int8Path} in {int8Stats.Total.TotalSeconds:F1} s");
        }
        var int8 = Int8Flat(int8Path, qs, queries, dims, batch, passes, truth);
        Log($"int8 flat (originals, oversample {int8.Oversample}): {int8.Ms:F2} ms/query, batch {int8.BatchMs:F3} ms/query, " +
            $"recall@10 {int8.Recall:F4} (oversample 1: {int8.Recall1:F4}), {int8.Identical} of {queries} identical to fp32 exact");

        // 6. ANN sweep. Oversample 1 keeps the candidate list at max(ef, k), as in hnswlib, so that ef means the same for both.
        var sweep = new List<(int Ef, double Qps, double Recall)>();
        foreach (int ef in efs)
        {
            for (int i = 0; i < Math.Min(queries, 20); i++) seg.SearchApproximate(qs.AsSpan(i * dims, dims), K, ef, oversample: 1);
            double recall = 0;
            var got = new ScoredDoc[queries][];
            double seconds = double.MaxValue;
            for (int pass = 0; pass < passes; pass++)
            {
                long t0 = Stopwatch.GetTimestamp();
                for (int i = 0; i < queries; i++) got[i] = seg.SearchApproximate(qs.AsSpan(i * dims, dims), K, ef, oversample: 1);
                seconds = Math.Min(seconds, Stopwatch.GetElapsedTime(t0).TotalSeconds);
            }
            for (int i = 0; i < queries; i++) recall += Recall(got[i], truth[i]);
            sweep.Add((ef, queries / seconds, recall / queries));
            Log($"ANN ef {ef}: {queries / seconds:F0} qps, recall@10 {recall / queries:F4}");
        }
        var (annQps, annEf) = AtRecall(sweep, TargetRecall);

        // 7. Peers.
        JsonElement? faiss = null, hnsw = null;
        double faissAgreement = double.NaN;
        if (peers)
        {
            string truthPath = Path.Combine(dir, string.Create(CultureInfo.InvariantCulture,
                $"dense-{docs}x{dims}-c{clusters}-n{noise:0.###}-s{seed}-q{queries}.truth{K}.i32"));
            var truthIds = new int[queries * K];
            for (int i = 0; i < queries; i++)
                for (int j = 0; j < K; j++) truthIds[i * K + j] = j < truth[i].Length ? truth[i][j].DocId : -1;
            File.WriteAllBytes(truthPath, MemoryMarshal.AsBytes(truthIds.AsSpan()).ToArray());

            string faissIds = Path.ChangeExtension(truthPath, ".faiss.i32");
            faiss = await RunPeerAsync("faiss_flat.py", ["--base", docsPath, "--queries", queriesPath, "--k", $"{K}",
                "--batch", $"{batch}", "--passes", $"{passes}", "--out-ids", faissIds], threadsForBlas: 1, cancellationToken);
            if (faiss is not null && File.Exists(faissIds))
            {
                var ids = MemoryMarshal.Cast<byte, int>(File.ReadAllBytes(faissIds)).ToArray();
                int same = 0;
                for (int i = 0; i < queries; i++)
                    same += truth[i].Count(t => ids.AsSpan(i * K, K).Contains(t.DocId));
                faissAgreement = same / (double)(queries * K);
            }
            hnsw = await RunPeerAsync("hnswlib_ann.py", ["--base", docsPath, "--queries", queriesPath, "--truth", truthPath,
                "--k", $"{K}", "--m", $"{m}", "--efc", $"{efc}", "--threads", $"{threads}", "--seed", $"{seed}",
                "--ef", string.Join(',', efs), "--passes", $"{passes}"], threadsForBlas: 1, cancellationToken);
        }

        // 8. Report.
        double? faissFlat = Number(faiss, "faiss_flat_ms");
        double? faissBatch = Number(faiss, "faiss_batch_ms_per_query");
        double? hnswBuild = Number(hnsw, "hnswlib_build_s");
        double? hnswBuildCpu = Number(hnsw, "hnswlib_build_cpu_s");
        var hnswSweep = new List<(int Ef, double Qps, double Recall)>();
        if (hnsw is { } h && h.TryGetProperty("sweep", out var arr))
        {
            foreach (var e in arr.EnumerateArray())
                hnswSweep.Add((e.GetProperty("ef").GetInt32(), e.GetProperty("qps").GetDouble(), e.GetProperty("recall").GetDouble()));
        }
        var (hnswQps, hnswEf) = hnswSweep.Count > 0 ? AtRecall(hnswSweep, TargetRecall) : (null, null);
        double? buildS = stats?.Graph.TotalSeconds;

        var report = new Report();
        report.Row("dense flat, 1 query, ms", F(flatMs), faissFlat is null ? null : $"FAISS {F(faissFlat.Value)}",
            Ratio(faissFlat, flatMs), $"{F(scanBytes / 1e6 / readGbps)} ms = {scanBytes / 1e9:F2} GB / {readGbps:F2} GB/s");
        report.Row("dense flat, 1 query, GB/s", F(flatGbps), null, $"{flatGbps / readGbps:P0} of read",
            $"read {F(readGbps)} GB/s (anon {F(anonGbps)}, page cache {F(fileGbps)})");
        report.Row($"dense flat, batch {batch}, ms/query", F(batchMsPerQuery, 3), faissBatch is null ? null : $"FAISS {F(faissBatch.Value, 3)}",
            Ratio(faissBatch, batchMsPerQuery), $"{mismatches} of {batchQueries} differ from 1-query");
        report.Row($"dense ANN queries/s at recall@10 >= {TargetRecall}", annQps is null ? "not reached" : $"{annQps:F0} (ef {annEf})",
            hnswQps is null ? (hnsw is null ? null : "not reached") : $"hnswlib {hnswQps:F0} (ef {hnswEf})",
            annQps is not null && hnswQps is not null ? F(annQps.Value / hnswQps.Value) : null, "recall vs Shoal exact");
        report.Row($"dense ANN build s ({threads} threads, M {m}, efC {efc})", buildS is null ? "reused" : F(buildS.Value, 1),
            hnswBuild is null ? null : $"hnswlib {F(hnswBuild.Value, 1)}", buildS is not null && hnswBuild is not null ? F(hnswBuild.Value / buildS.Value) : null,
            stats is null ? null : $"segment write {F(stats.Total.TotalSeconds, 1)} s incl. fsync");
        report.Row("dense ANN build, CPU s (all threads)", buildCpuS is null ? "reused" : F(buildCpuS.Value, 1),
            hnswBuildCpu is null ? null : $"hnswlib {F(hnswBuildCpu.Value, 1)}",
            buildCpuS is not null && hnswBuildCpu is not null ? F(hnswBuildCpu.Value / buildCpuS.Value) : null, "whole segment build incl. write");
        foreach (var (ef, qps, recall) in sweep)
        {
            var peer = hnswSweep.FirstOrDefault(p => p.Ef == ef);
            report.Row($"  ANN ef {ef}: qps / recall@10", $"{qps:F0} / {recall:F4}",
                peer.Ef == ef ? $"{peer.Qps:F0} / {peer.Recall:F4}" : null, peer.Ef == ef ? F(qps / peer.Qps) : null);
        }
        if (!double.IsNaN(faissAgreement)) report.Row("exact top-10 agreement with FAISS", F(faissAgreement, 4));
        report.Row("bytes per vector (fp32 + graph)", F((double)seg.SizeBytes / docs, 1), null, null, $"{seg.SizeBytes / 1e6:F0} MB segment");
        report.Row($"dense int8 flat, 1 query, ms (originals, oversample {int8.Oversample:0.##})", F(int8.Ms), null, $"{flatMs / int8.Ms:F2}x fp32",
            $"batch {batch}: {F(int8.BatchMs, 3)} ms/query");
        report.Row("dense int8 flat, recall@10 vs fp32 exact", F(int8.Recall, 4), null, null,
            $"int8 ranking alone (oversample 1) {F(int8.Recall1, 4)}; {int8.Identical} of {queries} results identical to fp32");
        report.Row("dense int8 bytes per vector (scanned / segment)", $"{int8.ScannedBytes} / {F(int8.SegmentBytes, 1)}", null, null,
            $"fp32 scans {dims * 4}; originals {dims * 4} read only to rescore");

        report.Result("docs", docs);
        report.Result("dims", dims);
        report.Result("threads", threads);
        report.Result("flat_ms", flatMs);
        report.Result("flat_gbps", flatGbps);
        report.Result("read_gbps", readGbps);
        report.Result("read_gbps_anonymous", anonGbps);
        report.Result("read_gbps_page_cache", fileGbps);
        report.Result("passes", passes);
        report.Result("flat_fraction_of_read", flatGbps / readGbps);
        report.Result("batch_ms_per_query", batchMsPerQuery);
        report.Result("batch_mismatches", mismatches);
        report.Result("faiss_flat_ms", (object?)faissFlat ?? "n/a");
        report.Result("faiss_batch_ms_per_query", (object?)faissBatch ?? "n/a");
        report.Result("ann_qps_at_095", (object?)annQps ?? "n/a");
        report.Result("ann_ef_at_095", (object?)annEf ?? "n/a");
        report.Result("hnswlib_qps_at_095", (object?)hnswQps ?? "n/a");
        report.Result("hnswlib_ef_at_095", (object?)hnswEf ?? "n/a");
        report.Result("ann_build_s", (object?)buildS ?? "n/a");
        report.Result("ann_segment_write_s", (object?)stats?.Total.TotalSeconds ?? "n/a");
        report.Result("hnswlib_build_s", (object?)hnswBuild ?? "n/a");
        report.Result("ann_build_cpu_s", (object?)buildCpuS ?? "n/a");
        report.Result("hnswlib_build_cpu_s", (object?)hnswBuildCpu ?? "n/a");
        if (!double.IsNaN(faissAgreement)) report.Result("faiss_top10_agreement", faissAgreement);
        report.Result("int8_recall_at_10", int8.Recall);
        report.Result("int8_recall_at_10_oversample_1", int8.Recall1);
        report.Result("int8_identical_to_fp32", int8.Identical);
        report.Result("int8_oversample", int8.Oversample);
        report.Result("int8_flat_ms", int8.Ms);
        report.Result("int8_batch_ms_per_query", int8.BatchMs);
        report.Result("int8_bytes_per_vector_scanned", int8.ScannedBytes);
        report.Result("int8_segment_bytes_per_vector", int8.SegmentBytes);
        report.Result("ann_sweep", sweep.Select(s => new[] { s.Ef, Math.Round(s.Qps, 1), Math.Round(s.Recall, 4) }).ToArray());
        report.Result("hnswlib_sweep", hnswSweep.Select(s => new[] { s.Ef, Math.Round(s.Qps, 1), Math.Round(s.Recall, 4) }).ToArray());
        report.Print(Console.Out);
        return 0;
    }

    /// <summary>
    /// The int8 flat segment's figures: best-of-passes ms per single query and per query in batches, recall@10
    /// at the segment's oversample and at 1 (the int8 ranking alone), and how many results equal the fp32 ones.
    /// </summary>
    private static (float Oversample, double Ms, double BatchMs, double Recall, double Recall1, int Identical, int ScannedBytes, double SegmentBytes)
        Int8Flat(string path, float[] qs, int queries, int dims, int batch, int passes, ScoredDoc[][] truth)
    {
        using var seg = DenseSegment.Open(path, verifyChecksums: false);
        if (!seg.HasOriginals || seg.Storage != DenseStorage.Int8) throw new InvalidOperationException($"{path} is not int8 with originals");
        seg.SearchExact(qs.AsSpan(0, dims), K);
        var got = new ScoredDoc[queries][];
        var times = new double[queries];
        Array.Fill(times, double.MaxValue);
        for (int pass = 0; pass < passes; pass++)
        {
            for (int i = 0; i < queries; i++)
            {
                long t0 = Stopwatch.GetTimestamp();
                got[i] = seg.SearchExact(qs.AsSpan(i * dims, dims), K);
                times[i] = Math.Min(times[i], Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
            }
        }
        double recall = 0, recall1 = 0;
        int identical = 0;
        for (int i = 0; i < queries; i++)
        {
            recall += Recall(got[i], truth[i]);
            recall1 += Recall(seg.SearchExact(qs.AsSpan(i * dims, dims), K, oversample: 1), truth[i]);
            if (got[i].SequenceEqual(truth[i])) identical++;
        }
        double batchMs = 0;
        for (int from = 0; from < queries; from += batch)
        {
            int n = Math.Min(batch, queries - from);
            double best = double.MaxValue;
            for (int pass = 0; pass < passes; pass++)
            {
                long t0 = Stopwatch.GetTimestamp();
                seg.SearchExactBatch(qs.AsSpan(from * dims, n * dims), K);
                best = Math.Min(best, Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
            }
            batchMs += best;
        }
        return (seg.Oversample, times.Average(), batchMs / queries, recall / queries, recall1 / queries, identical,
            seg.BytesPerVector, (double)seg.SizeBytes / seg.Count);
    }

    /// <summary>
    /// Queries/s at the target recall: the smallest ef whose recall reaches it, with qps interpolated
    /// (log-linearly in recall) between it and the previous point of the sweep; null when never reached.
    /// </summary>
    private static (double? Qps, int? Ef) AtRecall(List<(int Ef, double Qps, double Recall)> sweep, double target)
    {
        var ordered = sweep.OrderBy(s => s.Ef).ToList();
        for (int i = 0; i < ordered.Count; i++)
        {
            if (ordered[i].Recall < target) continue;
            if (i == 0 || ordered[i - 1].Recall >= ordered[i].Recall) return (ordered[i].Qps, ordered[i].Ef);
            var (lo, hi) = (ordered[i - 1], ordered[i]);
            double t = (target - lo.Recall) / (hi.Recall - lo.Recall);
            return (Math.Exp(Math.Log(lo.Qps) + t * (Math.Log(hi.Qps) - Math.Log(lo.Qps))), hi.Ef);
        }
        return (null, null);
    }

    private static double Recall(ScoredDoc[] got, ScoredDoc[] truth)
    {
        int found = 0;
        foreach (var t in truth)
        {
            foreach (var g in got)
            {
                if (g.DocId == t.DocId)
                {
                    found++;
                    break;
                }
            }
        }
        return truth.Length == 0 ? 1 : found / (double)truth.Length;
    }

    private static double Median(double[] values)
    {
        var s = values.Order().ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }

    private static string F(double v, int decimals = 2) => Report.F(v, decimals);

    private static string? Ratio(double? peer, double shoal) => peer is null ? null : $"{peer.Value / shoal:F2}x";

    private static double? Number(JsonElement? e, string name) =>
        e is { } v && v.TryGetProperty(name, out var p) && p.ValueKind == JsonValueKind.Number ? p.GetDouble() : null;

    private static void Log(string message) => Console.Error.WriteLine($"[dense {DateTime.Now:HH:mm:ss}] {message}");

    private static Task<JsonElement?> RunPeerAsync(string script, string[] args, int threadsForBlas, CancellationToken cancellationToken) =>
        Peers.TryRunAsync(script, args, cancellationToken, threadsForBlas);
}
