using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Orleans;
using Shoal.Bench.Harness;
using Shoal.Engine.Analysis;
using Shoal.Engine.Text;
using Shoal.Gateway;
using Shoal.Grains.Contracts;
using Shoal.Grains.Hosting;
using Shoal.Hosting;

namespace Shoal.Bench.Cluster;

/// <summary>One way to run a query: returns the top-k external ids (the answer every path must agree on).</summary>
public interface ISearchPath
{
    /// <summary>Runs query <paramref name="text"/> for its top <paramref name="k"/> ids.</summary>
    ValueTask<string[]> SearchAsync(string text, int k, CancellationToken cancellationToken);
}

/// <summary>(a) The engine alone: analysis, the segment's top-k and the external ids, on the calling thread.</summary>
public sealed class EnginePath(TextSegment segment) : ISearchPath
{
    /// <summary>Synchronous form (the engine has no I/O on the query path).</summary>
    public string[] Search(string text, int k)
    {
        var query = TextQuery.FromTokens(EnglishAnalyzer.Instance.Analyze(text));
        var top = segment.Search(query, k);
        var ids = new string[top.Length];
        for (int i = 0; i < ids.Length; i++) ids[i] = segment.GetId(top[i].DocId);
        return ids;
    }

    /// <inheritdoc />
    public ValueTask<string[]> SearchAsync(string text, int k, CancellationToken cancellationToken) => ValueTask.FromResult(Search(text, k));
}

/// <summary>(b) The query coordinator grain called in-process (the silo hosted by the embedded gateway).</summary>
public sealed class GrainPath(IGrainFactory grains, string index) : ISearchPath
{
    /// <inheritdoc />
    public async ValueTask<string[]> SearchAsync(string text, int k, CancellationToken cancellationToken)
    {
        var response = await grains.GetGrain<IQueryCoordinatorGrain>(0).SearchAsync(new SearchRequest { Index = index, Text = text, K = k }, cancellationToken);
        if (response.Status != SearchStatus.Ok || response.Coverage.Partial)
            throw new InvalidOperationException($"search failed: {response.Status} {response.Error}");
        var ids = new string[response.Hits.Length];
        for (int i = 0; i < ids.Length; i++) ids[i] = response.Hits[i].Id;
        return ids;
    }
}

/// <summary>(c)/(d) <c>POST /v1/indexes/{name}/search</c> over real HTTP (loopback, keep-alive connections), the response parsed.</summary>
public sealed class HttpPath : ISearchPath, IDisposable
{
    private readonly SocketsHttpHandler _handler = new() { MaxConnectionsPerServer = 256, PooledConnectionLifetime = Timeout.InfiniteTimeSpan };
    private readonly HttpClient _http;
    private readonly string _path;
    private readonly ConcurrentDictionary<(string Text, int K), byte[]> _bodies = new();
    private static readonly MediaTypeHeaderValue JsonContentType = new("application/json");

    /// <summary>A client for the gateway at <paramref name="baseAddress"/>.</summary>
    public HttpPath(Uri baseAddress, string index)
    {
        _http = new HttpClient(_handler, disposeHandler: false) { BaseAddress = baseAddress };
        _path = $"v1/indexes/{index}/search";
    }

    /// <inheritdoc />
    public async ValueTask<string[]> SearchAsync(string text, int k, CancellationToken cancellationToken)
    {
        var bytes = await SendAsync(text, k, cancellationToken);
        using var json = JsonDocument.Parse(bytes);
        var hits = json.RootElement.GetProperty("hits");
        var ids = new string[hits.GetArrayLength()];
        int i = 0;
        foreach (var h in hits.EnumerateArray()) ids[i++] = h.GetProperty("id").GetString()!;
        return ids;
    }

