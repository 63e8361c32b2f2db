using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection;
using Shoal.Grains.Contracts;
using Shoal.Grains.Encoders;

namespace Shoal.Integration.Tests.WebConsole;

/// <summary>Reads the Prometheus endpoint after real work on the cluster and checks that the figures move.</summary>
[Collection(ConsoleCollection.Name)]
public sealed class MetricsTests(ConsoleCluster cluster)
{
    /// <summary>Sums the samples of <paramref name="series"/> whose labels contain every one of <paramref name="labels"/>.</summary>
    internal static double Sum(string exposition, string series, params string[] labels)
    {
        double total = 0;
        foreach (var line in exposition.Split('\n'))
        {
            if (line.StartsWith('#') || !line.StartsWith(series, StringComparison.Ordinal)) continue;
            int end = line.IndexOfAny(['{', ' ']);
            if (end != series.Length) continue; // another series sharing the prefix
            if (!labels.All(l => line.Contains(l, StringComparison.Ordinal))) continue;
            total += double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture);
        }
        return total;
    }

    private async Task<string> ScrapeAsync()
    {
        using var response = await cluster.Http.GetAsync("metrics");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith("text/plain", response.Content.Headers.ContentType?.MediaType, StringComparison.Ordinal);
        return await response.Content.ReadAsStringAsync();
    }

    [Fact]
    public async Task Searches_move_the_query_series_by_exactly_what_was_asked()
    {
        // The Prometheus exporter answers from a cache for 300 ms: reads below wait that out.
        string before = await ScrapeAsync();
        const int searches = 5;
        for (int i = 0; i < searches; i++)
        {
            using var r = await cluster.PostJsonAsync("v1/indexes/scifact/search", """{"text": "vitamin D deficiency and bone fractures", "k": 5}""");
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        }
        using (var bad = await cluster.PostJsonAsync("v1/indexes/scifact/search", """{"text": "coffee", "k": 0}"""))
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        await Task.Delay(TimeSpan.FromSeconds(1));
        string after = await ScrapeAsync();

        double Delta(string series, params string[] labels) => Sum(after, series, labels) - Sum(before, series, labels);
        const string scifact = "index=\"scifact\"";
        Assert.Equal(searches, Delta("shoal_queries_total", scifact, "outcome=\"ok\""));
        Assert.Equal(1, Delta("shoal_queries_total", scifact, "outcome=\"invalid\""));
        Assert.Equal(searches, Delta("shoal_query_duration_milliseconds_count", scifact, "channels=\"bm25\""));
        Assert.True(Delta("shoal_query_duration_milliseconds_sum", scifact) > 0);
        // Fan-out: every search went to all 4 shards, and all answered.
        Assert.Equal(searches * 4, Delta("shoal_query_fanout_sum", scifact));
        Assert.Equal(searches, Delta("shoal_query_coverage_sum", scifact));
        // Each shard timed its bm25 channel once per search (one replica per shard answers).
        // (a hedged replica call, when a replica is slow, adds one more).
        Assert.InRange(Delta("shoal_shard_search_duration_milliseconds_count", scifact, "channel=\"bm25\""), searches * 4, searches * 8);
    }

    [Fact]
    public async Task Searches_say_how_long_each_coordinator_stage_took()
    {
        string before = await ScrapeAsync();
        const int searches = 3;
        for (int i = 0; i < searches; i++)
        {
            using var r = await cluster.PostJsonAsync("v1/indexes/scifact/search", """{"text": "statins and heart disease", "k": 5}""");
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        }
        await Task.Delay(TimeSpan.FromSeconds(1));
        string after = await ScrapeAsync();

        double Delta(string series, params string[] labels) => Sum(after, series, labels) - Sum(before, series, labels);
        const string scifact = "index=\"scifact\"";
        foreach (var stage in new[] { "index", "plan", "scatter", "merge" })
            Assert.Equal(searches, Delta("shoal_query_stage_duration_milliseconds_count", scifact, $"stage=\"{stage}\""));
        // A single-channel search has no fetch phase.
        Assert.Equal(0, Delta("shoal_query_stage_duration_milliseconds_count", scifact, "stage=\"fetch\""));
        // The stages lie within the coordinator's own latency.
        Assert.True(Delta("shoal_query_stage_duration_milliseconds_sum", scifact) <= Delta("shoal_query_duration_milliseconds_sum", scifact) + 0.001);
        Assert.True(Delta("shoal_query_stage_duration_milliseconds_sum", scifact, "stage=\"scatter\"") > 0);
    }

    [Fact]
    public async Task Orleans_and_aspnetcore_meters_are_exported_beside_shoals()
    {
        string text = await ScrapeAsync();
        Assert.Contains("\nhttp_server_request_duration_seconds_bucket{", text, StringComparison.Ordinal);
        Assert.Contains("\norleans_", text, StringComparison.Ordinal);
        // Restores and uploads happened while the fixture built its indexes.
        Assert.True(Sum(text, "shoal_snapshot_bytes_total", "index=\"scifact\"") > 1_000_000);
        Assert.True(Sum(text, "shoal_restore_bytes_total", "index=\"scifact\"") > 1_000_000);
    }

    [Fact]
    public async Task Encoding_updates_and_merges_show_in_their_series()
    {
        string before = await ScrapeAsync();
        using (var r = await cluster.PostJsonAsync("v1/indexes/tides/search", """{"text": "what makes the tides", "k": 3}"""))
        {
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            var body = JsonDocument.Parse(await r.Content.ReadAsStringAsync()).RootElement;
            Assert.Equal(["bm25", "dense"], body.GetProperty("channels").EnumerateArray().Select(c => c.GetString()!).ToArray());
        }
        using (var r = await cluster.PostJsonAsync("v1/indexes/tides/documents", """{"documents": [{"id": "m1", "title": "Moon", "text": "The moon raises tides twice a day."}]}"""))
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        await Task.Delay(TimeSpan.FromSeconds(1));
        string buffered = await ScrapeAsync();
        Assert.True(Sum(buffered, "shoal_encoder_texts_total", "encoder=\"dense\"") - Sum(before, "shoal_encoder_texts_total", "encoder=\"dense\"") >= 2,
            "the query and the upserted document were encoded");
        Assert.True(Sum(buffered, "shoal_encoder_encode_duration_milliseconds_count", "encoder=\"dense\"") > Sum(before, "shoal_encoder_encode_duration_milliseconds_count", "encoder=\"dense\""));
        Assert.True(Sum(buffered, "shoal_encoder_batch_size_count") > 0);
        Assert.True(Sum(buffered, "shoal_live_buffer_documents", "index=\"tides\"", "kind=\"upserted\"") >= 1);
        Assert.Contains("shoal_encoder_queue_depth{", buffered, StringComparison.Ordinal);

        using (var merge = await cluster.Http.PostAsync("v1/indexes/tides/merge", null))
            Assert.Equal(HttpStatusCode.Accepted, merge.StatusCode);
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while (true)
        {
            var info = JsonDocument.Parse(await cluster.Http.GetStringAsync("v1/indexes/tides")).RootElement;
            string? state = info.GetProperty("updates").GetProperty("merge").GetProperty("state").GetString();
            if (state == "succeeded") break;
            Assert.NotEqual("failed", state);
            Assert.True(DateTime.UtcNow < deadline, "merge did not finish");
            await Task.Delay(200);
        }
        await Task.Delay(TimeSpan.FromSeconds(1));
        string merged = await ScrapeAsync();
        Assert.True(Sum(merged, "shoal_merge_duration_seconds_count", "index=\"tides\"", "outcome=\"succeeded\"") >= 1);
        Assert.Equal(0, Sum(merged, "shoal_live_buffer_documents", "index=\"tides\"", "kind=\"upserted\""));
    }

    [Fact]
    public async Task Concurrent_encodes_raise_the_queue_depth_gauge_until_their_batch_runs()
    {
        // The waiting encoder's batches start 8 s after their first request (no early dispatch, up
        // to 64 requests): requests sent together are all in its queue until then.
        const int requests = 6;
        const string depth = "shoal_encoder_queue_depth";
        const string waiting = $"encoder=\"{ConsoleCluster.WaitingEncoder}\"";
        const string batcher = $"batcher=\"{ConsoleCluster.WaitingEncoder}\"";
        var encoders = cluster.Services.GetRequiredService<IEncoderService>();
        await encoders.DescribeAsync(ConsoleCluster.WaitingEncoder); // the catalog is known before the clock starts
        string before = await ScrapeAsync();
        Assert.Single(Lines(before, depth, waiting));
        Assert.Equal(0, Sum(before, depth, waiting));

        var started = DateTime.UtcNow;
        var encodes = Enumerable.Range(0, requests)
            .Select(i => Task.Run(() => encoders.EncodeQueryAsync(ConsoleCluster.WaitingEncoder, $"what makes the tides {i}")))
            .ToArray();
        // Scrape while they wait (the exporter caches a scrape for 300 ms): the gauge climbs to all of them.
        var seen = new List<double>();
        while (DateTime.UtcNow - started < ConsoleCluster.WaitingEncoderBatchWait - TimeSpan.FromSeconds(1)
               && (seen.Count == 0 || seen[^1] < requests))
        {
            seen.Add(Sum(await ScrapeAsync(), depth, waiting));
            await Task.Delay(100);
        }
        Assert.True(seen.Count > 0 && seen[^1] == requests, "queue depths seen: " + string.Join(", ", seen));
        Assert.All(encodes, e => Assert.False(e.IsCompleted, "an encode finished before its batch was due"));

        // Then one batch encodes them all and the queue is empty again.
        var encoded = await Task.WhenAll(encodes);
        Assert.All(encoded, e => Assert.NotNull(e.Dense));
        await Task.Delay(TimeSpan.FromSeconds(1));
        string after = await ScrapeAsync();
        Assert.Equal(0, Sum(after, depth, waiting));
        Assert.Equal(1, Sum(after, "shoal_encoder_batch_size_count", batcher) - Sum(before, "shoal_encoder_batch_size_count", batcher));
        Assert.Equal(requests, Sum(after, "shoal_encoder_batch_size_sum", batcher) - Sum(before, "shoal_encoder_batch_size_sum", batcher));
    }

    /// <summary>The sample lines of <paramref name="series"/> whose labels contain every one of <paramref name="labels"/>.</summary>
    internal static string[] Lines(string exposition, string series, params string[] labels) =>
    [
        .. exposition.Split('\n').Where(line => line.StartsWith(series, StringComparison.Ordinal) && line.IndexOfAny(['{', ' ']) == series.Length
                                                 && labels.All(l => line.Contains(l, StringComparison.Ordinal))),
    ];

    /// <summary>The <c># TYPE</c> lines of Shoal's families: name to kind (counter, gauge, histogram).</summary>
    internal static Dictionary<string, string> ShoalFamilies(string exposition)
    {
        var families = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in exposition.Split('\n'))
        {
            var parts = line.Split(' ');
            if (parts.Length == 4 && parts[0] == "#" && parts[1] == "TYPE" && parts[2].StartsWith("shoal_", StringComparison.Ordinal))
                families[parts[2]] = parts[3].Trim();
        }
        return families;
    }

    private Task IngestOnceAsync(string index, int shards, int replicas) => cluster.EnsureSampleIndexAsync(index, shards, replicas);

    /// <summary>Searches of <see cref="ConsoleCluster.SlowIndex"/> by a coordinator on silo B, which prefers its local (slow) replicas.</summary>
    private async Task SearchSlowReplicasAsync(int searches)
    {
        await IngestOnceAsync(ConsoleCluster.SlowIndex, shards: 2, replicas: 2);
        var coordinator = cluster.SiloBGrains.GetGrain<IQueryCoordinatorGrain>(0);
        for (int i = 0; i < searches; i++)
        {
            var r = await coordinator.SearchAsync(new SearchRequest { Index = ConsoleCluster.SlowIndex, Text = "wind turbines and electricity", K = 3, DeadlineMs = 10_000 });
            Assert.Equal(SearchStatus.Ok, r.Status);
            Assert.False(r.Coverage.Partial, "a hedge to the replica on silo A answers in time");
        }
    }

    /// <summary>Searches of <see cref="ConsoleCluster.FailingIndex"/> (one replica per shard, those on silo B fail) over HTTP: (partial answers, missing shards).</summary>
    private async Task<(int Partial, int Missing)> SearchFailingShardsAsync(int searches)
    {
        await IngestOnceAsync(ConsoleCluster.FailingIndex, shards: 4, replicas: 1);
        int partial = 0, missing = 0;
        for (int i = 0; i < searches; i++)
        {
            using var r = await cluster.PostJsonAsync($"v1/indexes/{ConsoleCluster.FailingIndex}/search", """{"text": "tides and the moon", "k": 3}""");
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            var coverage = JsonDocument.Parse(await r.Content.ReadAsStringAsync()).RootElement.GetProperty("coverage");
            if (coverage.GetProperty("partial").GetBoolean()) partial++;
            missing += coverage.GetProperty("missing").GetArrayLength();
        }
        return (partial, missing);
    }

    [Fact]
    public async Task Slow_replicas_are_hedged_and_failing_shards_make_partial_answers_in_their_series()
    {
        // Learn where the replicas are first: the coordinator then prefers silo B's own (slow) ones.
        await SearchSlowReplicasAsync(1);
        await SearchFailingShardsAsync(1);
        await Task.Delay(TimeSpan.FromSeconds(1));
        string before = await ScrapeAsync();
        const int searches = 4;
        await SearchSlowReplicasAsync(searches);
        var (partial, missing) = await SearchFailingShardsAsync(searches);
        await Task.Delay(TimeSpan.FromSeconds(1));
        string after = await ScrapeAsync();
        double Delta(string series, params string[] labels) => Sum(after, series, labels) - Sum(before, series, labels);
        void Moved(double expected, string series, params string[] labels) =>
            Assert.True(expected == Delta(series, labels),
                $"{series} {string.Join(",", labels)} moved by {Delta(series, labels)}, expected {expected}; before: {string.Join(" | ", Lines(before, series))}; after: {string.Join(" | ", Lines(after, series))}");

        // Every search waited for a slow replica of each of the 2 shards on silo B, then hedged.
        const string slow = $"index=\"{ConsoleCluster.SlowIndex}\"";
        Assert.InRange(Delta("shoal_query_hedged_total", slow), searches, searches * 2);
        Moved(searches, "shoal_queries_total", slow, "outcome=\"ok\"");

        // The shards on silo B fail: every search is partial, and the series count exactly what the answers said.
        const string failing = $"index=\"{ConsoleCluster.FailingIndex}\"";
        Assert.True(partial == searches && missing >= searches, $"{partial} partial answers, {missing} missing shards: the shards should be spread over both silos");
        Moved(partial, "shoal_queries_total", failing, "outcome=\"partial\"");
        Moved(partial, "shoal_gateway_search_duration_milliseconds_count", failing, "outcome=\"partial\"");
        Moved(missing, "shoal_query_missing_shards_total", failing, "reason=\"failed\"");
        Moved(0, "shoal_query_missing_shards_total", failing, "reason=\"deadline\"");
    }

    [Fact]
    public async Task Shards_on_another_silo_are_reached_in_one_message_per_search()
    {
        // 4 shards, one replica each, spread over both silos; the coordinator (silo A, the gateway's)
        // learns where they answered from on the first search and then batches silo B's shards.
        const string index = "spreadshards";
        await IngestOnceAsync(index, shards: 4, replicas: 1);
        async Task SearchAsync()
        {
            using var r = await cluster.PostJsonAsync($"v1/indexes/{index}/search", """{"text": "wind turbines and electricity", "k": 3}""");
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        }
        await SearchAsync();
        var shardMap = JsonDocument.Parse(await cluster.Http.GetStringAsync("v1/cluster")).RootElement.GetProperty("indexes").EnumerateArray()
            .Single(i => i.GetProperty("name").GetString() == index).GetProperty("shards").EnumerateArray()
            .GroupBy(r => r.GetProperty("silo").GetString()!).Select(g => g.Count()).ToArray();
        Assert.True(shardMap.Length == 2 && shardMap.All(n => n >= 2), $"shards per silo: {string.Join(", ", shardMap)}");
        await Task.Delay(TimeSpan.FromSeconds(1));
        string before = await ScrapeAsync();
        const int searches = 4;
        for (int i = 0; i < searches; i++) await SearchAsync();
        await Task.Delay(TimeSpan.FromSeconds(1));
        string after = await ScrapeAsync();
        const string label = $"index=\"{index}\"";
        Assert.True(Sum(after, "shoal_query_silo_batches_total", label) - Sum(before, "shoal_query_silo_batches_total", label) == searches,
            $"before: {string.Join(" | ", Lines(before, "shoal_query_silo_batches_total"))}; after: {string.Join(" | ", Lines(after, "shoal_query_silo_batches_total"))}");
    }

    /// <summary>Runs an indexing job of SciFact through the API, scraping /metrics while it runs: (scrapes taken while it ran, the final status).</summary>
    private async Task<(List<string> During, JsonElement Status)> RunJobAsync(string index)
    {
        string body = JsonSerializer.Serialize(new { index, source = cluster.SciFactCorpus, shards = 2, chunkLines = 500 });
        using var submitted = await cluster.PostJsonAsync("v1/jobs", body);
        Assert.Equal(HttpStatusCode.Accepted, submitted.StatusCode);
        string id = JsonDocument.Parse(await submitted.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString()!;
        var during = new List<string>();
        var deadline = DateTime.UtcNow.AddMinutes(4);
        while (true)
        {
            var status = JsonDocument.Parse(await cluster.Http.GetStringAsync($"v1/jobs/{id}")).RootElement;
            string state = status.GetProperty("state").GetString()!;
            if (state != "running") return (during, status);
            during.Add(await ScrapeAsync());
            Assert.True(DateTime.UtcNow < deadline, "job did not finish: " + status);
            await Task.Delay(150);
        }
    }

    [Fact]
    public async Task An_indexing_job_moves_the_job_and_transfer_series()
    {
        const string index = "metricsjob";
        string before = await ScrapeAsync();
        var (during, status) = await RunJobAsync(index);
        Assert.Equal("succeeded", status.GetProperty("state").GetString());
        await Task.Delay(TimeSpan.FromSeconds(1));
        string after = await ScrapeAsync();

        const string label = $"index=\"{index}\"";
        Assert.Equal(5183, Sum(after, "shoal_job_documents_total", label) - Sum(before, "shoal_job_documents_total", label));
        // While it ran, the gauges showed it: running in some phase, at some rate.
        Assert.Contains(during, text => Sum(text, "shoal_jobs_running") >= 1);
        Assert.Contains(during, text => Lines(text, "shoal_job_throughput_per_second", label).Length > 0);
        Assert.Equal(0, Sum(after, "shoal_jobs_running"));
        // Its segments were uploaded, each a transfer with a rate.
        Assert.True(Sum(after, "shoal_snapshot_bytes_total", label) > 1_000_000);
        Assert.True(Sum(after, "shoal_snapshot_transfer_rate_megabytes_per_second_count", "direction=\"upload\"")
                    > Sum(before, "shoal_snapshot_transfer_rate_megabytes_per_second_count", "direction=\"upload\""));
    }

    [Fact]
    public async Task The_readme_metrics_table_names_exactly_the_shoal_series_on_metrics()
    {
        // The README's table: | `shoal_...` | kind | labels | what |
        string readme = await File.ReadAllTextAsync(Path.Combine(Paths.RepoRoot, "README.md"));
        var documented = Regex.Matches(readme, @"^\| `(shoal_[a-z_]+)` \| (counter|gauge|histogram) \|", RegexOptions.Multiline)
            .ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value, StringComparer.Ordinal);
        Assert.True(documented.Count >= 20, $"README metrics table not found ({documented.Count} rows)");

        // Real traffic that touches every series: searches (ok, hedged, partial), an encoded
        // search, an update and its merge, and an indexing job (its gauges exist while it runs).
        using (var r = await cluster.PostJsonAsync("v1/indexes/scifact/search", """{"text": "statins and heart disease", "k": 5}"""))
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        await SearchSlowReplicasAsync(2);
        await SearchFailingShardsAsync(1);
        await IngestOnceAsync("spreadshards", shards: 4, replicas: 1);
        for (int i = 0; i < 2; i++)
        {
            using var r = await cluster.PostJsonAsync("v1/indexes/spreadshards/search", """{"text": "tides", "k": 3}""");
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        }
        using (var r = await cluster.PostJsonAsync("v1/indexes/tides/search", """{"text": "what makes the tides", "k": 3}"""))
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        using (var r = await cluster.PostJsonAsync("v1/indexes/tides/documents", """{"documents": [{"id": "readme-1", "title": "Moon", "text": "The moon raises tides."}]}"""))
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        var scrapes = new List<string> { await ScrapeAsync() }; // the live buffer holds the update now
        using (var merge = await cluster.Http.PostAsync("v1/indexes/tides/merge", null))
            Assert.Equal(HttpStatusCode.Accepted, merge.StatusCode);
        var (during, status) = await RunJobAsync("readmejob");
        Assert.Equal("succeeded", status.GetProperty("state").GetString());
        scrapes.AddRange(during);
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while (JsonDocument.Parse(await cluster.Http.GetStringAsync("v1/indexes/tides")).RootElement
                   .GetProperty("updates").GetProperty("merge").GetProperty("state").GetString() is not "succeeded")
        {
            Assert.True(DateTime.UtcNow < deadline, "merge of tides did not finish");
            await Task.Delay(200);
        }
        await Task.Delay(TimeSpan.FromSeconds(1));
        scrapes.Add(await ScrapeAsync());

        var exported = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var text in scrapes)
            foreach (var (name, kind) in ShoalFamilies(text))
                exported[name] = kind;
        Assert.Empty(exported.Keys.Except(documented.Keys).Order(StringComparer.Ordinal)); // exported but not in the README
        Assert.Empty(documented.Keys.Except(exported.Keys).Order(StringComparer.Ordinal)); // in the README but never exported
        foreach (var (name, kind) in documented)
            Assert.True(exported[name] == kind, $"{name}: README says {kind}, /metrics says {exported[name]}");
    }
}
