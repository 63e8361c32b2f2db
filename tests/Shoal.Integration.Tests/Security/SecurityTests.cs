using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Shoal.Gateway;
using Shoal.Gateway.Auth;
using Shoal.Gateway.Limits;
using Shoal.Gateway.OpenApi;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Shoal.Integration.Tests.Security;

/// <summary>The embedded gateway with API keys, data roots and tight limits, on a real loopback port.</summary>
public sealed class SecuredGatewayFixture : IAsyncLifetime
{
    public const string SearchKey = "search-key-0123456789abcdef";
    public const string WriteKey = "write-key-0123456789abcdef";
    public const string AdminKey = "admin-key-0123456789abcdef";
    public const string RotatedKey = "rotated-admin-key-0123456789";
    public const string FileKey = "file-key-0123456789abcdef-xyz";

    private readonly string _data = Directory.CreateTempSubdirectory("shoal-sec-").FullName;
    private WebApplication _app = null!;

    public string Root { get; } = Directory.CreateTempSubdirectory("shoal-sec-root-").FullName;

    public string Outside { get; } = Directory.CreateTempSubdirectory("shoal-sec-outside-").FullName;

    public HttpClient Http { get; private set; } = null!;

    /// <summary>The embedded gateway's data directory (snapshots under <c>snapshots/</c>).</summary>
    public string DataDirectory => _data;

    /// <summary>The gateway's services (its endpoint data source, for sweeps over every route).</summary>
    public IServiceProvider Services => _app.Services;

    public async Task InitializeAsync()
    {
        string keyFile = Path.Combine(_data, "secret-key");
        await File.WriteAllTextAsync(keyFile, FileKey + "\n");
        _app = GatewayHost.Build([
            "--urls", "http://127.0.0.1:0",
            "--DataDirectory", _data,
            "--Corpus", Paths.SamplePassages,
            "--Index", "sample",
            "--Shards", "2",
            "--SiloPort", "0",
            "--GatewayPort", "0",
            "--Shoal:DataRoots:0", Root,
            "--Shoal:Auth:Keys:0:Name", "reader",
            "--Shoal:Auth:Keys:0:Hash", ApiKeyRing.HashOf(SearchKey),
            "--Shoal:Auth:Keys:0:Scopes", "search",
            "--Shoal:Auth:Keys:1:Name", "writer",
            "--Shoal:Auth:Keys:1:Hash", "sha256:" + ApiKeyRing.HashOf(WriteKey).ToUpperInvariant(),
            "--Shoal:Auth:Keys:1:Scopes:0", "search",
            "--Shoal:Auth:Keys:1:Scopes:1", "write",
            "--Shoal:Auth:Keys:2:Name", "admin-old",
            "--Shoal:Auth:Keys:2:Key", AdminKey,
            "--Shoal:Auth:Keys:2:Scopes", "admin",
            "--Shoal:Auth:Keys:3:Name", "admin-new",
            "--Shoal:Auth:Keys:3:Hash", ApiKeyRing.HashOf(RotatedKey),
            "--Shoal:Auth:Keys:3:Scopes", "admin",
            "--Shoal:Auth:Keys:4:Name", "from-secret-file",
            "--Shoal:Auth:Keys:4:KeyFile", keyFile,
            "--Shoal:Auth:Keys:4:Scopes", "search",
            "--Shoal:Limits:MaxSearchBodyBytes", "4096",
        ]);
        await _app.StartAsync();
        var address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        Http = new HttpClient { BaseAddress = new Uri(address.EndsWith('/') ? address : address + "/") };
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while (true)
        {
            using var ready = await Http.GetAsync("health/ready");
            if (ready.IsSuccessStatusCode) break;
            if (DateTime.UtcNow > deadline) throw new TimeoutException("gateway not ready: " + await ready.Content.ReadAsStringAsync());
            await Task.Delay(100);
        }
    }

    public async Task DisposeAsync()
    {
        Http.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        TempDirectory.Delete(_data);
        TempDirectory.Delete(Root);
        TempDirectory.Delete(Outside);
    }

    public async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string? key, string? json = null, Action<HttpRequestMessage>? adjust = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (key is not null) request.Headers.Add("X-Api-Key", key);
        if (json is not null) request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        adjust?.Invoke(request);
        return await Http.SendAsync(request);
    }
}

public sealed class SecurityTests(SecuredGatewayFixture fixture) : IClassFixture<SecuredGatewayFixture>
{
    private const string Search = """{"text": "ranking", "k": 3}""";

