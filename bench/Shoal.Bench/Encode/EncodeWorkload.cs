using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Shoal.Bench.Harness;
using Shoal.Encoders;

namespace Shoal.Bench.Encode;

/// <summary>
/// Encoder throughput (sequences/s) and added latency versus batch size and concurrency, on the
/// fixture dense ONNX model by default: direct batches of B texts on one thread, then C closed-loop
/// callers (each sends its next text when the previous one is answered), either C threads each
/// running the model on its own text ("batch 1", the peer) or C asynchronous callers of one
/// <see cref="EncoderPool"/> (micro-batched, one worker). Ends with <c>RESULT</c> holding
/// batch1_seq_per_s, batched_seq_per_s and speedup_at_16 (16 callers).
/// </summary>
/// <remarks>
/// <c>encode [--model tests/fixtures/models/dense-tiny.onnx] [--tokenizer ../shared/data/tokenizers/bert-base-uncased-vocab.txt]
/// [--seconds 2] [--passes 3] [--batch-sizes 1,4,16,32,64] [--concurrency 1,4,16,64] [--max-batch 32] [--max-wait-ms 2]
/// [--threads 1]</c>. Texts are the SciFact test queries when ../shared/data/scifact is present.
/// <c>--threads</c> is ONNX Runtime's intra-op thread count for the session both sides share (0:
/// ONNX Runtime's default, all cores with spinning workers, which on a shared 2-core machine makes
/// batches above ~8 slower per sequence than small ones).
/// Every configuration runs <c>--passes</c> timed passes of <c>--seconds</c>; the best pass counts
/// (shared machine). Latency is per request, submit to answer (p50, p99), and the mean by Little's
/// law (callers / throughput), which also counts time a request spends waiting to be issued.
/// </remarks>
public sealed class EncodeWorkload : IWorkload
{
    /// <inheritdoc />
    public string Name => "encode";

    /// <inheritdoc />
    public string Description => "encoder seq/s and latency vs batch size and callers; batch 1 vs micro-batched at 16 callers";

    /// <inheritdoc />
    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var a = new BenchArgs(args);
        string root = FindRepoRoot();
        string model = Path.GetFullPath(a.String("model", Path.Combine(root, "tests", "fixtures", "models", "dense-tiny.onnx")));
        string tokenizerPath = Path.GetFullPath(a.String("tokenizer", Path.Combine(root, "..", "shared", "data", "tokenizers", "bert-base-uncased-vocab.txt")));
        double seconds = a.Double("seconds", 2);
        int passes = a.Int("passes", 3);
        int[] batchSizes = Ints(a.String("batch-sizes", "1,4,16,32,64"));
        int[] concurrency = Ints(a.String("concurrency", "1,4,16,64"));
        int maxBatch = a.Int("max-batch", 32);
        double maxWaitMs = a.Double("max-wait-ms", 2);
        int threads = a.Int("threads", 1);
        if (seconds <= 0 || passes < 1 || maxBatch < 1 || maxWaitMs < 0 || batchSizes.Any(b => b < 1) || concurrency.Any(c => c < 1))
            throw new ArgumentException("--seconds, --passes, --max-batch, --batch-sizes and --concurrency must be positive and --max-wait-ms not negative.");
        if (!concurrency.Contains(16)) concurrency = [.. concurrency, 16];

        var texts = LoadTexts(root);
        var tokenizer = tokenizerPath.EndsWith(".json", StringComparison.OrdinalIgnoreCase)
            ? WordPieceTokenizer.FromTokenizerJson(tokenizerPath)
            : WordPieceTokenizer.FromVocabFile(tokenizerPath);
#pragma warning disable CA2000 // the encoder owns the session and disposes it
        using var encoder = new DenseOnnxEncoder(OnnxSessionFactory.Create(model, intraOpThreads: threads), tokenizer);
#pragma warning restore CA2000
        Log($"model {model} on {encoder.ExecutionProvider}, {encoder.Dimensions} dims, {texts.Length} texts "
            + $"(mean {texts.Average(t => tokenizer.Encode(t).Length):F1} tokens), {Environment.ProcessorCount} cores, intra-op threads {(threads == 0 ? "auto" : threads)}");
        for (int i = 0; i < 50; i++) encoder.Encode([texts[i % texts.Length], texts[(i + 1) % texts.Length]]); // warm-up
        var window = TimeSpan.FromSeconds(seconds);
        var report = new Report();