    /// <summary>
    /// Sends search <paramref name="text"/> and returns the answer's body, read whole; throws when
    /// it is not a success. Request bodies are serialised once per text, as a load generator
    /// replaying a query set would: the client's own CPU comes out of the same cores as the server's.
    /// </summary>
    public async ValueTask<byte[]> SendAsync(string text, int k, CancellationToken cancellationToken)
    {
        var body = _bodies.GetOrAdd((text, k), static key => JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object> { ["text"] = key.Text, ["k"] = key.K }));
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = JsonContentType;
        using var response = await _http.PostAsync(_path, content, cancellationToken);
        var bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken);
        if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"HTTP {(int)response.StatusCode}: {Encoding.UTF8.GetString(bytes)}");
        return bytes;
    }

    /// <summary>One <c>GET /health/live</c> (the HTTP floor: Kestrel, middleware and the client, without a search).</summary>
    public async ValueTask LiveAsync(CancellationToken cancellationToken)
    {
        using var response = await _http.GetAsync(new Uri("health/live", UriKind.Relative), cancellationToken);
        await response.Content.ReadAsByteArrayAsync(cancellationToken);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _http.Dispose();
        _handler.Dispose();
    }
}

/// <summary>
/// Searches over HTTP for the saturation runs: the whole answer is read and its status checked, but
/// its hits are not parsed (the latency pass already checked every answer against the engine's).
/// The floor path reads its answers the same way.
/// </summary>
public sealed class HttpLoadPath(HttpPath http) : ISearchPath
{
    /// <inheritdoc />
    public async ValueTask<string[]> SearchAsync(string text, int k, CancellationToken cancellationToken)
    {
        await http.SendAsync(text, k, cancellationToken);
        return [];
    }
}

/// <summary>
/// The HTTP floor as a path: <c>GET /health/live</c> through the same connections, Kestrel and
/// middleware as a search, with no search behind it. Its saturation rate is the most any HTTP
/// search on this machine could reach with this client.
/// </summary>
public sealed class HttpFloorPath(HttpPath http) : ISearchPath
{
    /// <inheritdoc />
    public async ValueTask<string[]> SearchAsync(string text, int k, CancellationToken cancellationToken)
    {
        await http.LiveAsync(cancellationToken);
        return [];
    }
}

/// <summary>Hosts the gateway in this process (embedded or client mode) until disposed.</summary>
public sealed class HostedGateway : IAsyncDisposable
{
    private readonly WebApplication _app;

    private HostedGateway(WebApplication app, Uri address)
    {
        _app = app;
        Address = address;
    }

    /// <summary>Where the HTTP API listens.</summary>
    public Uri Address { get; }

    /// <summary>The gateway's grain factory (the in-process silo's, or the cluster client's).</summary>
    public IGrainFactory Grains => _app.Services.GetRequiredService<IGrainFactory>();

    /// <summary>
    /// Builds and starts the gateway with <paramref name="args"/> (retried until <paramref name="startBy"/>
    /// while a client-mode gateway waits for silos), then waits until its start-up index is ready.
    /// </summary>
    public static async Task<HostedGateway> StartAsync(string[] args, DateTime startBy, CancellationToken cancellationToken)
    {
        WebApplication? app = null;
        try
        {
            while (true)
            {
                try
                {
                    app = GatewayHost.Build(args);
                    await app.StartAsync(cancellationToken);
                    break;
                }
#pragma warning disable CA1031 // a client-mode gateway fails to start until a silo has joined; after the deadline the failure propagates
                catch (Exception) when (DateTime.UtcNow < startBy && !cancellationToken.IsCancellationRequested)
#pragma warning restore CA1031
                {
                    if (app is not null) await app.DisposeAsync();
                    app = null;
                    await Task.Delay(500, cancellationToken);
                }
            }
            string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            var uri = new Uri(address.TrimEnd('/') + "/");
            await WaitReadyAsync(uri, startBy.AddMinutes(3), cancellationToken);
            var gateway = new HostedGateway(app, uri);
            app = null; // owned by gateway from here
            return gateway;
        }
        finally
        {
            if (app is not null) await app.DisposeAsync();
        }
    }

