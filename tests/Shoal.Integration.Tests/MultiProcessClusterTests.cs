using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Shoal.Client;
using Shoal.Gateway;
using Shoal.Hosting;
using Shoal.Integration.Tests.WebConsole;

namespace Shoal.Integration.Tests;

/// <summary>
/// The multi-process deployment: a real redis-server for membership, two silo processes
/// (src/Silo) and a gateway in client mode, all on loopback.
/// </summary>
public sealed class MultiProcessClusterTests : IAsyncLifetime
{
    private readonly string _data = Directory.CreateTempSubdirectory("shoal-multi-").FullName;
    private readonly List<Process> _processes = [];
    private readonly StringBuilder _logs = new();
    private readonly int[] _siloHttpPorts = new int[2];
    private int _redisPort;
    private OtlpReceiver? _collector;

    public async Task InitializeAsync()
    {
        try
        {
            await StartProcessesAsync();
        }
        catch
        {
            // xunit does not dispose a test class whose InitializeAsync failed: stop what started.
            await DisposeAsync();
            throw;
        }
    }

    private async Task StartProcessesAsync()
    {
        _redisPort = EmbeddedCluster.FreeTcpPort();
        Start("redis-server", $"--port {_redisPort} --bind 127.0.0.1 --save \"\" --appendonly no", "redis");
        await WaitForPortAsync(_redisPort, TimeSpan.FromSeconds(20));

        // Both silos serve /metrics beside their health endpoints; silo 0 also pushes OTLP/HTTP to a collector.
        _collector = await OtlpReceiver.StartAsync();
        string silo = SiloAssembly();
        for (int i = 0; i < 2; i++)
        {
            _siloHttpPorts[i] = EmbeddedCluster.FreeTcpPort();
            string otlp = i == 0 ? $" --Otlp:Endpoint {_collector.Endpoint.AbsoluteUri} --Otlp:Protocol http --Otlp:ExportIntervalMilliseconds 500 --Telemetry:ServiceName multi-silo-0" : "";
            Start("dotnet", $"\"{silo}\" --Redis 127.0.0.1:{_redisPort} --SiloPort {EmbeddedCluster.FreeTcpPort()} " +
                            $"--GatewayPort {EmbeddedCluster.FreeTcpPort()} --DataDirectory \"{_data}\" --ClusterId multi " +
                            $"--urls http://127.0.0.1:{_siloHttpPorts[i]}" + otlp, $"silo{i}");
        }
    }

    private static string SiloAssembly()
    {
        // Built by `dotnet test Cluster.sln` in the same configuration as this test assembly.
        string path = Paths.BuildOutput("Silo", "Shoal.Silo.dll");
        if (!File.Exists(path)) throw new InvalidOperationException($"Silo build output '{path}' is missing: build Cluster.sln first.");
        return path;
    }

