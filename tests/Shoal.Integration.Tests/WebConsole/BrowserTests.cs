using System.Text.Json;
using PuppeteerSharp;

namespace Shoal.Integration.Tests.WebConsole;

/// <summary>
/// The web console in a real browser: Debian's headless Chromium driven by PuppeteerSharp against
/// the two-silo cluster. Every page must load without console errors; screenshots of each page
/// are written to <c>screenshots/</c> beside the test assembly (or <c>SHOAL_SCREENSHOTS</c>).
/// </summary>
[Collection(ConsoleCollection.Name)]
public sealed class BrowserTests(ConsoleCluster cluster) : IAsyncLifetime
{
    private const string Chromium = "/usr/bin/chromium";
    private IBrowser _browser = null!;

    private static string ScreenshotDirectory =>
        Environment.GetEnvironmentVariable("SHOAL_SCREENSHOTS") is { Length: > 0 } dir ? dir : Path.Combine(AppContext.BaseDirectory, "screenshots");

    public async Task InitializeAsync()
    {
        if (!File.Exists(Chromium))
            throw new InvalidOperationException($"{Chromium} is missing: the browser tests need Debian's chromium package (tools/test-prereqs/console.sh installs it).");
        _browser = await Puppeteer.LaunchAsync(new LaunchOptions
        {
            ExecutablePath = Chromium,
            Headless = true,
            Args = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-dev-shm-usage"],
            Timeout = 60_000,
        });
    }

    public async Task DisposeAsync()
    {
        await _browser.CloseAsync();
        await _browser.DisposeAsync();
    }

    /// <summary>A page that records console errors, failed requests and uncaught exceptions.</summary>
    private async Task<(IPage Page, List<string> Errors)> OpenAsync(string hash)
    {
        var page = await _browser.NewPageAsync();
        var errors = new List<string>();
        page.Console += (_, e) => { if (e.Message.Type == ConsoleType.Error) lock (errors) errors.Add($"console: {e.Message.Text}"); };
        page.PageError += (_, e) => { lock (errors) errors.Add($"page error: {e.Message}"); };
        page.RequestFailed += (_, e) => { lock (errors) errors.Add($"request failed: {e.Request.Url} {e.Request.FailureText}"); };
        await page.SetViewportAsync(new ViewPortOptions { Width = 1360, Height = 900 });
        await page.GoToAsync(new Uri(cluster.BaseAddress, "ui/" + hash).ToString(), new NavigationOptions { WaitUntil = [WaitUntilNavigation.Load], Timeout = 60_000 });
        return (page, errors);
    }

    private static async Task ScreenshotAsync(IPage page, string name)
    {
        Directory.CreateDirectory(ScreenshotDirectory);
        string path = Path.Combine(ScreenshotDirectory, name);
        await page.ScreenshotAsync(path, new ScreenshotOptions { FullPage = true });
        Assert.True(new FileInfo(path).Length > 10_000, $"{path} looks empty");
    }

    private static void NoErrors(List<string> errors)
    {
        lock (errors) Assert.True(errors.Count == 0, "The page reported errors:\n" + string.Join('\n', errors));
    }

    [Fact]
    public async Task A_search_typed_into_the_page_shows_scifact_hits_with_ranks_coverage_and_time()
    {
        var (page, errors) = await OpenAsync("#/search");
        await using var _ = page;
        await page.WaitForSelectorAsync("#index option[value=scifact]", new WaitForSelectorOptions { Timeout = 30_000 });
        await page.SelectAsync("#index", "scifact");
        await page.WaitForFunctionAsync("() => document.querySelector('#schema').textContent.includes('5,183 documents')", new WaitForFunctionOptions { Timeout = 30_000 });
        await page.TypeAsync("#query", "vitamin D deficiency and bone fractures");
        await page.Keyboard.PressAsync("Enter");
        await page.WaitForSelectorAsync("#hits tr.hit", new WaitForSelectorOptions { Timeout = 30_000 });

        var titles = await page.EvaluateExpressionAsync<string[]>("[...document.querySelectorAll('#hits tr.hit .title')].map(e => e.textContent)");
        Assert.Equal(10, titles.Length);
        Assert.All(titles, t => Assert.False(string.IsNullOrWhiteSpace(t)));
        // The page shows what the API answers for the same query.
        using var api = await cluster.PostJsonAsync("v1/indexes/scifact/search", """{"text": "vitamin D deficiency and bone fractures", "k": 10, "channels": ["bm25"]}""");
        var expected = JsonDocument.Parse(await api.Content.ReadAsStringAsync()).RootElement.GetProperty("hits").EnumerateArray()
            .Select(h => h.GetProperty("title").GetString()).ToArray();
        Assert.Equal(expected, titles);
        Assert.Contains("vitamin d", titles[0], StringComparison.OrdinalIgnoreCase);
        Assert.Equal("coverage 4/4 shards", (await page.EvaluateExpressionAsync<string>("document.querySelector('#coverage').textContent")).Trim());
        Assert.StartsWith("took ", await page.EvaluateExpressionAsync<string>("document.querySelector('#took').textContent"), StringComparison.Ordinal);
        Assert.Equal("bm25 #1", await page.EvaluateExpressionAsync<string>("document.querySelector('#hits tr.hit .rank').textContent"));
        // The latency histogram is drawn from /metrics once the search is counted.
        await page.WaitForFunctionAsync("() => document.querySelector('#latency-plot').width > 0", new WaitForFunctionOptions { Timeout = 10_000 });
        await ScreenshotAsync(page, "console-search.png");
        NoErrors(errors);
    }

