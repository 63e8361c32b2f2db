using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using Shoal.Client;
using Shoal.Evaluation;

namespace Shoal.Cli.Commands;

/// <summary>
/// <c>shoal loadtest</c>: drives a gateway with real searches and reports throughput, latency
/// percentiles, errors and partial answers, ending with <c>RESULT {json}</c>. Closed loop
/// (<c>--clients N</c>: each client sends its next query when the last one returns) or open loop
/// (<c>--rate R</c>: queries are sent on a fixed schedule and latency is measured from the
/// scheduled time, so a stalled server cannot hide its queueing). Always bounded by
/// <c>--duration</c> and <c>--max-requests</c>.
/// </summary>
internal static class LoadTestCommand
{
    public static Command Create()
    {
        var url = CommonOptions.Url();
        var index = CommonOptions.Index();
        var queries = new Option<FileInfo>("--queries") { Description = "Query texts: BEIR queries.jsonl or TSV (qid<TAB>text); .gz accepted.", Required = true };
        var k = new Option<int>("--k") { Description = "Hits per query.", DefaultValueFactory = _ => 10 };
        var clients = new Option<int>("--clients") { Description = "Closed loop: concurrent clients.", DefaultValueFactory = _ => 8 };
        var rate = new Option<double?>("--rate") { Description = "Open loop: target queries per second (overrides --clients)." };
        var duration = new Option<double>("--duration") { Description = "Seconds to run (1..3600).", DefaultValueFactory = _ => 10 };
        var warmup = new Option<double>("--warmup") { Description = "Seconds of unmeasured warm-up.", DefaultValueFactory = _ => 2 };
        var maxRequests = new Option<int>("--max-requests") { Description = "Stop after this many measured requests.", DefaultValueFactory = _ => 1_000_000 };
        var deadline = new Option<int?>("--deadline-ms") { Description = "Per-request deadline passed to the cluster." };
        var allowRemote = new Option<bool>("--allow-remote") { Description = "Allow a gateway that is not on loopback." };
        var timeline = new Option<FileInfo?>("--timeline") { Description = "Write one JSON line per measured query (scheduled send time in Unix ms, latency, outcome) to this file." };
        var command = new Command("loadtest", "Measure queries/s and latency percentiles against a running gateway.")
        {
            url, index, queries, k, clients, rate, duration, warmup, maxRequests, deadline, allowRemote, timeline,
        };
        command.SetAction(async (parse, ct) =>
        {
            var target = parse.GetUrl(url);
            if (!parse.GetValue(allowRemote) && !target.IsLoopback)
                return CommonOptions.Fail($"{target} is not a loopback address; pass --allow-remote to load a remote gateway.", 2);
            var file = parse.GetValue(queries)!;
            if (!file.Exists) return CommonOptions.Fail($"queries file '{file.FullName}' does not exist.", 2);
            IReadOnlyList<Topic> topics;
            try { topics = TopicReader.Load(file.FullName); }
            catch (FormatException e) { return CommonOptions.Fail(e.Message, 2); }
            if (topics.Count == 0) return CommonOptions.Fail($"'{file.FullName}' holds no queries.", 2);
            double seconds = parse.GetValue(duration);
            if (seconds is < 1 or > 3600) return CommonOptions.Fail("--duration must be between 1 and 3600 seconds.", 2);
            int n = parse.GetValue(clients);
            if (n is < 1 or > 1024) return CommonOptions.Fail("--clients must be between 1 and 1024.", 2);
            double? r = parse.GetValue(rate);
            if (r is <= 0 or > 100_000) return CommonOptions.Fail("--rate must be between 0 and 100000 queries/s.", 2);

            var settings = new Settings(parse.GetValue(index)!, topics, parse.GetValue(k), n, r, seconds, parse.GetValue(warmup),
                parse.GetValue(maxRequests), parse.GetValue(deadline));
            using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 4096, PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
            {
                BaseAddress = target,
                Timeout = TimeSpan.FromSeconds(60),
            };
            parse.AddApiKey(http);
            using var client = new ShoalClient(http, maxRetries: 0);
            using var recorder = parse.GetValue(timeline) is { } timelineFile ? new LoadTestTimeline(timelineFile.FullName) : null;
            var line = new LiveLine();
            var result = await RunAsync(client, settings, ct, p => line.Update(LiveText(p, settings), p.Warmup ? "warm-up" : "measuring"), recorder);
            line.Complete(LiveText(LiveSnapshot.Final(result), settings));
            Print(result, settings, Console.Out);
            return result.Ok == 0 ? 1 : 0;
        });
        return command;
    }

