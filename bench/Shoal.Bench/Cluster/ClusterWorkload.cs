using System.Diagnostics;
using System.Globalization;
using Shoal.Bench.Harness;
using Shoal.Engine.Analysis;
using Shoal.Evaluation;
using Shoal.Engine.Ingest;
using Shoal.Engine.Text;

namespace Shoal.Bench.Cluster;

/// <summary>
/// The search path, measured: the same SciFact BM25 queries (top-10) run (a) on the engine alone
/// (analysis, segment top-k, external ids), (b) through the query coordinator grain in-process,
/// (c) through the embedded gateway over real HTTP (which runs its silo's coordinator as a method,
/// no grain call), and (d) through a client-mode gateway to a separate silo process clustered
/// through redis. At 1 client: latency p50/p99; at saturation: queries/s with 2, 8 and 32 clients
/// in closed loops. Prints where a search's time goes (the coordinator's stage histograms and the
/// shards' channel time, heard in this process), and the HTTP floor: <c>GET /health/live</c> from
/// the same client at 1 client and at saturation, the most any HTTP search could reach here.
/// The HTTP paths are driven from a separate process (the client never shares the server's thread
/// pool, as no real caller does); <c>--client-process false</c> drives them from this process.
/// <c>dotnet run -c Release --project bench/Shoal.Bench -- cluster [--queries 300] [--duration 3] [--repeat 3] [--warmup 10] [--modes engine,grain,http,client] [--clients 2,8,32] [--shards 1] [--client-process true]</c>
/// </summary>
public sealed class ClusterWorkload : IWorkload
{
    private static readonly string[] KnownModes = ["engine", "grain", "http", "client"];

    public string Name => "cluster";

    public string Description => "search path: engine alone vs coordinator grain, gateway HTTP and client-mode gateway to a silo process (SciFact BM25)";

    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var a = new BenchArgs(args);
        string shared = RepoPaths.SharedData("scifact");
        string corpus = a.String("corpus", Path.Combine(shared, "corpus.jsonl"));
        string topicsPath = a.String("topics", Path.Combine(shared, "queries.test.jsonl"));
        int queryCount = a.Int("queries", 300);
        double duration = a.Double("duration", 3);
        int repeat = a.Int("repeat", 3);
        double warmup = a.Double("warmup", 10); // long enough for tiered compilation to finish the paths a single client runs (2 s left the grain path at half its later rate)
        int shards = a.Int("shards", 1);
        // HTTP clients run in their own process unless --client-process false (then they share the gateway's thread pool).
        bool clientProcess = !string.Equals(a.String("client-process", "true"), "false", StringComparison.OrdinalIgnoreCase);
        const int K = 10;
        var modes = a.String("modes", string.Join(',', KnownModes)).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        foreach (var m in modes)
            if (!KnownModes.Contains(m, StringComparer.Ordinal)) throw new ArgumentException($"--modes takes {string.Join(", ", KnownModes)} (got '{m}').");
        var clients = a.String("clients", "2,8,32").Split(',', StringSplitOptions.RemoveEmptyEntries)
            .Select(c => int.TryParse(c, NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) && n >= 1 ? n : throw new ArgumentException($"--clients takes positive integers (got '{c}')."))
            .ToArray();
        foreach (var f in new[] { corpus, topicsPath })
            if (!File.Exists(f)) throw new ArgumentException($"'{f}' does not exist.");
        if (queryCount < 1 || duration <= 0 || repeat < 1 || shards < 1) throw new ArgumentException("--queries, --duration, --repeat and --shards must be positive.");
        var texts = TopicReader.Load(topicsPath).Take(queryCount).Select(t => t.Text).ToArray();

