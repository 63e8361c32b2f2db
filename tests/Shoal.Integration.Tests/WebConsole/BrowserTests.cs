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
        // The latency histogram is drawn from /metrics once the search is counted: at least one bar.
        await page.WaitForFunctionAsync("() => Number(document.querySelector('#latency-plot').dataset.bars) >= 1 && Number(document.querySelector('#latency-plot').dataset.total) >= 1", new WaitForFunctionOptions { Timeout = 10_000 });
        await ScreenshotAsync(page, "console-search.png");
        NoErrors(errors);
    }

    [Fact]
    public async Task A_partial_answer_shows_which_shards_are_missing_and_why()
    {
        // A real partial answer: failingshard has 4 shards of one replica each, and shard searches on
        // silo B fail (ConsoleCluster.MisbehavingSilo), so the shards silo B holds are missing from
        // every answer. The browser's request goes to the cluster untouched.
        await cluster.EnsureSampleIndexAsync(ConsoleCluster.FailingIndex, shards: 4, replicas: 1);
        const string query = "tides and the moon";
        using var api = await cluster.PostJsonAsync($"v1/indexes/{ConsoleCluster.FailingIndex}/search", $$"""{"text": "{{query}}", "k": 10}""");
        var answer = JsonDocument.Parse(await api.Content.ReadAsStringAsync()).RootElement;
        var coverage = answer.GetProperty("coverage");
        int apiHits = answer.GetProperty("hits").GetArrayLength();
        Assert.True(coverage.GetProperty("partial").GetBoolean(), coverage.ToString());
        int[] missing = [.. coverage.GetProperty("missing").EnumerateArray().Select(m => m.GetInt32())];
        // Placement spreads the 4 shards over both silos: some answer, some do not.
        Assert.InRange(missing.Length, 1, 3);

        var (page, errors) = await OpenAsync("#/search");
        await using var _ = page;
        int searches = 0;
        page.Response += (_, e) =>
        {
            if (e.Response.Request.Method == HttpMethod.Post && e.Response.Url.EndsWith($"/v1/indexes/{ConsoleCluster.FailingIndex}/search", StringComparison.Ordinal))
                Interlocked.Increment(ref searches);
        };
        await page.WaitForSelectorAsync($"#index option[value={ConsoleCluster.FailingIndex}]", new WaitForSelectorOptions { Timeout = 30_000 });
        await page.SelectAsync("#index", ConsoleCluster.FailingIndex);
        await page.TypeAsync("#query", query);
        await page.Keyboard.PressAsync("Enter");
        await page.WaitForSelectorAsync("#partial", new WaitForSelectorOptions { Timeout = 30_000 });
        Assert.Equal(1, Volatile.Read(ref searches));

        string banner = await page.EvaluateExpressionAsync<string>("document.querySelector('#partial').textContent");
        Assert.Contains($"{missing.Length} of 4 shards did not answer", banner, StringComparison.Ordinal);
        // One line per missing shard, naming it and the failure the coordinator saw on silo B.
        var reasons = await page.EvaluateExpressionAsync<string[]>("[...document.querySelectorAll('#partial li')].map(e => e.textContent)");
        Assert.Equal(missing.Select(m => $"shard {m}:"), reasons.Select(r => r[..(r.IndexOf(':', StringComparison.Ordinal) + 1)]));
        Assert.All(reasons, r => Assert.Contains("IOException", r, StringComparison.Ordinal));
        Assert.All(reasons, r => Assert.Contains($"of '{ConsoleCluster.FailingIndex}' fails on silo B (test)", r, StringComparison.Ordinal));
        Assert.Equal($"coverage {4 - missing.Length}/4 shards", (await page.EvaluateExpressionAsync<string>("document.querySelector('#coverage').textContent")).Trim());
        // The hits of the shards that answered are still shown: as many as the API answered (which
        // shards silo B holds depends on placement, so the answering ones may hold no match).
        Assert.Equal(apiHits, await page.EvaluateExpressionAsync<int>("document.querySelectorAll('#hits tr.hit').length"));
        await ScreenshotAsync(page, "console-search-partial.png");
        NoErrors(errors);
    }

    [Fact]
    public async Task The_merge_button_folds_pending_updates_into_a_new_version()
    {
        using (var r = await cluster.PostJsonAsync("v1/indexes/tides/documents", """{"documents": [{"id": "merge-ui-1", "title": "Neap tides", "text": "Neap tides come when the sun and moon pull at right angles."}]}"""))
            Assert.True(r.IsSuccessStatusCode, await r.Content.ReadAsStringAsync());
        long before = JsonDocument.Parse(await cluster.Http.GetStringAsync("v1/indexes/tides")).RootElement.GetProperty("version").GetInt64();

        var (page, errors) = await OpenAsync("#/index/tides");
        await using var _ = page;
        await page.WaitForFunctionAsync("() => /pending updates: [1-9]/.test(document.querySelector('#schema').textContent)", new WaitForFunctionOptions { Timeout = 30_000 });
        await page.ClickAsync("#merge");
        // The page follows the merge and reloads when it ends.
        // (An earlier merge of tides may already read "last merge: succeeded": wait for a version above the one before.)
        await page.WaitForFunctionAsync(
            $"() => {{ const m = /^last merge: succeeded .*version (\\d+)/.exec(document.querySelector('#merge-status').textContent); return m !== null && Number(m[1]) > {before}; }}",
            new WaitForFunctionOptions { Timeout = 120_000 });
        Assert.Contains("pending updates: 0 operations", await page.EvaluateExpressionAsync<string>("document.querySelector('#schema').textContent"), StringComparison.Ordinal);
        long after = JsonDocument.Parse(await cluster.Http.GetStringAsync("v1/indexes/tides")).RootElement.GetProperty("version").GetInt64();
        Assert.True(after > before, $"version {before} -> {after}");
        Assert.Contains($"version {after}", await page.EvaluateExpressionAsync<string>("document.querySelector('#merge-status').textContent"), StringComparison.Ordinal);
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
        // Traffic while the page refreshes (bm25 searches, and dense ones encoded on silo B): the
        // query-rate line rises above 0, the latency histogram has bars and the pool shows texts/s.
        using var traffic = new CancellationTokenSource();
        var sending = Task.Run(async () =>
        {
            for (int i = 0; !traffic.IsCancellationRequested; i++)
            {
                using var r = i % 2 == 0
                    ? await cluster.PostJsonAsync("v1/indexes/scifact/search", """{"text": "coffee and heart disease", "k": 10}""")
                    : await cluster.PostJsonAsync("v1/indexes/tides/search", $$"""{"text": "what causes the tides {{i}}", "k": 3}""");
                Assert.True(r.IsSuccessStatusCode);
                await Task.Delay(50);
            }
        });
        try
        {
            await page.WaitForFunctionAsync("() => Number(document.querySelector('#rate-plot').dataset.points) >= 2 && Number(document.querySelector('#rate-plot').dataset.max) > 0", new WaitForFunctionOptions { Timeout = 30_000 });
            await page.WaitForFunctionAsync("() => Number(document.querySelector('#latency-plot').dataset.bars) >= 1", new WaitForFunctionOptions { Timeout = 10_000 });
            await page.WaitForFunctionAsync("() => [...document.querySelectorAll('#encoder-pools tr.pool[data-encoder=dense] .pool-texts-rate')].some(e => Number(e.dataset.rate) > 0)", new WaitForFunctionOptions { Timeout = 30_000 });
        }
        finally
        {
            await traffic.CancelAsync();
            await sending;
        }
        Assert.Contains("texts/s", await page.EvaluateExpressionAsync<string>("document.querySelector('#encoder-pools thead').textContent"), StringComparison.Ordinal);
        await page.WaitForFunctionAsync("() => document.querySelectorAll('#silos tr.silo').length === 2", new WaitForFunctionOptions { Timeout = 10_000 });
        // Every silo shows its roles: both hold shard replicas (data), and silo B hosts the encoders too.
        var roles = await page.EvaluateExpressionAsync<string[]>("[...document.querySelectorAll('#silos tr.silo')].map(r => r.querySelector('.silo-roles').textContent + ' | ' + r.children[4].textContent)");
        Assert.Equal(["data", "data, encoder"], roles.Select(r => r[..r.IndexOf(" | ", StringComparison.Ordinal)]).Order(StringComparer.Ordinal));
        Assert.Contains(roles, r => r.StartsWith("data, encoder | ", StringComparison.Ordinal) && r.Contains("dense", StringComparison.Ordinal));
        Assert.Contains("data | –", roles);
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
        // Record what the job row shows on every refresh, to check that progress was shown while it ran.
        await page.EvaluateExpressionAsync(
            "window.__seen = []; new MutationObserver(() => { const r = document.querySelector('#job-status tr.job'); " +
            "if (r) window.__seen.push(r.dataset.state + ' ' + r.querySelector('.job-percent').textContent.trim()); })" +
            ".observe(document.querySelector('#job-status'), { childList: true, subtree: true, characterData: true })");
        await page.ClickAsync("#start-job");
        await page.WaitForSelectorAsync("#job-status tr.job", new WaitForSelectorOptions { Timeout = 30_000 });
        // Live progress while it runs, then success.
        await page.WaitForSelectorAsync("#job-status tr.job[data-state=succeeded]", new WaitForSelectorOptions { Timeout = 240_000 });
        Assert.Equal("100%", (await page.EvaluateExpressionAsync<string>("document.querySelector('#job-status .job-percent').textContent")).Trim());
        // The row showed the job running before it showed success, its percentages never went back,
        // and the progress plot drew it over time up to 100%. (A SciFact job can take about a second
        // on a quiet machine, one poll of the page, so a percentage strictly between 0 and 100 is
        // not always seen.)
        var seen = await page.EvaluateExpressionAsync<string[]>("window.__seen");
        int firstRunning = Array.FindIndex(seen, s => s.StartsWith("running ", StringComparison.Ordinal));
        Assert.True(firstRunning >= 0 && firstRunning < Array.FindIndex(seen, s => s.StartsWith("succeeded ", StringComparison.Ordinal)), "seen: " + string.Join(", ", seen));
        var percents = seen.Select(s => int.Parse(s[(s.IndexOf(' ') + 1)..].TrimEnd('%'), System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        Assert.True(percents.Zip(percents.Skip(1)).All(p => p.First <= p.Second), "progress went back: " + string.Join(", ", seen));
        Assert.True(await page.EvaluateExpressionAsync<int>("Number(document.querySelector('#job-plot').dataset.points)") >= 2);
        Assert.Equal("100", await page.EvaluateExpressionAsync<string>("document.querySelector('#job-plot').dataset.max"));
        string jobId = await page.EvaluateExpressionAsync<string>("document.querySelector('#job-status tr.job').dataset.job");
        var job = JsonDocument.Parse(await cluster.Http.GetStringAsync($"v1/jobs/{jobId}")).RootElement;
        Assert.Equal("succeeded", job.GetProperty("state").GetString());
        Assert.Equal(5183, job.GetProperty("documentsIndexed").GetInt64());
        await ScreenshotAsync(page, "console-index.png");
        NoErrors(errors);
    }
}