    internal sealed record Settings(string Index, IReadOnlyList<Topic> Topics, int K, int Clients, double? Rate,
        double DurationSeconds, double WarmupSeconds, int MaxRequests, int? DeadlineMs);

    internal sealed record Outcome(int Ok, int Errors, int Partial, double ElapsedSeconds, double[] LatenciesMs, string? FirstError);

    /// <summary>The run so far, reported about once a second: measured answers, errors, partial answers, percentiles so far.</summary>
    internal sealed record LiveSnapshot(bool Warmup, double Seconds, int Ok, int Errors, int Partial, double P50, double P99)
    {
        public static LiveSnapshot Final(Outcome o) =>
            new(false, o.ElapsedSeconds, o.Ok, o.Errors, o.Partial, Percentile(o.LatenciesMs, 50), Percentile(o.LatenciesMs, 99));
    }

    private static string LiveText(LiveSnapshot p, Settings s) => p.Warmup
        ? string.Create(CultureInfo.InvariantCulture, $"warm-up {p.Seconds,5:F1} s of {s.WarmupSeconds:F0} s")
        : string.Create(CultureInfo.InvariantCulture,
            $"{p.Seconds,5:F1} s of {s.DurationSeconds:F0} s  {(p.Seconds > 0 ? p.Ok / p.Seconds : 0),9:F1} q/s  p50 {p.P50,7:F2} ms  p99 {p.P99,7:F2} ms  {p.Errors} errors  {p.Partial} partial");

    internal static async Task<Outcome> RunAsync(ShoalClient client, Settings s, CancellationToken cancellationToken, Action<LiveSnapshot>? live = null,
        LoadTestTimeline? timeline = null)
    {
        var latencies = new List<double>(100_000);
        int errors = 0, partial = 0, issued = 0, cursor = 0;
        string? firstError = null;
        var gate = new object();

        async Task OneAsync(long scheduledTicks, bool measured)
        {
            var topic = s.Topics[(int)((uint)Interlocked.Increment(ref cursor) % (uint)s.Topics.Count)];
            try
            {
                var res = await client.SearchAsync(s.Index, new SearchQuery(topic.Text, s.K, s.DeadlineMs, IncludeStored: false), cancellationToken);
                double ms = Stopwatch.GetElapsedTime(scheduledTicks).TotalMilliseconds;
                if (!measured) return;
                lock (gate)
                {
                    latencies.Add(ms);
                    if (res.Coverage.Partial) partial++;
                }
                timeline?.Record(scheduledTicks, ms, res.Coverage.Partial ? "partial" : "ok", null);
            }
            catch (Exception e) when (e is ShoalApiException or HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
                if (!measured) return;
                lock (gate)
                {
                    errors++;
                    firstError ??= e.Message;
                }
                timeline?.Record(scheduledTicks, Stopwatch.GetElapsedTime(scheduledTicks).TotalMilliseconds, "error", e.Message);
            }
        }

        long start = Stopwatch.GetTimestamp();
        double total = s.WarmupSeconds + s.DurationSeconds;
        using var reporting = new CancellationTokenSource();
        var reporter = live is null ? Task.CompletedTask : Task.Run(async () =>
        {
            using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
            try
            {
                while (await timer.WaitForNextTickAsync(reporting.Token))
                {
                    double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
                    if (seconds < s.WarmupSeconds)
                    {
                        live(new LiveSnapshot(true, seconds, 0, 0, 0, double.NaN, double.NaN));
                        continue;
                    }
                    double[] sofar;
                    int e, p;
                    lock (gate)
                    {
                        sofar = latencies.ToArray();
                        e = errors;
                        p = partial;
                    }
                    Array.Sort(sofar);
                    live(new LiveSnapshot(false, Math.Min(seconds - s.WarmupSeconds, s.DurationSeconds), sofar.Length, e, p, Percentile(sofar, 50), Percentile(sofar, 99)));
                }
            }
            catch (OperationCanceledException)
            {
            }
        }, CancellationToken.None);
        bool Measured(long t) => Stopwatch.GetElapsedTime(start, t).TotalSeconds >= s.WarmupSeconds;
        bool More() => Stopwatch.GetElapsedTime(start).TotalSeconds < total && Volatile.Read(ref issued) < s.MaxRequests && !cancellationToken.IsCancellationRequested;

        if (s.Rate is { } rate)
        {
            // Open loop: request i is due at start + i / rate, whether or not earlier ones returned.
            var inflight = new List<Task>();
            for (long i = 0; More(); i++)
            {
                long due = start + (long)(i / rate * Stopwatch.Frequency);
                var wait = TimeSpan.FromSeconds((due - Stopwatch.GetTimestamp()) / (double)Stopwatch.Frequency);
                if (wait > TimeSpan.Zero) await Task.Delay(wait, cancellationToken);
                // A timer may fire up to a tick early; a request sent before its due time would
                // report a latency that is too short (even negative), so wait out the remainder.
                while (Stopwatch.GetTimestamp() < due) Thread.Yield();
                bool measured = Measured(due);
                if (measured) Interlocked.Increment(ref issued);
                inflight.Add(OneAsync(due, measured));
                if (inflight.Count > 4096) inflight.RemoveAll(t => t.IsCompleted);
            }
            await Task.WhenAll(inflight);
        }
        else
        {
            await Task.WhenAll(Enumerable.Range(0, s.Clients).Select(async _ =>
            {
                while (More())
                {
                    long now = Stopwatch.GetTimestamp();
                    bool measured = Measured(now);
                    if (measured) Interlocked.Increment(ref issued);
                    await OneAsync(now, measured);
                }
            }));
        }
        await reporting.CancelAsync();
        await reporter;
        double elapsed = Math.Max(1e-9, Stopwatch.GetElapsedTime(start).TotalSeconds - s.WarmupSeconds);
        var sorted = latencies.ToArray();
        Array.Sort(sorted);
        return new Outcome(sorted.Length, errors, partial, Math.Min(elapsed, s.DurationSeconds), sorted, firstError);
    }

