using System.Diagnostics;
using System.Text.Json;
using Shoal.Bench.Harness;
using Shoal.Encoders;

namespace Shoal.Bench.Encode;

public sealed partial class EncodeWorkload
{
    /// <summary>
    /// <c>encode --model arctic-xs [--docs 256] [--threads 0] [--workers 0] [--provider cpu] [--seconds 5] [--passes 1] [--max-batch 32] [--batch-tokens 0] [--max-wait-ms 2]</c>:
    /// a real pretrained encoder (a built-in model) on SciFact passages (title + text, the first
    /// <c>--docs</c>). Documents: batch 1 (one session run per passage), fixed batches of
    /// <c>--max-batch</c> in corpus order padded to their longest, and Shoal's length-bucketed
    /// batches (<see cref="EncoderPool.EncodeDocumentsAsync"/>), each as documents/s and real
    /// tokens/s. Queries (SciFact test queries, with the model's query instruction): p50/p99 and
    /// throughput at 1 and 16 closed-loop callers through the pool, against 16 threads each running
    /// batch 1. Then numpy's sgemm rate on this machine in the same run (bench/peers/numpy_sgemm.py)
    /// and the model FLOP/s Shoal achieved with bucketed batches as a fraction of it. RESULT:
    /// batch1_docs_per_s, padded_docs_per_s, bucketed_docs_per_s, *_tokens_per_s, speedup_at_16,
    /// model_gflops, sgemm_gflops, model_sgemm_fraction, query p50/p99.
    /// </summary>
    /// <summary>The first <paramref name="count"/> passages of a BEIR corpus, as title + text.</summary>
    private static string[] LoadPassages(string corpus, int count) => File.ReadLines(corpus).Take(count).Select(line =>
    {
        using var doc = JsonDocument.Parse(line);
        var e = doc.RootElement;
        string title = e.TryGetProperty("title", out var t) ? t.GetString() ?? "" : "";
        string text = e.GetProperty("text").GetString() ?? "";
        return title.Length == 0 ? text : title + " " + text;
    }).ToArray();

