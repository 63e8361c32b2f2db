using System.Globalization;
using System.Net;
using System.Text.Json;

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
}
