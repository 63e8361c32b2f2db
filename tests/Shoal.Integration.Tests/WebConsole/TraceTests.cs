using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;

namespace Shoal.Integration.Tests.WebConsole;

/// <summary>One search is one trace: the HTTP request, the coordinator, every shard and the encoder pool on the other silo.</summary>
[Collection(ConsoleCollection.Name)]
public sealed class TraceTests(ConsoleCluster cluster)
{
    [Fact]
    public async Task A_search_is_one_trace_through_gateway_coordinator_shards_and_encoder_pool()
    {
        var finished = new ConcurrentBag<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name is "Shoal" or "Microsoft.AspNetCore" || s.Name.StartsWith("Microsoft.Orleans", StringComparison.Ordinal),
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = finished.Add,
        };
        ActivitySource.AddActivityListener(listener);

        using (var r = await cluster.PostJsonAsync("v1/indexes/tides/search", """{"text": "how do tides work", "k": 3}"""))
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        await Task.Delay(500); // spans of cancelled stragglers end after the response

        var server = finished.Single(a => a.Source.Name == "Microsoft.AspNetCore" && a.Kind == ActivityKind.Server
                                          && (a.GetTagItem("url.path") as string ?? a.DisplayName).Contains("/v1/indexes/tides/search", StringComparison.Ordinal));
        var trace = finished.Where(a => a.TraceId == server.TraceId).ToList();
        var search = Assert.Single(trace, a => a.OperationName == "shoal.search");
        Assert.Equal("tides", search.GetTagItem("shoal.index"));
        Assert.Equal("ok", search.GetTagItem("shoal.outcome"));
        // Both shards of the index answered inside the same trace, below the coordinator's span.
        var shards = trace.Where(a => a.OperationName == "shoal.shard.search").ToList();
        Assert.Equal([0, 1], shards.Select(a => (int)a.GetTagItem("shoal.shard")!).Order().ToArray());
        Assert.All(shards, s => Assert.True(IsBelow(s, search, trace), "a shard span hangs below the search span"));
        // The dense channel's text went to the encoder pool on silo B.
        var encode = Assert.Single(trace, a => a.OperationName == "shoal.encode");
        Assert.Equal("dense", encode.GetTagItem("shoal.encoder"));
        Assert.True(IsBelow(encode, search, trace));
        Assert.True(IsBelow(search, server, trace));
        // Orleans' own grain-call spans carried the context between the grains.
        Assert.Contains(trace, a => a.Source.Name.StartsWith("Microsoft.Orleans", StringComparison.Ordinal));
    }

    private static bool IsBelow(Activity child, Activity ancestor, List<Activity> trace)
    {
        var byId = trace.ToDictionary(a => a.SpanId);
        for (var parent = child.ParentSpanId; parent != default;)
        {
            if (parent == ancestor.SpanId) return true;
            if (!byId.TryGetValue(parent, out var next)) return false;
            parent = next.ParentSpanId;
        }
        return false;
    }
}