        string dir = Directory.CreateTempSubdirectory("shoal-bench-cluster-").FullName;
        var measured = new Dictionary<string, ModeFigures>(StringComparer.Ordinal);
        var report = new Report();
        double? httpFloorP50 = null;
        Dictionary<int, double>? httpFloorQps = null;
        using var timings = new StageTimings();
        try
        {
            // (a) The engine alone: one segment over the whole corpus, as one shard serves it.
            var builder = new TextIndexBuilder(1, Bm25Parameters.Default, EnglishAnalyzer.Instance);
            builder.AddRange(CorpusReader.Read(corpus, CorpusFormats.Detect(corpus)), cancellationToken);
            var built = builder.Build(_ => Path.Combine(dir, "engine"), cancellationToken);
            using var segment = TextSegment.Open(built.Shards[0].SegmentPath);
            var engine = new EnginePath(segment);
            var expected = texts.Select(t => engine.Search(t, K)).ToArray();
            Console.WriteLine($"corpus {corpus}: {built.Statistics.DocCount:N0} documents; {texts.Length} queries, k={K}, {shards} shard(s); " +
                              $"{Environment.ProcessorCount} cores (shared machines are noisy: compare within one run)");

            if (modes.Contains("engine"))
                measured["engine"] = await MeasureAsync("engine", engine, texts, expected, K, repeat, duration, warmup, clients, timings, cancellationToken);

            if (modes.Contains("grain") || modes.Contains("http"))
            {
                await using var gateway = await HostedGateway.StartAsync(
                [
                    "--urls", "http://127.0.0.1:0", "--DataDirectory", Path.Combine(dir, "embedded"), "--Corpus", corpus, "--Index", "scifact",
                    "--Shards", shards.ToString(CultureInfo.InvariantCulture), "--SiloPort", "0", "--GatewayPort", "0", "--Bm25Only", "true",
                    "--Logging:LogLevel:Default", "Warning",
                ], DateTime.UtcNow.AddMinutes(1), cancellationToken);
                if (modes.Contains("grain"))
                    measured["grain"] = await MeasureAsync("grain", new GrainPath(gateway.Grains, "scifact"), texts, expected, K, repeat, duration, warmup, clients, timings, cancellationToken);
                if (modes.Contains("http") && clientProcess)
                {
                    (measured["http"], double externalFloor, httpFloorQps) = await MeasureExternalAsync("http", gateway.Address, texts, expected, K, repeat, duration, warmup, clients, timings, cancellationToken);
                    httpFloorP50 = externalFloor;
                    Console.WriteLine($"http floor (GET /health/live) p50 {externalFloor:F3} ms");
                }
                else if (modes.Contains("http"))
                {
                    using var http = new HttpPath(gateway.Address, "scifact");
                    measured["http"] = await MeasureAsync("http", http, texts, expected, K, repeat, duration, warmup, clients, timings, cancellationToken);
                    httpFloorP50 = await FloorAsync(http, texts.Length * repeat, cancellationToken);
                    var floorPath = new HttpFloorPath(http);
                    httpFloorQps = [];
                    foreach (int c in clients) httpFloorQps[c] = await SaturateAsync(floorPath, texts, K, c, duration, cancellationToken);
                    Console.WriteLine($"http floor (GET /health/live) p50 {httpFloorP50:F3} ms");
                }
            }

            if (modes.Contains("client"))
            {
                using var silos = await SiloProcesses.StartAsync(Path.Combine(dir, "silo"), Path.GetDirectoryName(Path.GetFullPath(corpus))!, cancellationToken);
                try
                {
                    await using var gateway = await HostedGateway.StartAsync(
                    [
                        "--Mode", "client", "--Redis", $"127.0.0.1:{silos.RedisPort}", "--ClusterId", silos.ClusterId, "--urls", "http://127.0.0.1:0",
                        "--Corpus", corpus, "--Index", "scifact", "--Shards", shards.ToString(CultureInfo.InvariantCulture),
                        "--Logging:LogLevel:Default", "Warning",
                    ], DateTime.UtcNow.AddMinutes(2), cancellationToken);
                    if (clientProcess)
                    {
                        (measured["client"], _, _) = await MeasureExternalAsync("client", gateway.Address, texts, expected, K, repeat, duration, warmup, clients, timings, cancellationToken);
                    }
                    else
                    {
                        using var http = new HttpPath(gateway.Address, "scifact");
                        measured["client"] = await MeasureAsync("client", http, texts, expected, K, repeat, duration, warmup, clients, timings, cancellationToken);
                    }
                }
                catch (Exception e) when (e is TimeoutException or InvalidOperationException)
                {
                    throw new InvalidOperationException(e.Message + "\n--- silo and redis output ---\n" + silos.Logs(), e);
                }
            }

            Print(report, measured, clients);
            if (httpFloorP50 is { } floor)
            {
                report.Row("HTTP floor: GET /health/live p50 ms (1 client)", Report.F(floor, 3));
                report.Result("http_floor_p50_ms", floor);
            }
            if (httpFloorQps is { Count: > 0 })
            {
                // The most any HTTP search could reach here: the same client and server with no search behind the request.
                var (floorClients, floorQps) = httpFloorQps.MaxBy(q => q.Value);
                double engineQps = measured.TryGetValue("engine", out var e) ? e.Best.Qps : 0;
                double? httpQps = measured.TryGetValue("http", out var h) ? h.Best.Qps : null;
                report.Row($"HTTP floor: GET /health/live q/s at saturation ({string.Join("/", clients)} clients)",
                    string.Join(" / ", clients.Select(c => Report.F(httpFloorQps[c], 0))) + $" (best {floorClients})",
                    engineQps > 0 ? Report.F(engineQps, 0) + " (engine)" : null, engineQps > 0 ? Report.F(100 * floorQps / engineQps, 0) + "% of engine" : null);
                report.Result("http_floor_qps", floorQps);
                if (engineQps > 0)
                {
                    // A search over HTTP costs at least the floor's request plus the engine's search, on the same cores:
                    // its rate cannot pass 1 / (1/floor + 1/engine), however little the path adds between them.
                    double ceiling = 1 / (1 / floorQps + 1 / engineQps);
                    report.Row("HTTP search ceiling here: 1 / (1/floor q/s + 1/engine q/s)", Report.F(ceiling, 0), Report.F(engineQps, 0) + " (engine)",
                        Report.F(100 * ceiling / engineQps, 0) + "% of engine", httpQps.HasValue ? $"http at {100 * httpQps.Value / ceiling:F0}% of it" : null);
                    report.Result("http_qps_ceiling", ceiling);
                    report.Result("http_qps_ceiling_share_of_engine", ceiling / engineQps);
                    if (httpQps.HasValue) report.Result("http_share_of_ceiling", httpQps.Value / ceiling);
                    report.Result("http_floor_share_of_engine", floorQps / engineQps);
                }
                if (httpQps.HasValue) report.Result("http_share_of_floor", httpQps.Value / floorQps);
            }
            report.Print(Console.Out);
            return 0;
        }
        finally
        {
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
        }
    }

    /// <summary>Figures of one path.</summary>
    private sealed record ModeFigures(double P50, double P99, double Mean, Dictionary<int, double> Qps, double Agreement, Dictionary<string, (double MeanMs, long Count)> Stages)
    {
        public (int Clients, double Qps) Best
        {
            get
            {
                (int, double) best = (0, 0);
                foreach (var (clients, qps) in Qps)
                    if (qps > best.Item2) best = (clients, qps);
                return best;
            }
        }
    }

    private static async Task<ModeFigures> MeasureAsync(string mode, ISearchPath path, string[] texts, string[][] expected, int k, int repeat, double duration,
        double warmup, int[] clients, StageTimings timings, CancellationToken cancellationToken)
    {
        var before = timings.Snapshot();
        var (p50, p99, mean, agreement) = await LatencyAsync(path, texts, expected, k, repeat, warmup, cancellationToken, () => before = timings.Snapshot());
        var stages = StageTimings.Between(before, timings.Snapshot());
        var qps = new Dictionary<int, double>();
        var load = path is HttpPath http ? new HttpLoadPath(http) : path; // answers were checked in the latency pass
        foreach (int c in clients) qps[c] = await SaturateAsync(load, texts, k, c, duration, cancellationToken);
        return Reported(mode, new ModeFigures(p50, p99, mean, qps, agreement, stages));
    }

    /// <summary>
    /// Measures an HTTP path with the client in a separate process (<see cref="ClusterClientWorkload"/>):
    /// a first latency pass warms the server (JIT, connections) and is discarded, the second is
    /// measured with the server's stage timings around it, then the saturation runs.
    /// </summary>
    private static async Task<(ModeFigures Figures, double FloorP50, Dictionary<int, double> FloorQps)> MeasureExternalAsync(string mode, Uri address, string[] texts, string[][] expected, int k, int repeat,
        double duration, double warmup, int[] clients, StageTimings timings, CancellationToken cancellationToken)
    {
        var job = new ExternalClientJob(address.ToString(), "scifact", "latency", texts, expected, k, repeat, warmup, duration, clients);
        await ExternalHttpClient.RunAsync(job, cancellationToken);
        var before = timings.Snapshot();
        var latency = await ExternalHttpClient.RunAsync(job with { Warmup = 0 }, cancellationToken);
        var stages = StageTimings.Between(before, timings.Snapshot());
        var saturation = await ExternalHttpClient.RunAsync(job with { Phase = "saturate" }, cancellationToken);
        var qps = clients.ToDictionary(c => c, c => saturation["qps_" + c.ToString(CultureInfo.InvariantCulture)]);
        var floorQps = clients.ToDictionary(c => c, c => saturation["floor_qps_" + c.ToString(CultureInfo.InvariantCulture)]);
        return (Reported(mode, new ModeFigures(latency["p50"], latency["p99"], latency["mean"], qps, latency["agreement"], stages)), latency["floor_p50"], floorQps);
    }

    private static ModeFigures Reported(string mode, ModeFigures f)
    {
        Console.WriteLine($"{mode,-7} p50 {f.P50:F3} ms  p99 {f.P99:F3} ms  mean {f.Mean:F3} ms  top-10 same as engine {f.Agreement:P0}  " +
                          string.Join("  ", f.Qps.Select(q => $"{q.Key} clients {q.Value:F0} q/s")));
        return f;
    }

    /// <summary>
    /// Warm-up (which also checks every answer against the engine's), then <paramref name="repeat"/>
    /// sequential passes over the queries: p50, p99 and mean latency in ms, and the share of
    /// answers equal to the engine's. <paramref name="measuring"/> is called when warm-up ends.
    /// </summary>
    internal static async Task<(double P50, double P99, double Mean, double Agreement)> LatencyAsync(ISearchPath path, string[] texts, string[][] expected, int k,
        int repeat, double warmup, CancellationToken cancellationToken, Action? measuring = null)
    {
        // Warm-up (JIT, caches, connections) that also checks every path returns the engine's answer.
        int same = 0;
        for (int i = 0; i < texts.Length; i++)
            if ((await path.SearchAsync(texts[i], k, cancellationToken)).AsSpan().SequenceEqual(expected[i])) same++;
        double agreement = (double)same / texts.Length;
        // More warm-up until the JIT's optimised tiers are in (tiering waits for a quiet moment, which a busy machine delays).
        var warm = Stopwatch.StartNew();
        for (int i = 0; warm.Elapsed.TotalSeconds < warmup; i = (i + 1) % texts.Length) await path.SearchAsync(texts[i], k, cancellationToken);

        measuring?.Invoke();
        var latencies = new List<double>(texts.Length * repeat);
        for (int r = 0; r < repeat; r++)
        {
            foreach (var text in texts)
            {
                long t0 = Stopwatch.GetTimestamp();
                await path.SearchAsync(text, k, cancellationToken);
                latencies.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
            }
        }
        latencies.Sort();
        return (latencies[latencies.Count / 2], latencies[Math.Min(latencies.Count - 1, (int)(latencies.Count * 0.99))], latencies.Average(), agreement);
    }

    /// <summary>p50 of <paramref name="count"/> sequential <c>GET /health/live</c>.</summary>
    internal static async Task<double> FloorAsync(HttpPath http, int count, CancellationToken cancellationToken)
    {
        var latencies = new List<double>(count);
        for (int i = 0; i < count; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            await http.LiveAsync(cancellationToken);
            latencies.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
        }
        latencies.Sort();
        return latencies[latencies.Count / 2];
    }

    /// <summary>Closed loop: <paramref name="clients"/> callers each send the next query when the last one answered, for <paramref name="seconds"/>.</summary>
    internal static async Task<double> SaturateAsync(ISearchPath path, string[] texts, int k, int clients, double seconds, CancellationToken cancellationToken)
    {
        long done = 0;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var clock = Stopwatch.StartNew();
        var loops = Enumerable.Range(0, clients).Select(c => Task.Run(async () =>
        {
            int i = c * 37 % texts.Length;
            while (!stop.IsCancellationRequested)
            {
                await path.SearchAsync(texts[i], k, cancellationToken);
                Interlocked.Increment(ref done);
                if (++i == texts.Length) i = 0;
            }
        }, cancellationToken)).ToArray();
        await Task.Delay(TimeSpan.FromSeconds(seconds), cancellationToken);
        await stop.CancelAsync();
        long counted = Interlocked.Read(ref done);
        double elapsed = clock.Elapsed.TotalSeconds;
        await Task.WhenAll(loops);
        return counted / elapsed;
    }

    private static void Print(Report report, Dictionary<string, ModeFigures> measured, int[] clients)
    {
        var engine = measured.GetValueOrDefault("engine");
        foreach (var (mode, f) in measured)
        {
            string label = mode switch
            {
                "engine" => "(a) engine alone",
                "grain" => "(b) coordinator grain, in-process",
                "http" => "(c) embedded gateway, HTTP",
                _ => "(d) client gateway -> silo process",
            };
            string? overP50 = engine is null || mode == "engine" ? null : $"+{f.P50 - engine.P50:F3} ms";
            report.Row($"{label}: p50 ms (1 client)", Report.F(f.P50, 3), engine is null || mode == "engine" ? null : Report.F(engine.P50, 3) + " (engine)", overP50,
                mode == "http" ? "<= engine + 0.5 ms" : null);
            report.Row($"{label}: p99 ms (1 client)", Report.F(f.P99, 3));
            var (bestClients, bestQps) = f.Best;
            string? ratio = engine is null || mode == "engine" || engine.Best.Qps == 0 ? null : Report.F(100 * bestQps / engine.Best.Qps, 0) + "% of engine";
            report.Row($"{label}: q/s at saturation ({string.Join("/", clients)} clients)",
                string.Join(" / ", clients.Select(c => Report.F(f.Qps[c], 0))) + $" (best {bestClients})",
                engine is null || mode == "engine" ? null : Report.F(engine.Best.Qps, 0) + " (engine)", ratio, mode == "http" ? ">= 50% of engine" : null);
            if (f.Agreement < 1) report.Row($"{label}: top-10 same as engine", Report.F(f.Agreement, 3));

            string key = mode switch { "engine" => "engine", "grain" => "grain", "http" => "http", _ => "client" };
            report.Result($"{key}_p50_ms", f.P50);
            report.Result($"{key}_p99_ms", f.P99);
            report.Result($"{key}_qps", bestQps);
            report.Result($"{key}_best_clients", bestClients);
            foreach (int c in clients) report.Result($"{key}_qps_{c}", f.Qps[c]);
            report.Result($"{key}_top10_same", f.Agreement);
        }

        // Where the time goes: coordinator stages and shard time (heard in this process) at 1 client.
        foreach (var mode in new[] { "grain", "http" })
        {
            if (!measured.TryGetValue(mode, out var f) || f.Stages.Count == 0) continue;
            double Mean(string key) => f.Stages.TryGetValue(key, out var v) ? v.MeanMs : 0;
            double coordinator = Mean("shoal.query.duration");
            var parts = new List<(string Name, double Ms)>
            {
                ("coordinator: index info", Mean("shoal.query.stage.duration/index")),
                ("coordinator: planning", Mean("shoal.query.stage.duration/plan")),
                ("coordinator: fan-out (shard calls until the last answer)", Mean("shoal.query.stage.duration/scatter")),
                ("  of which shard search (bm25, per shard)", Mean("shoal.shard.search.duration/bm25")),
                ("coordinator: merge", Mean("shoal.query.stage.duration/merge")),
                ("coordinator: fetch", Mean("shoal.query.stage.duration/fetch")),
                ("coordinator total (TookMs)", coordinator),
            };
            if (mode == "grain") parts.Add(("grain call outside the coordinator (Orleans)", f.Mean - coordinator));
            else
            {
                // The embedded gateway calls its silo's coordinator directly (no grain call): the rest is the gateway's.
                parts.Add(("outside the coordinator (HTTP, JSON, gateway, client)", f.Mean - coordinator));
                if (measured.TryGetValue("grain", out var g)) parts.Add(("http mean - grain mean", f.Mean - g.Mean));
            }
            Console.WriteLine($"where the time goes, {mode} path at 1 client (mean ms per search, end to end {f.Mean:F3} ms):");
            foreach (var (name, ms) in parts) Console.WriteLine($"  {name,-58} {ms,8:F4}");
            string prefix = mode == "grain" ? "grain_" : "http_";
            report.Result(prefix + "stage_index_ms", Mean("shoal.query.stage.duration/index"));
            report.Result(prefix + "stage_plan_ms", Mean("shoal.query.stage.duration/plan"));
            report.Result(prefix + "stage_scatter_ms", Mean("shoal.query.stage.duration/scatter"));
            report.Result(prefix + "stage_shard_ms", Mean("shoal.shard.search.duration/bm25"));
            report.Result(prefix + "stage_merge_ms", Mean("shoal.query.stage.duration/merge"));
            report.Result(prefix + "coordinator_ms", coordinator);
            if (mode == "http") report.Result("http_outside_coordinator_ms", f.Mean - coordinator);
            if (mode == "http" && measured.TryGetValue("grain", out var grain))
            {
                report.Result("http_json_ms", f.Mean - grain.Mean);
                report.Result("http_json_p50_ms", f.P50 - grain.P50);
            }
        }
        if (engine is not null && measured.TryGetValue("http", out var h))
        {
            report.Result("http_p50_bar_met", h.P50 <= engine.P50 + 0.5);
            report.Result("http_qps_bar_met", h.Best.Qps >= 0.5 * engine.Best.Qps);
        }
    }
}