    private static async Task<int> RunRealModelAsync(BenchArgs a, BuiltInModel model, string root, CancellationToken cancellationToken)
    {
        int docCount = a.Int("docs", 256);
        int threads = a.Int("threads", 0);
        int workers = a.Int("workers", 0);
        string provider = a.String("provider", EncoderOptions.CpuProvider);
        double seconds = a.Double("seconds", 5);
        int passes = a.Int("passes", 1);
        int maxBatch = a.Int("max-batch", 32);
        int batchTokens = a.Int("batch-tokens", 0);
        double maxWaitMs = a.Double("max-wait-ms", 2);
        if (docCount < 1 || threads < 0 || seconds <= 0 || passes < 1 || maxBatch < 1 || batchTokens < 0 || maxWaitMs < 0 || workers < 0)
            throw new ArgumentException("--docs, --seconds, --passes and --max-batch must be positive; --threads, --workers, --batch-tokens and --max-wait-ms not negative.");
        string corpus = Path.Combine(root, "..", "shared", "data", "scifact", "corpus.jsonl");
        if (!File.Exists(corpus)) throw new ArgumentException($"The real-model encode benchmark needs SciFact passages at {corpus}.");
        var docs = LoadPassages(corpus, docCount);
        var queries = LoadTexts(root);

        // The machine's matrix multiply rate, all cores, first: nothing of Shoal's is loaded yet.
        var sgemm = await Peers.TryRunAsync("numpy_sgemm.py", ["--n", "1024", "--seconds", "3"], cancellationToken, blasThreads: Environment.ProcessorCount, machineLimit: true);
        double sgemmGflops = sgemm is { } peer ? peer.GetProperty("gflops").GetDouble() : double.NaN;
        if (sgemm is { } p) Log($"sgemm peer: {p}");

        var options = new EncoderOptions
        {
            Kind = EncoderKind.Dense, Model = model.Name, IntraOpThreads = threads, Workers = workers, ExecutionProvider = provider,
            MaxBatchSize = maxBatch, MaxBatchWait = TimeSpan.FromMilliseconds(maxWaitMs), QueueCapacity = 4096, DocumentBatchSize = maxBatch, DocumentBatchTokens = batchTokens,
        };
        await using var pool = EncoderPool.Create(options);
        var encoder = (DenseOnnxEncoder)pool.Encoder;
        // Batch 1 and padded batches run one at a time on a session of their own spread over all
        // cores (or --threads): the strongest way to run one text per model run.
        using var single = (DenseOnnxEncoder)EncoderFactory.Create(new EncoderOptions
        {
            Kind = EncoderKind.Dense, Model = model.Name, IntraOpThreads = threads > 0 ? threads : Environment.ProcessorCount, Workers = 1, ExecutionProvider = provider,
        });
        var tokenizer = encoder.Tokenizer;
        var rows = docs.Select(d => tokenizer.Encode(encoder.DocumentPrefix + d)).ToArray();
        var lengths = rows.Select(r => r.Length).ToArray();
        long realTokens = lengths.Sum(l => (long)l);
        string poolShape = $"{options.EffectiveWorkers} worker(s) x {options.EffectiveIntraOpThreads} intra-op thread(s)";
        Log($"model {model.Name} ({model.Description}) on {encoder.ExecutionProvider}, {docs.Length} SciFact passages "
            + $"(mean {lengths.Average():F0} tokens, max {lengths.Max()}), {Environment.ProcessorCount} cores; pool: {poolShape}; batch 1 and padded: 1 run at a time x {(threads > 0 ? threads : Environment.ProcessorCount)} threads");
        encoder.EncodeTokens(TokenizedBatch.FromRows([.. rows.Take(4)], tokenizer.PadId)); // warm-up
        single.EncodeTokens(TokenizedBatch.FromRows([.. rows.Take(4)], tokenizer.PadId));
        var report = new Report();

        // Documents, three ways over the same passages; the best of --passes counts.
        double Time(Action run)
        {
            double best = double.MaxValue;
            for (int p = 0; p < passes; p++)
            {
                var clock = Stopwatch.StartNew();
                run();
                best = Math.Min(best, clock.Elapsed.TotalSeconds);
            }
            return best;
        }
        void RunPlan(IReadOnlyList<int[]> plan)
        {
            foreach (var batch in plan) single.EncodeTokens(TokenizedBatch.FromRows([.. batch.Select(i => rows[i])], tokenizer.PadId));
        }
        var batch1Plan = Enumerable.Range(0, rows.Length).Select(i => new[] { i }).ToArray();
        var paddedPlan = new DocumentBatching(maxBatch, int.MaxValue, ByLength: false).Plan(lengths);
        var bucketedPlan = pool.DocumentBatching.Plan(lengths);
        double batch1S = Time(() => RunPlan(batch1Plan));
        Log($"batch 1:  {docs.Length / batch1S:F1} docs/s");
        double paddedS = Time(() => RunPlan(paddedPlan));
        Log($"padded:   {docs.Length / paddedS:F1} docs/s");
        double bucketedS = Time(() => pool.EncodeDocumentsAsync(docs, cancellationToken).GetAwaiter().GetResult());
        Log($"bucketed: {docs.Length / bucketedS:F1} docs/s");
        foreach (var (name, plan, s) in new[] { ("batch1", (IReadOnlyList<int[]>)batch1Plan, batch1S), ("padded", paddedPlan, paddedS), ("bucketed", bucketedPlan, bucketedS) })
        {
            long padded = DocumentBatching.PaddedTokens(lengths, plan);
            report.Row($"documents, {name}: docs/s (real tokens/s)", $"{Report.F(docs.Length / s, 1)} ({Report.F(realTokens / s, 0)})",
                $"batch 1: {Report.F(docs.Length / batch1S, 1)}", Report.F(batch1S / s), $"padding {Report.F(100.0 * (padded - realTokens) / padded, 1)}% of {padded} tokens");
            report.Result($"{name}_docs_per_s", docs.Length / s);
            report.Result($"{name}_tokens_per_s", realTokens / s);
            report.Result($"{name}_padding_fraction", (double)(padded - realTokens) / padded);
        }
        double modelFlops = bucketedPlan.Sum(b => b.Length * model.FlopsPerSequence(b.Max(i => lengths[i])));
        double modelGflops = modelFlops / bucketedS / 1e9;

        // Queries through the pool: 1 and 16 callers, against 16 threads each running batch 1.
        var window = TimeSpan.FromSeconds(seconds);
        var one = RunCallers(1, window, queries, q => pool.EncodeAsync(q, cancellationToken));
        var pooled16 = RunCallers(16, window, queries, q => pool.EncodeAsync(q, cancellationToken));
        var threads16 = RunThreads(16, window, queries, q => encoder.EncodeQueries([q]));
        report.Row("queries, 1 caller = batch 1 (pool): q/s, p50 / p99 ms", $"{Report.F(one.SeqPerSecond, 1)}, {Report.F(one.P50Ms, 1)} / {Report.F(one.P99Ms, 1)}");
        report.Row("queries, 16 callers: pool q/s, p50 / p99 ms", $"{Report.F(pooled16.SeqPerSecond, 1)}, {Report.F(pooled16.P50Ms, 1)} / {Report.F(pooled16.P99Ms, 1)}",
            $"16 threads batch 1: {Report.F(threads16.SeqPerSecond, 1)}, {Report.F(threads16.P50Ms, 1)} / {Report.F(threads16.P99Ms, 1)}",
            Report.F(pooled16.SeqPerSecond / threads16.SeqPerSecond));
        report.Result("query_c1_p50_ms", one.P50Ms);
        report.Result("query_c1_p99_ms", one.P99Ms);
        report.Result("query_c1_per_s", one.SeqPerSecond);
        report.Result("query_c16_p50_ms", pooled16.P50Ms);
        report.Result("query_c16_p99_ms", pooled16.P99Ms);
        report.Result("query_c16_per_s", pooled16.SeqPerSecond);
        report.Result("query_c16_batch1_per_s", threads16.SeqPerSecond);
        // Batch 1 is one caller: every run holds one query.
        report.Result("speedup_at_16", pooled16.SeqPerSecond / one.SeqPerSecond);
        report.Result("speedup_vs_16_threads", pooled16.SeqPerSecond / threads16.SeqPerSecond);
        report.Row("model GFLOP/s (bucketed) vs sgemm GFLOP/s", Report.F(modelGflops, 2), Report.F(sgemmGflops, 2), Report.F(modelGflops / sgemmGflops));
        report.Result("model_gflops", modelGflops);
        report.Result("sgemm_gflops", double.IsNaN(sgemmGflops) ? "unavailable (python3-numpy missing)" : sgemmGflops);
        if (!double.IsNaN(sgemmGflops)) report.Result("model_sgemm_fraction", modelGflops / sgemmGflops);
        report.Result("bucketed_vs_batch1", batch1S / bucketedS);
        report.Result("model", model.Name);
        report.Result("execution_provider", encoder.ExecutionProvider);
        report.Result("docs", docs.Length);
        report.Result("max_batch", maxBatch);
        report.Result("batch_tokens", pool.DocumentBatching.MaxBatchTokens);
        report.Result("pool", poolShape);
        report.Print(Console.Out);
        return 0;
    }
}
