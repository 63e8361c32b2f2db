using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using Shoal.Cli.Commands;
using Shoal.Client;
using Shoal.Evaluation;

namespace Shoal.Integration.Tests;

/// <summary><c>shoal loadtest</c> reports while it runs, not only at the end: rate, p50/p99 so far and errors.</summary>
public sealed class LoadTestLiveTests
{
    /// <summary>A gateway stand-in: each search takes about 5 ms; every fifth is refused (400), every seventh answers partially.</summary>
    private sealed class SlowSearches : HttpMessageHandler
    {
        private int _calls;

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            int n = Interlocked.Increment(ref _calls);
            await Task.Delay(5, cancellationToken);
            if (n % 5 == 0)
                return new HttpResponseMessage(HttpStatusCode.BadRequest)
                {
                    Content = JsonContent.Create(new { title = "Invalid request", status = 400, detail = "refused on purpose" }, mediaType: new("application/problem+json")),
                };
            bool partial = n % 7 == 0;
            return new HttpResponseMessage(HttpStatusCode.OK)
            {
                Content = JsonContent.Create(new
                {
                    index = "idx", version = 1, tookMs = 1.0,
                    hits = new[] { new { id = "d1", score = 1.5, title = (string?)null, snippet = (string?)null } },
                    coverage = new { shards = 2, answered = partial ? 1 : 2, partial, missing = partial ? new[] { 1 } : null },
                }),
            };
        }
    }

    [Fact]
    public async Task Loadtest_reports_snapshots_with_rate_percentiles_and_errors_while_it_runs()
    {
        using var handler = new SlowSearches();
        using var http = new HttpClient(handler, disposeHandler: false) { BaseAddress = new Uri("http://shoal.test/") };
        using var client = new ShoalClient(http, maxRetries: 0);
        var topics = new[] { "wind power", "tides", "coffee" }.Select((t, i) => new Topic($"q{i}", t)).ToList();
        var settings = new LoadTestCommand.Settings("idx", topics, 10, Clients: 2, Rate: null, DurationSeconds: 4, WarmupSeconds: 2.5, MaxRequests: 1_000_000, DeadlineMs: null);
        var snapshots = new ConcurrentQueue<(TimeSpan At, LoadTestCommand.LiveSnapshot Snapshot)>();
        var clock = Stopwatch.StartNew();

        var outcome = await LoadTestCommand.RunAsync(client, settings, CancellationToken.None, s => snapshots.Enqueue((clock.Elapsed, s)));
        var ended = clock.Elapsed;

        Assert.True(outcome.Ok > 0 && outcome.Errors > 0, $"ok {outcome.Ok}, errors {outcome.Errors}");
        var all = snapshots.ToList();
        Assert.Contains(all, x => x.Snapshot.Warmup);
        var measured = all.Where(x => !x.Snapshot.Warmup).ToList();
        // At least one report came a second or more before the run ended, with what was measured so far.
        var early = measured.Where(x => ended - x.At >= TimeSpan.FromSeconds(1)).ToList();
        Assert.True(early.Count > 0, $"no measured snapshot a second before the end ({ended.TotalSeconds:F1} s): {string.Join(", ", all.Select(x => $"{x.At.TotalSeconds:F1}s warmup={x.Snapshot.Warmup} ok={x.Snapshot.Ok}"))}");
        var mid = early[^1].Snapshot;
        Assert.True(mid.Ok > 0 && mid.Ok < outcome.Ok, $"so far {mid.Ok} of {outcome.Ok}");
        Assert.True(mid.Errors > 0 && mid.Errors <= outcome.Errors, $"errors so far {mid.Errors} of {outcome.Errors}");
        Assert.InRange(mid.Partial, 1, outcome.Partial);
        Assert.True(double.IsFinite(mid.P50) && double.IsFinite(mid.P99) && mid.P50 >= 4 && mid.P50 <= mid.P99, $"p50 {mid.P50}, p99 {mid.P99}");
        Assert.InRange(mid.Seconds, 0.01, settings.DurationSeconds);
        // Time and counts only move forward.
        for (int i = 1; i < measured.Count; i++)
        {
            Assert.True(measured[i].Snapshot.Seconds >= measured[i - 1].Snapshot.Seconds);
            Assert.True(measured[i].Snapshot.Ok >= measured[i - 1].Snapshot.Ok);
        }
    }
}