    private static async Task<JsonElement> Problem(HttpResponseMessage response)
    {
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
    }

    /// <summary>Routes that may answer without a key: probes, and static files that hold no data (the console's, whose API calls carry the key, and the API reference page's, and the OpenAPI document that page fetches from the browser).</summary>
    private static readonly string[] MayBeAnonymous = ["/health/", "/ui", "/scalar/", "/openapi/"];

    /// <summary>A concrete path for a route pattern: <c>{name}</c> is the sample index, other parameters a harmless value.</summary>
    private static string PathOf(string pattern) =>
        System.Text.RegularExpressions.Regex.Replace(pattern.TrimStart('/'), @"\{([^}]+)\}", m =>
        {
            string parameter = m.Groups[1].Value.TrimStart('*').Split(':', '=', '?')[0];
            return parameter switch
            {
                "name" => "sample",
                "documentName" => "v1",
                "path" => "index.html",
                _ => "x",
            };
        });

    [Fact]
    public async Task Without_a_key_every_api_endpoint_is_401_with_a_problem_document_and_health_stays_open()
    {
        // Every mapped route, read from the endpoint data source, so a route added later cannot be missed.
        var routes = new List<(HttpMethod Method, string Pattern)>();
        foreach (var endpoint in fixture.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>())
        {
            string pattern = "/" + endpoint.RoutePattern.RawText!.Trim('/');
            if (endpoint.Metadata.GetMetadata<IAllowAnonymous>() is not null)
            {
                Assert.True(MayBeAnonymous.Any(p => pattern.StartsWith(p, StringComparison.Ordinal)), $"{pattern} answers without a key");
                continue;
            }
            var methods = endpoint.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? ["GET"];
            routes.AddRange(methods.Select(m => (new HttpMethod(m), pattern)));
        }
        // The sweep covers every operation of the API (health aside) and the non-API routes.
        var swept = routes.Select(r => $"{r.Method.Method} {r.Pattern}").ToHashSet(StringComparer.Ordinal);
        foreach (var operation in OpenApiExtensions.Operations.Keys.Where(k => !k.Contains(" /health/", StringComparison.Ordinal)))
            Assert.Contains(operation, swept);
        foreach (var prefix in new[] { "/metrics" })
            Assert.Contains(swept, r => r.Contains(" " + prefix, StringComparison.Ordinal));

        foreach (var (method, pattern) in routes)
        {
            string path = PathOf(pattern);
            string? body = method == HttpMethod.Post || method == HttpMethod.Put ? "{}" : null;
            using var response = await fixture.SendAsync(method, path, null, body);
            Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"{method} {path} ({pattern}): {response.StatusCode}");
            var problem = await Problem(response);
            Assert.Equal(401, problem.GetProperty("status").GetInt32());
            Assert.Contains("X-Api-Key", problem.GetProperty("detail").GetString());
            Assert.Contains("ApiKey", response.Headers.WwwAuthenticate.ToString());
        }
        using var wrong = await fixture.SendAsync(HttpMethod.Post, "v1/indexes/sample/search", "not-a-valid-key-at-all", Search);
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        Assert.Contains("not valid", (await Problem(wrong)).GetProperty("detail").GetString());
        using var live = await fixture.Http.GetAsync("health/live");
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        using var ready = await fixture.Http.GetAsync("health/ready");
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
    }

    [Fact]
    public async Task Scopes_decide_what_a_key_may_do_and_a_missing_scope_is_403()
    {
        // search: searches and reads, nothing else.
        using (var ok = await fixture.SendAsync(HttpMethod.Post, "v1/indexes/sample/search", SecuredGatewayFixture.SearchKey, Search))
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        using (var ok = await fixture.SendAsync(HttpMethod.Get, "v1/indexes/sample", SecuredGatewayFixture.SearchKey))
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        using (var denied = await fixture.SendAsync(HttpMethod.Post, "v1/indexes/sample/documents", SecuredGatewayFixture.SearchKey, """{"deletes": ["nope"]}"""))
        {
            Assert.Equal(HttpStatusCode.Forbidden, denied.StatusCode);
            var detail = (await Problem(denied)).GetProperty("detail").GetString();
            Assert.Contains("'reader'", detail);
            Assert.Contains("'write'", detail);
        }
        using (var denied = await fixture.SendAsync(HttpMethod.Post, "v1/jobs", SecuredGatewayFixture.SearchKey, """{"index": "x", "source": "y"}"""))
            Assert.Equal(HttpStatusCode.Forbidden, denied.StatusCode);

        // write: online updates, but not ingest or merge.
        using (var ok = await fixture.SendAsync(HttpMethod.Post, "v1/indexes/sample/documents", SecuredGatewayFixture.WriteKey,
                   """{"documents": [{"id": "sec-1", "title": "Secured", "text": "a document written with a write key"}]}"""))
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        using (var denied = await fixture.SendAsync(HttpMethod.Post, "v1/indexes/sample/merge", SecuredGatewayFixture.WriteKey))
        {
            Assert.Equal(HttpStatusCode.Forbidden, denied.StatusCode);
            Assert.Contains("'admin'", (await Problem(denied)).GetProperty("detail").GetString());
        }
        using (var denied = await fixture.SendAsync(HttpMethod.Post, "v1/indexes/other/ingest", SecuredGatewayFixture.WriteKey, """{"corpus": "x"}"""))
            Assert.Equal(HttpStatusCode.Forbidden, denied.StatusCode);

        // admin implies every scope; the old and the new admin key both work (rotation), in every header form.
        foreach (var key in new[] { SecuredGatewayFixture.AdminKey, SecuredGatewayFixture.RotatedKey })
        {
            using var ok = await fixture.SendAsync(HttpMethod.Post, "v1/indexes/sample/search", null, Search,
                r => r.Headers.Authorization = new AuthenticationHeaderValue("ApiKey", key));
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
            using var bearer = await fixture.SendAsync(HttpMethod.Get, "v1/jobs", null, null,
                r => r.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key));
            Assert.Equal(HttpStatusCode.OK, bearer.StatusCode);
        }
        // A key read from a mounted Secret file.
        using (var ok = await fixture.SendAsync(HttpMethod.Get, "v1/indexes", SecuredGatewayFixture.FileKey))
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
    }

    [Fact]
    public async Task Sources_outside_the_data_roots_are_refused_without_saying_what_exists_there()
    {
        string inside = Path.Combine(fixture.Root, "ok.tsv");
        await File.WriteAllLinesAsync(inside, ["d1\tpassage one about rivers", "d2\tpassage two about lakes"]);
        string secret = Path.Combine(fixture.Outside, "secret.tsv");
        await File.WriteAllLinesAsync(secret, ["s1\tsecret passage"]);
        string link = Path.Combine(fixture.Root, "link.tsv");
        File.CreateSymbolicLink(link, secret);
        string fifo = Path.Combine(fixture.Root, "pipe.tsv");
        using (var mk = Process.Start("mkfifo", [fifo])) await mk.WaitForExitAsync();
        Assert.True(File.Exists(fifo));

        async Task<string> RefusedAsync(string path, string kind)
        {
            string body = kind == "ingest"
                ? JsonSerializer.Serialize(new { corpus = path, shards = 1 })
                : JsonSerializer.Serialize(new { index = "confined", source = path });
            using var response = await fixture.SendAsync(HttpMethod.Post, kind == "ingest" ? "v1/indexes/confined/ingest" : "v1/jobs", SecuredGatewayFixture.AdminKey, body)
                .WaitAsync(TimeSpan.FromSeconds(30)); // a FIFO must not block the request
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{kind} {path}: {response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            return (await Problem(response)).GetProperty("detail").GetString()!;
        }

        foreach (var kind in new[] { "ingest", "job" })
        {
            string existing = await RefusedAsync(secret, kind);
            string absent = await RefusedAsync(Path.Combine(fixture.Outside, "absent.tsv"), kind);
            // The same answer whether or not the file outside exists.
            Assert.Equal(existing.Replace("secret.tsv", "X", StringComparison.Ordinal), absent.Replace("absent.tsv", "X", StringComparison.Ordinal));
            Assert.Contains("not an allowed source", existing);
            Assert.DoesNotContain("does not exist", existing);
            Assert.Contains("not an allowed source", await RefusedAsync("/etc/passwd", kind));
            Assert.Contains("not an allowed source", await RefusedAsync(link, kind));
            Assert.Contains("'..'", await RefusedAsync(Path.Combine(fixture.Root, "..", Path.GetFileName(fixture.Outside), "secret.tsv"), kind));
            Assert.Contains("not a regular file", await RefusedAsync(fifo, kind));
            Assert.Contains("not an allowed source", await RefusedAsync("/dev/zero", kind));
        }
        using (var badKey = await fixture.SendAsync(HttpMethod.Post, "v1/jobs", SecuredGatewayFixture.AdminKey, """{"index": "confined", "source": "store:../../etc/passwd"}"""))
        {
            Assert.Equal(HttpStatusCode.BadRequest, badKey.StatusCode);
            Assert.Contains("'..'", (await Problem(badKey)).GetProperty("detail").GetString());
        }

        // A regular file inside a root is accepted and indexed.
        using var accepted = await fixture.SendAsync(HttpMethod.Post, "v1/indexes/confined/ingest", SecuredGatewayFixture.AdminKey, JsonSerializer.Serialize(new { corpus = inside, shards = 1 }));
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
    }

    [Fact]
    public async Task A_search_body_over_the_limit_is_413()
    {
        string big = JsonSerializer.Serialize(new { text = new string('a', 3000) + " " + new string('b', 3000), k = 3 });
        using var response = await fixture.SendAsync(HttpMethod.Post, "v1/indexes/sample/search", SecuredGatewayFixture.SearchKey, big);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        await Problem(response);
    }
}