        // 1. Direct batches on one thread: what batching buys the model itself.
        var direct = new Dictionary<int, Measurement>();
        foreach (int b in batchSizes)
        {
            direct[b] = Best(passes, () => RunDirect(encoder, texts, b, window));
            Log($"direct batch {b,3}: {direct[b].SeqPerSecond,9:F0} seq/s, {direct[b].P50Ms:F3} ms per batch");
        }
        double single = direct.TryGetValue(1, out var d1) ? d1.SeqPerSecond : Best(passes, () => RunDirect(encoder, texts, 1, window)).SeqPerSecond;
        foreach (int b in batchSizes)
        {
            report.Row($"direct batch {b}: seq/s (ms per batch)", $"{Report.F(direct[b].SeqPerSecond, 0)} ({Report.F(direct[b].P50Ms, 3)})",
                $"batch 1: {Report.F(single, 0)}", Report.F(direct[b].SeqPerSecond / single));
            report.Result($"direct_batch{b}_seq_per_s", direct[b].SeqPerSecond);
        }

        // 2. Closed-loop callers: one session run per text vs the micro-batching pool.
        var batcherOptions = new MicroBatcherOptions { MaxBatchSize = maxBatch, MaxWait = TimeSpan.FromMilliseconds(maxWaitMs), QueueCapacity = 4096, Name = "bench" };
        Measurement? batch1At16 = null, batchedAt16 = null;
        foreach (int c in concurrency.Distinct().Order())
        {
            var unbatched = Best(passes, () => RunThreads(c, window, texts, t => encoder.Encode([t])));
            long runsBefore = encoder.SessionRuns;
            long itemsBefore = 0;
            Measurement batched;
            await using (var pool = new EncoderPool(encoder, batcherOptions, ownsEncoder: false))
            {
                batched = Best(passes, () => RunCallers(c, window, texts, t => pool.EncodeAsync(t, cancellationToken)));
                itemsBefore = pool.ItemsProcessed;
            }
            double meanBatch = itemsBefore / (double)Math.Max(1, encoder.SessionRuns - runsBefore);
            Log($"{c,3} callers: batch 1 ({c} threads) {unbatched.SeqPerSecond,8:F0} seq/s p50 {unbatched.P50Ms:F3} p99 {unbatched.P99Ms:F3} ms | "
                + $"micro-batched {batched.SeqPerSecond,8:F0} seq/s p50 {batched.P50Ms:F3} p99 {batched.P99Ms:F3} ms, mean batch {meanBatch:F1}");
            report.Row($"{c} callers: micro-batched seq/s", Report.F(batched.SeqPerSecond, 0), $"batch 1: {Report.F(unbatched.SeqPerSecond, 0)}",
                Report.F(batched.SeqPerSecond / unbatched.SeqPerSecond), $"mean batch {Report.F(meanBatch, 1)}");
            double meanBatched = c / batched.SeqPerSecond * 1000, meanUnbatched = c / unbatched.SeqPerSecond * 1000;
            report.Row($"{c} callers: ms p50 / p99 / mean", $"{Report.F(batched.P50Ms, 3)} / {Report.F(batched.P99Ms, 3)} / {Report.F(meanBatched, 3)}",
                $"{Report.F(unbatched.P50Ms, 3)} / {Report.F(unbatched.P99Ms, 3)} / {Report.F(meanUnbatched, 3)}", null,
                $"added mean {Report.F(meanBatched - meanUnbatched, 3)} ms");
            report.Result($"c{c}_added_mean_ms", meanBatched - meanUnbatched);
            report.Result($"c{c}_batch1_seq_per_s", unbatched.SeqPerSecond);
            report.Result($"c{c}_batched_seq_per_s", batched.SeqPerSecond);
            report.Result($"c{c}_batch1_p50_ms", unbatched.P50Ms);
            report.Result($"c{c}_batched_p50_ms", batched.P50Ms);
            report.Result($"c{c}_batched_p99_ms", batched.P99Ms);
            report.Result($"c{c}_mean_batch", meanBatch);
            if (c == 16)
            {
                batch1At16 = unbatched;
                batchedAt16 = batched;
            }
        }