    private static async Task WaitReadyAsync(Uri address, DateTime deadline, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { BaseAddress = address };
        while (true)
        {
            using var ready = await http.GetAsync(new Uri("health/ready", UriKind.Relative), cancellationToken);
            if (ready.IsSuccessStatusCode) return;
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException("gateway not ready: " + await ready.Content.ReadAsStringAsync(cancellationToken));
            await Task.Delay(200, cancellationToken);
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        try
        {
            await _app.StopAsync(stop.Token);
        }
        catch (OperationCanceledException)
        {
            // stopping took too long: dispose regardless
        }
        await _app.DisposeAsync();
    }
}

/// <summary>
/// A redis-server and one silo process (src/Silo, Release build) clustered through it, for the
/// client-mode path. Both are killed on dispose and when this process exits.
/// </summary>
public sealed class SiloProcesses : IDisposable
{
    private readonly List<Process> _processes = [];
    private readonly StringBuilder _logs = new();

    private SiloProcesses(string dataDirectory, string clusterId)
    {
        DataDirectory = dataDirectory;
        ClusterId = clusterId;
        AppDomain.CurrentDomain.ProcessExit += OnExit;
    }

    /// <summary>The redis port gateways connect through.</summary>
    public int RedisPort { get; private set; }

    /// <summary>The silo's data directory.</summary>
    public string DataDirectory { get; }

    /// <summary>The Orleans cluster id.</summary>
    public string ClusterId { get; }

    /// <summary>Starts redis and one silo that may read sources under <paramref name="dataRoot"/>.</summary>
    public static async Task<SiloProcesses> StartAsync(string dataDirectory, string dataRoot, CancellationToken cancellationToken)
    {
        string silo = Path.Combine(RepoPaths.Root(), "src", "Silo", "bin", "Release", "net10.0", "Shoal.Silo.dll");
        if (!File.Exists(silo)) throw new ArgumentException($"'{silo}' is missing: build bench/Shoal.Bench (or Cluster.sln) with -c Release first.");
        var processes = new SiloProcesses(dataDirectory, "bench-" + Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture));
        try
        {
            processes.RedisPort = EmbeddedCluster.FreeTcpPort();
            processes.Start("redis-server", $"--port {processes.RedisPort} --bind 127.0.0.1 --save \"\" --appendonly no", "redis");
            await WaitForPortAsync(processes.RedisPort, TimeSpan.FromSeconds(20), cancellationToken);
            processes.Start("dotnet", $"\"{silo}\" --Redis 127.0.0.1:{processes.RedisPort} --SiloPort {EmbeddedCluster.FreeTcpPort()} " +
                                      $"--GatewayPort {EmbeddedCluster.FreeTcpPort()} --DataDirectory \"{dataDirectory}\" --ClusterId {processes.ClusterId} " +
                                      $"--Shoal:DataRoots:0 \"{dataRoot}\" --Logging:LogLevel:Default Warning", "silo");
            return processes;
        }
        catch
        {
            processes.Dispose();
            throw;
        }
    }

    /// <summary>The last lines the processes printed (for failures).</summary>
    public string Logs()
    {
        lock (_logs) return _logs.Length > 4000 ? _logs.ToString(_logs.Length - 4000, 4000) : _logs.ToString();
    }

    private void Start(string file, string arguments, string name)
    {
        var psi = new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        Process process;
        try
        {
            process = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {file}");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new ArgumentException($"Cannot start '{file}' ({e.Message}); the client mode needs redis-server (Debian package redis-server).", e);
        }
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_logs) _logs.Append('[').Append(name).Append("] ").AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_logs) _logs.Append('[').Append(name).Append("] ").AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        lock (_processes) _processes.Add(process);
    }

    private static async Task WaitForPortAsync(int port, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            try
            {
                using var tcp = new TcpClient();
                await tcp.ConnectAsync(IPAddress.Loopback, port, cancellationToken);
                return;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(100, cancellationToken);
            }
        }
    }

    private void OnExit(object? sender, EventArgs e) => Kill();

    private void Kill()
    {
        lock (_processes)
        {
            foreach (var p in _processes)
            {
                try
                {
                    if (!p.HasExited) p.Kill(entireProcessTree: true);
                    p.WaitForExit(5000);
                }
                catch (InvalidOperationException)
                {
                    // already gone
                }
                p.Dispose();
            }
            _processes.Clear();
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        AppDomain.CurrentDomain.ProcessExit -= OnExit;
        Kill();
    }
}