/// <summary>Start-up rules: no keys on a non-loopback address needs the explicit opt-out; bad key configuration stops start-up.</summary>
public sealed class AuthStartupTests
{
    private static string[] Args(params string[] extra) =>
        ["--DataDirectory", Path.Combine(Path.GetTempPath(), "shoal-sec-unused"), "--Index", "", "--SiloPort", "0", "--GatewayPort", "0", .. extra];

    [Theory]
    [InlineData("http://0.0.0.0:0")]
    [InlineData("http://*:0")]
    [InlineData("http://10.1.2.3:5080")]
    public void Listening_beyond_loopback_without_keys_fails_start_up_with_a_clear_message(string url)
    {
        var e = Assert.Throws<ArgumentException>(() => GatewayHost.Build(Args("--urls", url)));
        Assert.Contains("without API keys", e.Message);
        Assert.Contains("AllowAnonymous", e.Message);
    }

    [Fact]
    public async Task The_explicit_opt_out_or_keys_allow_a_non_loopback_address_and_loopback_needs_neither()
    {
        foreach (var args in new[]
        {
            Args("--urls", "http://0.0.0.0:0", "--Shoal:Auth:AllowAnonymous", "true"),
            Args("--urls", "http://0.0.0.0:0", "--Shoal:Auth:Keys:0:Hash", ApiKeyRing.HashOf("k-0123456789abcdef"), "--Shoal:Auth:Keys:0:Scopes", "search"),
            Args("--urls", "http://127.0.0.1:0;http://localhost:0;http://[::1]:0"),
        })
        {
            var app = GatewayHost.Build(args);
            await app.DisposeAsync();
        }
    }