        report.Result("batch1_seq_per_s", batch1At16!.SeqPerSecond);
        report.Result("batched_seq_per_s", batchedAt16!.SeqPerSecond);
        report.Result("speedup_at_16", batchedAt16.SeqPerSecond / batch1At16.SeqPerSecond);
        report.Result("added_mean_ms_at_16", 16 / batchedAt16.SeqPerSecond * 1000 - 16 / batch1At16.SeqPerSecond * 1000);
        report.Result("model", Path.GetFileName(model));
        report.Result("execution_provider", encoder.ExecutionProvider);
        report.Result("max_batch", maxBatch);
        report.Result("max_wait_ms", maxWaitMs);
        report.Print(Console.Out);
        return 0;
    }

    private static Measurement RunDirect(DenseOnnxEncoder encoder, string[] texts, int batch, TimeSpan window)
    {
        var latencies = new List<double>();
        var slice = new string[batch];
        long done = 0;
        int next = 0;
        var total = Stopwatch.StartNew();
        while (total.Elapsed < window)
        {
            for (int i = 0; i < batch; i++) slice[i] = texts[(next + i) % texts.Length];
            next = (next + batch) % texts.Length;
            long t0 = Stopwatch.GetTimestamp();
            encoder.Encode(slice);
            latencies.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
            done += batch;
        }
        return Measurement.From(done, total.Elapsed, latencies);
    }

    /// <summary>The peer: <paramref name="callers"/> dedicated threads, each running the model on its own text.</summary>
    private static Measurement RunThreads(int callers, TimeSpan window, string[] texts, Action<string> encode)
    {
        var perCaller = new List<double>[callers];
        long done = 0;
        var total = Stopwatch.StartNew();
        var threads = new Thread[callers];
        for (int c = 0; c < callers; c++)
        {
            int caller = c;
            perCaller[c] = [];
            threads[c] = new Thread(() =>
            {
                int i = caller * 7919;
                while (total.Elapsed < window)
                {
                    long t0 = Stopwatch.GetTimestamp();
                    encode(texts[i++ % texts.Length]);
                    perCaller[caller].Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
                    Interlocked.Increment(ref done);
                }
            });
            threads[c].IsBackground = true;
            threads[c].Start();
        }
        foreach (var t in threads) t.Join();
        return Measurement.From(done, total.Elapsed, perCaller.SelectMany(l => l).ToList());
    }

    /// <summary>Micro-batched: <paramref name="callers"/> asynchronous closed-loop callers.</summary>
    private static Measurement RunCallers(int callers, TimeSpan window, string[] texts, Func<string, Task> encode)
    {
        var perCaller = new List<double>[callers];
        long done = 0;
        var total = Stopwatch.StartNew();
        var tasks = new Task[callers];
        for (int c = 0; c < callers; c++)
        {
            int caller = c;
            perCaller[c] = [];
            tasks[c] = Task.Run(async () =>
            {
                int i = caller * 7919;
                while (total.Elapsed < window)
                {
                    long t0 = Stopwatch.GetTimestamp();
                    await encode(texts[i++ % texts.Length]).ConfigureAwait(false);
                    perCaller[caller].Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
                    Interlocked.Increment(ref done);
                }
            });
        }
        Task.WaitAll(tasks);
        return Measurement.From(done, total.Elapsed, perCaller.SelectMany(l => l).ToList());
    }

    private static Measurement Best(int passes, Func<Measurement> run)
    {
        Measurement? best = null;
        for (int p = 0; p < passes; p++)
        {
            var m = run();
            if (best is null || m.SeqPerSecond > best.SeqPerSecond) best = m;
        }
        return best!;
    }

    private static string[] LoadTexts(string root)
    {
        string path = Path.Combine(root, "..", "shared", "data", "scifact", "queries.test.jsonl");
        if (File.Exists(path))
        {
            var texts = File.ReadLines(path)
                .Select(line => JsonDocument.Parse(line).RootElement.GetProperty("text").GetString()!)
                .Where(t => t.Length > 0).ToArray();
            if (texts.Length > 0) return texts;
        }
        string[] words = ["protein", "folding", "vitamin", "deficiency", "bone", "fracture", "coffee", "heart", "disease", "gene", "expression", "cancer", "risk"];
        var rng = new Random(42);
        return Enumerable.Range(0, 300).Select(_ => string.Join(' ', Enumerable.Range(0, rng.Next(4, 20)).Select(_ => words[rng.Next(words.Length)]))).ToArray();
    }

    private static string FindRepoRoot()
    {
        foreach (string start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "Cluster.sln"))) return dir.FullName;
            }
        }
        throw new ArgumentException("Cannot find the repository (Cluster.sln) above the current directory; pass --model and --tokenizer.");
    }

    private static int[] Ints(string list) =>
        list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(s => int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) ? v
                : throw new ArgumentException($"'{s}' in '{list}' is not an integer.")).ToArray();

    private static void Log(string message) => Console.Error.WriteLine(message);

    /// <summary>One timed pass: sequences per second and per-request (or per-batch) latency percentiles.</summary>
    private sealed record Measurement(double SeqPerSecond, double P50Ms, double P99Ms)
    {
        public static Measurement From(long sequences, TimeSpan elapsed, List<double> latencies)
        {
            latencies.Sort();
            return new Measurement(sequences / elapsed.TotalSeconds, Percentile(latencies, 0.50), Percentile(latencies, 0.99));
        }

        private static double Percentile(List<double> sorted, double q) =>
            sorted.Count == 0 ? double.NaN : sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(q * sorted.Count) - 1)];
    }
}