    /// <summary>Nearest-rank percentile of sorted values.</summary>
    internal static double Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(p / 100 * sorted.Length) - 1, 0, sorted.Length - 1)];

    private static void Print(Outcome o, Settings s, TextWriter output)
    {
        var inv = CultureInfo.InvariantCulture;
        double qps = o.Ok / o.ElapsedSeconds;
        string mode = s.Rate is { } r ? string.Create(inv, $"open loop at {r:F0} q/s") : $"closed loop, {s.Clients} clients";
        output.WriteLine(string.Create(inv, $"{mode}, {o.ElapsedSeconds:F1} s measured after {s.WarmupSeconds:F0} s warm-up, index {s.Index}, k={s.K}"));
        output.WriteLine(string.Create(inv, $"| requests ok | errors | partial | queries/s | p50 ms | p95 ms | p99 ms | max ms |"));
        output.WriteLine("|---|---|---|---|---|---|---|---|");
        output.WriteLine(string.Create(inv,
            $"| {o.Ok} | {o.Errors} | {o.Partial} | {qps:F1} | {Percentile(o.LatenciesMs, 50):F2} | {Percentile(o.LatenciesMs, 95):F2} | {Percentile(o.LatenciesMs, 99):F2} | {(o.LatenciesMs.Length == 0 ? double.NaN : o.LatenciesMs[^1]):F2} |"));
        if (o.FirstError is not null) output.WriteLine($"first error: {o.FirstError}");
        var result = new Dictionary<string, object>
        {
            ["mode"] = s.Rate is null ? "closed" : "open",
            ["clients"] = s.Clients,
            ["rate"] = s.Rate ?? 0,
            ["requests"] = o.Ok,
            ["errors"] = o.Errors,
            ["partial"] = o.Partial,
            ["qps"] = Math.Round(qps, 1),
            ["p50_ms"] = Math.Round(Percentile(o.LatenciesMs, 50), 3),
            ["p95_ms"] = Math.Round(Percentile(o.LatenciesMs, 95), 3),
            ["p99_ms"] = Math.Round(Percentile(o.LatenciesMs, 99), 3),
            ["duration_s"] = Math.Round(o.ElapsedSeconds, 2),
        };
        output.WriteLine("RESULT " + JsonSerializer.Serialize(result));
    }
}