    [Fact]
    public async Task A_fused_search_shows_each_channels_rank()
    {
        var (page, errors) = await OpenAsync("#/search");
        await using var _ = page;
        await page.WaitForSelectorAsync("#index option[value=tides]", new WaitForSelectorOptions { Timeout = 30_000 });
        await page.SelectAsync("#index", "tides");
        await page.WaitForFunctionAsync("() => !document.querySelector('#ch-dense').disabled && document.querySelector('#ch-dense').checked", new WaitForFunctionOptions { Timeout = 30_000 });
        await page.TypeAsync("#query", "what causes the tides");
        await page.ClickAsync("#go");
        await page.WaitForSelectorAsync("#hits tr.hit", new WaitForSelectorOptions { Timeout = 30_000 });
        var ranks = await page.EvaluateExpressionAsync<string[]>("[...document.querySelectorAll('#hits tr.hit')][0].querySelectorAll('.rank').length ? [...[...document.querySelectorAll('#hits tr.hit')][0].querySelectorAll('.rank')].map(e => e.textContent) : []");
        Assert.Equal(2, ranks.Length);
        Assert.StartsWith("bm25 ", ranks[0], StringComparison.Ordinal);
        Assert.StartsWith("dense ", ranks[1], StringComparison.Ordinal);
        Assert.Contains("fused score", await page.EvaluateExpressionAsync<string>("document.querySelector('#hits thead').textContent"), StringComparison.Ordinal);
        NoErrors(errors);
    }

    [Fact]
    public async Task The_cluster_page_shows_every_shard_replica_on_both_silos()
    {
        var (page, errors) = await OpenAsync("#/cluster");
        await using var _ = page;
        // scifact: 4 shards x 2 replicas; tides: 2 shards.
        await page.WaitForFunctionAsync("() => document.querySelectorAll('.shard[data-index=scifact]').length === 8", new WaitForFunctionOptions { Timeout = 30_000 });
        var silos = await page.EvaluateExpressionAsync<string[]>("[...document.querySelectorAll('#silos tr.silo td:first-child')].map(e => e.textContent)");
        Assert.Equal(2, silos.Length);
        var cells = await page.EvaluateExpressionAsync<string[]>("[...document.querySelectorAll('.shard[data-index=scifact]')].map(e => e.dataset.shard + '/' + e.dataset.replica + '@' + e.querySelector('.silo-of-shard').textContent)");
        Assert.Equal(["0/0", "0/1", "1/0", "1/1", "2/0", "2/1", "3/0", "3/1"], cells.Select(c => c[..c.IndexOf('@')]).Order(StringComparer.Ordinal));
        Assert.All(cells, c => Assert.Contains(c[(c.IndexOf('@') + 1)..], silos));
        // Replicas of one shard are on different silos, so both silos serve scifact.
        Assert.Equal(2, cells.Select(c => c[(c.IndexOf('@') + 1)..]).Distinct().Count());
        // The encoder pool of silo B is listed; the rate plot fills after a few refreshes.
        await page.WaitForFunctionAsync("() => document.querySelector('#encoder-pools').textContent.includes('dense')", new WaitForFunctionOptions { Timeout = 30_000 });
        // Some traffic while the page refreshes, so the query-rate plot has something to show.
        var until = DateTime.UtcNow.AddSeconds(6);
        while (DateTime.UtcNow < until)
        {
            using var r = await cluster.PostJsonAsync("v1/indexes/scifact/search", """{"text": "coffee and heart disease", "k": 10}""");
            Assert.True(r.IsSuccessStatusCode);
            await Task.Delay(50);
        }
        await page.WaitForFunctionAsync("() => document.querySelectorAll('#silos tr.silo').length === 2", new WaitForFunctionOptions { Timeout = 10_000 });
        await Task.Delay(2500);
        await ScreenshotAsync(page, "console-cluster.png");
        NoErrors(errors);
    }

    [Fact]
    public async Task A_job_started_from_the_index_page_shows_progress_to_completion()
    {
        var (page, errors) = await OpenAsync("#/index/scifact");
        await using var _ = page;
        await page.WaitForSelectorAsync("#versions tr.version", new WaitForSelectorOptions { Timeout = 30_000 });
        Assert.Contains("serving", await page.EvaluateExpressionAsync<string>("document.querySelector('#versions').textContent"), StringComparison.Ordinal);
        Assert.Contains("bm25", await page.EvaluateExpressionAsync<string>("document.querySelector('#channels').textContent"), StringComparison.Ordinal);

        await page.EvaluateExpressionAsync("document.querySelector('#job-index').value = ''");
        await page.TypeAsync("#job-index", "scifact-job");
        await page.TypeAsync("#job-source", cluster.SciFactCorpus);
        await page.ClickAsync("#start-job");
        await page.WaitForSelectorAsync("#job-status tr.job", new WaitForSelectorOptions { Timeout = 30_000 });
        // Live progress while it runs, then success.
        await page.WaitForSelectorAsync("#job-status tr.job[data-state=succeeded]", new WaitForSelectorOptions { Timeout = 240_000 });
        Assert.Equal("100%", (await page.EvaluateExpressionAsync<string>("document.querySelector('#job-status .job-percent').textContent")).Trim());
        string jobId = await page.EvaluateExpressionAsync<string>("document.querySelector('#job-status tr.job').dataset.job");
        var job = JsonDocument.Parse(await cluster.Http.GetStringAsync($"v1/jobs/{jobId}")).RootElement;
        Assert.Equal("succeeded", job.GetProperty("state").GetString());
        Assert.Equal(5183, job.GetProperty("documentsIndexed").GetInt64());
        await ScreenshotAsync(page, "console-index.png");
        NoErrors(errors);
    }
}