    [Theory]
    [InlineData("--Shoal:Auth:Keys:0:Hash", "abc", "64 hexadecimal digits")]
    [InlineData("--Shoal:Auth:Keys:0:Key", "tiny-k3y", "shorter than 16")]
    public void A_bad_key_entry_stops_start_up_naming_the_entry_not_the_secret(string setting, string value, string expected)
    {
        var e = Assert.Throws<ArgumentException>(() => GatewayHost.Build(Args("--urls", "http://127.0.0.1:0", setting, value, "--Shoal:Auth:Keys:0:Scopes", "search")));
        Assert.Contains("Shoal:Auth:Keys:0", e.Message);
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain(value == "abc" ? "=abc" : value, e.Message);
    }

    [Fact]
    public void An_unknown_scope_stops_start_up()
    {
        var e = Assert.Throws<ArgumentException>(() => GatewayHost.Build(Args("--Shoal:Auth:Keys:0:Hash", ApiKeyRing.HashOf("k-0123456789abcdef"), "--Shoal:Auth:Keys:0:Scopes", "search,root")));
        Assert.Contains("unknown scope 'root'", e.Message);
    }

    [Fact]
    public void The_key_tool_prints_the_hash_the_gateway_accepts()
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        Assert.Equal(0, ApiKeyTool.Run(["hash-key", "--scopes", "search,write"], new StringReader("my-long-secret-key-123\n"), output, error));
        Assert.Contains(ApiKeyRing.HashOf("my-long-secret-key-123"), output.ToString());
        Assert.DoesNotContain("my-long-secret-key-123", output.ToString());
        Assert.Equal(2, ApiKeyTool.Run(["hash-key"], new StringReader("short\n"), output, error));
        using var fresh = new StringWriter();
        Assert.Equal(0, ApiKeyTool.Run(["new-key"], new StringReader(""), fresh, error));
        string key = fresh.ToString().Split('\n')[0]["key:".Length..].Trim();
        Assert.StartsWith("shoal_", key);
        Assert.Contains(ApiKeyRing.HashOf(key), fresh.ToString());
    }
}

