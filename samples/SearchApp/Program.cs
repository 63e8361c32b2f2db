// A small application over the Shoal.Client package: searches a running gateway.
//   dotnet run -- [--Shoal:BaseAddress http://127.0.0.1:5080] [--Shoal:ApiKey KEY] [--index sample] [--query "how does a search engine rank documents"]
// Prints the hits page by page, then one line: RESULT {"index":...,"hits":N,"pages":P,"measured":M}.
using System.Diagnostics.Metrics;
using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Shoal.Client;

// appsettings.json beside the executable, whatever directory it runs from.
var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = args, ContentRootPath = AppContext.BaseDirectory });
builder.Services.AddShoalClient(builder.Configuration); // the "Shoal" section: BaseAddress, ApiKey, Timeout, MaxRetries, ...
using var host = builder.Build();

string index = builder.Configuration["index"] ?? "sample";
string text = builder.Configuration["query"] ?? "how does a search engine rank documents";

// The SDK's client-side metrics, counted as an OpenTelemetry exporter would see them.
int measured = 0;
using var meters = new MeterListener();
meters.InstrumentPublished = (instrument, listener) =>
{
    if (instrument.Meter.Name == ShoalTelemetry.MeterName) listener.EnableMeasurementEvents(instrument);
};
meters.SetMeasurementEventCallback<double>((_, _, _, _) => Interlocked.Increment(ref measured));
meters.Start();

var shoal = host.Services.GetRequiredService<ShoalClient>();
try
{
    var info = await shoal.GetIndexAsync(index);
    if (info is null)
    {
        await Console.Error.WriteLineAsync($"searchapp: index '{index}' does not exist.");
        return 2;
    }
    await Console.Out.WriteLineAsync($"index {info.Name}: version {info.Version}, {info.DocCount} documents in {info.ShardCount} shards");

    // The typed builder: text to the bm25 channel, 5 hits a page, 3 pages at most.
    var query = ShoalQuery.Bm25(text).ToSearchQuery();
    int hits = 0, pages = 0;
    await foreach (var page in shoal.SearchPagesAsync(index, query, pageSize: 5, maxHits: 15))
    {
        pages++;
        foreach (var hit in page.Hits)
            await Console.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"{++hits,3} {hit.Score,8:F3} {hit.Id} {hit.Title}"));
    }
    await Console.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
        $"RESULT {{\"index\":\"{index}\",\"hits\":{hits},\"pages\":{pages},\"measured\":{measured}}}"));
    return hits > 0 ? 0 : 1;
}
catch (ShoalApiException e)
{
    await Console.Error.WriteLineAsync($"searchapp: {e.Message}");
    return 1;
}
catch (InvalidOperationException e)
{
    // The index published a new version between two pages: the pages would not fit together.
    await Console.Error.WriteLineAsync($"searchapp: {e.Message}");
    return 1;
}
catch (HttpRequestException e)
{
    await Console.Error.WriteLineAsync($"searchapp: cannot reach the gateway: {e.Message}");
    return 1;
}