    private void Start(string file, string arguments, string name)
    {
        var psi = new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        Process process;
        try
        {
            process = Process.Start(psi)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException($"Cannot start '{file}' ({e.Message}). The multi-process test needs redis-server (Debian package redis-server; bash test.sh installs it).", e);
        }
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_logs) _logs.AppendLine(System.Globalization.CultureInfo.InvariantCulture, $"[{name}] {e.Data}"); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_logs) _logs.AppendLine(System.Globalization.CultureInfo.InvariantCulture, $"[{name}] {e.Data}"); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _processes.Add(process);
    }

    private static async Task WaitForPortAsync(int port, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            try
            {
                using var tcp = new TcpClient();
                await tcp.ConnectAsync(IPAddress.Loopback, port);
                return;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
            }
        }
    }

    public async Task DisposeAsync()
    {
        if (_collector is not null) await _collector.DisposeAsync();
        foreach (var p in _processes)
        {
#pragma warning disable CA1849 // fixture teardown after the last test of the class: a bounded wait for each killed process
            try { if (!p.HasExited) p.Kill(entireProcessTree: true); p.WaitForExit(5000); }
#pragma warning restore CA1849
            catch (InvalidOperationException) { }
            p.Dispose();
        }
        try { TempDirectory.Delete(_data); } catch (IOException) { }
    }

    [Fact]
    public async Task Redis_clustered_silo_processes_answer_through_a_client_mode_gateway()
    {
        WebApplication? app = null;
        try
        {
            // The client connects once a silo has registered in Redis; retry while they start.
            var deadline = DateTime.UtcNow.AddSeconds(90);
            while (true)
            {
                try
                {
                    app = GatewayHost.Build([
                        "--Mode", "client", "--Redis", $"127.0.0.1:{_redisPort}", "--ClusterId", "multi",
                        "--urls", "http://127.0.0.1:0", "--Corpus", Paths.SamplePassages, "--Index", "multisample", "--Shards", "4",
                    ]);
                    await app.StartAsync();
                    break;
                }
#pragma warning disable CA1031 // the gateway retries start-up until the silos have joined; after the deadline the failure propagates
                catch (Exception) when (DateTime.UtcNow < deadline)
#pragma warning restore CA1031
                {
                    if (app is not null) await app.DisposeAsync();
                    app = null;
                    await Task.Delay(500);
                }
            }
            var address = app!.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            using var http = new HttpClient { BaseAddress = new Uri(address.TrimEnd('/') + "/") };
            while (true)
            {
                using var ready = await http.GetAsync("health/ready");
                if (ready.IsSuccessStatusCode) break;
                Assert.True(DateTime.UtcNow < deadline, "gateway not ready: " + await ready.Content.ReadAsStringAsync() + "\n" + Logs());
                await Task.Delay(200);
            }

            using var client = new ShoalClient(http);
            const int searches = 3;
            for (int i = 0; i < searches; i++)
            {
                var results = await client.SearchAsync("multisample", new SearchQuery("wind turbines and electricity", K: 3));
                Assert.Equal("s33", results.Hits[0].Id);
                Assert.Equal(4, results.Coverage.Shards);
                Assert.Equal(4, results.Coverage.Answered);
                Assert.False(results.Coverage.Partial);
            }
            await Task.Delay(TimeSpan.FromSeconds(1)); // the exporters answer scrapes from a 300 ms cache

            // The client-mode gateway records its own search series (the coordinator ran on a silo).
            const string index = "index=\"multisample\"";
            string gateway = await http.GetStringAsync("metrics");
            Assert.Equal(searches, MetricsTests.Sum(gateway, "shoal_gateway_search_duration_milliseconds_count", index, "outcome=\"ok\""));
            // The coordinator, shard and job series are in the silo processes, scraped at their /metrics.
            string[] silos = new string[2];
            for (int i = 0; i < 2; i++)
            {
                // The gateway is ready once one silo serves; the other may still be joining the
                // cluster, its HTTP endpoint not yet open.
                await WaitForPortAsync(_siloHttpPorts[i], TimeSpan.FromSeconds(60));
                using var scrape = await http.GetAsync(new Uri($"http://127.0.0.1:{_siloHttpPorts[i]}/metrics"));
                Assert.Equal(HttpStatusCode.OK, scrape.StatusCode);
                Assert.StartsWith("text/plain", scrape.Content.Headers.ContentType?.MediaType, StringComparison.Ordinal);
                silos[i] = await scrape.Content.ReadAsStringAsync();
                Assert.Contains("orleans_", silos[i], StringComparison.Ordinal);
            }
            double Silos(string series, params string[] labels) => silos.Sum(text => MetricsTests.Sum(text, series, labels));
            Assert.Equal(searches, Silos("shoal_queries_total", index, "outcome=\"ok\""));
            Assert.Equal(searches, Silos("shoal_query_duration_milliseconds_count", index));
            Assert.Equal(searches * 4, Silos("shoal_query_fanout_sum", index));
            Assert.InRange(Silos("shoal_shard_search_duration_milliseconds_count", index, "channel=\"bm25\""), searches * 4, searches * 8);
            // The start-up ingest ran as an indexing job on a silo: 40 passages read.
            Assert.True(Silos("shoal_job_documents_total", index) >= 40, "job documents: " + Silos("shoal_job_documents_total", index));
            // Silo 0 also pushed its metrics by OTLP/HTTP to /v1/metrics.
            Assert.True(await _collector!.WaitForAsync("/v1/metrics", "multi-silo-0", TimeSpan.FromSeconds(20)), "no OTLP metrics from silo 0: " + _collector.Describe());
        }
        catch (Exception e) when (e is not Xunit.Sdk.XunitException)
        {
            throw new InvalidOperationException(e.Message + "\n--- process logs ---\n" + Logs(), e);
        }
        finally
        {
            if (app is not null)
            {
                await app.StopAsync();
                await app.DisposeAsync();
            }
        }
    }

    private string Logs()
    {
        lock (_logs) return _logs.Length > 6000 ? _logs.ToString(_logs.Length - 6000, 6000) : _logs.ToString();
    }
}