/// <summary>Load shedding and per-key limits on a gateway with tiny limits.</summary>
public sealed class LimitTests
{
    [Fact]
    public async Task The_search_queue_sheds_with_503_and_retry_after_when_full()
    {
        using var admission = new SearchAdmission(new GatewayLimitOptions { MaxConcurrentSearches = 1, SearchQueue = 1, SearchQueueTimeout = TimeSpan.FromMilliseconds(200) });
        using var first = await admission.EnterAsync(CancellationToken.None);
        Assert.NotNull(first);
        var queued = admission.EnterAsync(CancellationToken.None);       // waits in the queue...
        Assert.Null(await admission.EnterAsync(CancellationToken.None)); // ...so the queue is full: shed at once
        Assert.Null(await queued);                                       // and the queued one times out: shed
        Assert.Equal(2, admission.Shed);
        first!.Dispose();
        using var after = await admission.EnterAsync(CancellationToken.None);
        Assert.NotNull(after);
    }

    [Fact]
    public async Task Per_key_concurrency_beyond_the_limit_is_429_with_retry_after_and_other_keys_are_not_affected()
    {
        const string busyKey = "busy-key-0123456789abcdef", otherKey = "other-key-0123456789abcdef";
        string data = Directory.CreateTempSubdirectory("shoal-conc-").FullName;
        var app = GatewayHost.Build([
            "--urls", "http://127.0.0.1:0", "--DataDirectory", data, "--Corpus", Paths.SamplePassages, "--Index", "sample", "--Shards", "1",
            "--SiloPort", "0", "--GatewayPort", "0",
            "--Shoal:Auth:Keys:0:Name", "busy", "--Shoal:Auth:Keys:0:Key", busyKey, "--Shoal:Auth:Keys:0:Scopes", "search",
            "--Shoal:Auth:Keys:1:Name", "other", "--Shoal:Auth:Keys:1:Key", otherKey, "--Shoal:Auth:Keys:1:Scopes", "search",
            "--Shoal:Limits:ConcurrentRequestsPerKey", "1", "--Shoal:Limits:RequestsPerSecond", "1000",
        ]);
        try
        {
            await app.StartAsync();
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            using var http = new HttpClient { BaseAddress = new Uri(address.EndsWith('/') ? address : address + "/") };
            var deadline = DateTime.UtcNow.AddMinutes(2);
            while (!(await http.GetAsync("health/ready")).IsSuccessStatusCode)
            {
                Assert.True(DateTime.UtcNow < deadline, "gateway not ready");
                await Task.Delay(100);
            }
            async Task<HttpResponseMessage> GetAsync(string key)
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, "v1/indexes");
                request.Headers.Add("X-Api-Key", key);
                return await http.SendAsync(request);
            }

            // One search of the busy key, held open: its headers and the first byte of its body are
            // sent on a raw connection, the rest only when released.
            var uri = http.BaseAddress!;
            byte[] search = Encoding.UTF8.GetBytes("""{"text": "ranking", "k": 3}""");
            async Task<System.Net.Sockets.TcpClient> HoldAsync()
            {
                var client = new System.Net.Sockets.TcpClient();
                await client.ConnectAsync(uri.Host, uri.Port);
                var s = client.GetStream();
                await s.WriteAsync(Encoding.ASCII.GetBytes(
                    $"POST /v1/indexes/sample/search HTTP/1.1\r\nHost: {uri.Authority}\r\nX-Api-Key: {busyKey}\r\nContent-Type: application/json\r\nContent-Length: {search.Length}\r\n\r\n"));
                await s.WriteAsync(search.AsMemory(0, 1));
                await s.FlushAsync();
                return client;
            }
            var held = await HoldAsync();

            // Once the gateway holds it, a second request of the same key is refused at once. On a
            // loaded machine a probe can reach the limiter before the held request does; then the
            // held one is the request refused (it has an answer waiting, or the connection
            // closed), and it is sent again.
            HttpResponseMessage? refused = null;
            for (var until = DateTime.UtcNow.AddSeconds(30); refused is null; await Task.Delay(50))
            {
                Assert.True(DateTime.UtcNow < until, "a second concurrent request of the same key was never refused");
                if (held.Client.Poll(0, System.Net.Sockets.SelectMode.SelectRead)) // answered or closed: not held
                {
                    held.Dispose();
                    held = await HoldAsync();
                    continue;
                }
                var r = await GetAsync(busyKey);
                if (r.StatusCode == HttpStatusCode.TooManyRequests) refused = r;
                else r.Dispose();
            }
            var stream = held.GetStream();
            using (refused)
            {
                Assert.True(refused.Headers.RetryAfter?.Delta is { } after && after >= TimeSpan.FromSeconds(1), "429 without Retry-After");
                Assert.Contains("1 at once", (await Problem(refused)).GetProperty("detail").GetString());
            }
            // ...while another key is served.
            using (var other = await GetAsync(otherKey))
                Assert.Equal(HttpStatusCode.OK, other.StatusCode);

            // The held request completes, and the key may send again.
            await stream.WriteAsync(search.AsMemory(1));
            await stream.FlushAsync();
            var answer = new byte[64];
            int read = await stream.ReadAsync(answer);
            Assert.StartsWith("HTTP/1.1 200", Encoding.ASCII.GetString(answer, 0, read), StringComparison.Ordinal);
            held.Dispose();
            using var again = await GetAsync(busyKey);
            Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
            TempDirectory.Delete(data);
        }
    }

    private static async Task<JsonElement> Problem(HttpResponseMessage response)
    {
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
    }

    [Fact]
    public async Task Per_key_rate_and_search_queue_limits_answer_429_and_503_with_retry_after_over_http()
    {
        string data = Directory.CreateTempSubdirectory("shoal-limits-").FullName;
        var app = GatewayHost.Build([
            "--urls", "http://127.0.0.1:0", "--DataDirectory", data, "--Corpus", Paths.SamplePassages, "--Index", "sample", "--Shards", "2",
            "--SiloPort", "0", "--GatewayPort", "0",
            "--Shoal:Limits:RequestsPerSecond", "5", "--Shoal:Limits:Burst", "5",
            "--Shoal:Limits:MaxConcurrentSearches", "1", "--Shoal:Limits:SearchQueue", "0",
        ]);
        try
        {
            await app.StartAsync();
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            using var http = new HttpClient { BaseAddress = new Uri(address.EndsWith('/') ? address : address + "/") };
            var deadline = DateTime.UtcNow.AddMinutes(2);
            while (!(await http.GetAsync("health/ready")).IsSuccessStatusCode)
            {
                Assert.True(DateTime.UtcNow < deadline, "gateway not ready");
                await Task.Delay(100);
            }
            // Health probes are never limited; the API is, per client (no keys: per address).
            var statuses = new List<HttpStatusCode>();
            for (int i = 0; i < 12; i++)
            {
                using var r = await http.GetAsync("v1/indexes");
                statuses.Add(r.StatusCode);
                if (r.StatusCode == HttpStatusCode.TooManyRequests)
                {
                    Assert.True(r.Headers.RetryAfter?.Delta is { } d && d >= TimeSpan.FromSeconds(1), "429 without Retry-After");
                    Assert.Equal("application/problem+json", r.Content.Headers.ContentType?.MediaType);
                }
            }
            Assert.Contains(HttpStatusCode.TooManyRequests, statuses);
            Assert.Contains(HttpStatusCode.OK, statuses);

            // One search slot, no queue: concurrent searches beyond it are shed with 503 and Retry-After.
            await Task.Delay(TimeSpan.FromSeconds(1.5)); // the bucket refills
            var searches = await Task.WhenAll(Enumerable.Range(0, 5).Select(async _ =>
            {
                using var content = new StringContent("""{"text": "ranking documents by relevance", "k": 10}""", Encoding.UTF8, "application/json");
                using var r = await http.PostAsync("v1/indexes/sample/search", content);
                return (r.StatusCode, RetryAfter: r.Headers.RetryAfter?.Delta);
            }));
            Assert.All(searches, s => Assert.True(s.StatusCode is HttpStatusCode.OK or HttpStatusCode.ServiceUnavailable or HttpStatusCode.TooManyRequests, s.StatusCode.ToString()));
            Assert.All(searches.Where(s => s.StatusCode != HttpStatusCode.OK), s => Assert.NotNull(s.RetryAfter));
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
            TempDirectory.Delete(data);
        }
    }
}
