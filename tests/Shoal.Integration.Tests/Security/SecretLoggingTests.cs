using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Shoal.Gateway;
using Shoal.Hosting;

namespace Shoal.Integration.Tests.Security;

/// <summary>Runs alone: it redirects the process's console to read everything the gateway writes.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ConsoleCaptureCollection
{
    public const string Name = "console capture";
}

/// <summary>No secret given to a gateway (API key, Redis password, certificate password) reaches a log line or the console.</summary>
[Collection(ConsoleCaptureCollection.Name)]
public sealed class SecretLoggingTests : IDisposable
{
    private const string ApiKey = "plain-api-key-SECRET-7f3a9c21d4";
    private const string RedisPassword = "redis-pass-SECRET-5b8e2f";
    private const string CertificatePassword = "pfx-pass-SECRET-91c4e7";

    private readonly string _dir = Directory.CreateTempSubdirectory("shoal-secrets-").FullName;

    public void Dispose() => TempDirectory.Delete(_dir);

    private string PasswordProtectedPfx()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=shoal-secrets", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false));
        using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        string path = Path.Combine(_dir, "silo.pfx");
        File.WriteAllBytes(path, cert.Export(X509ContentType.Pfx, CertificatePassword));
        return path;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    [Fact]
    public async Task A_gateway_given_an_api_key_a_redis_password_and_a_certificate_password_never_logs_or_prints_them()
    {
        int redisPort = FreePort();
        using var redis = Process.Start(new ProcessStartInfo("redis-server", $"--port {redisPort} --bind 127.0.0.1 --save \"\" --appendonly no --requirepass {RedisPassword}")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        }) ?? throw new InvalidOperationException("redis-server did not start (the test needs the Debian package redis-server).");
        redis.BeginOutputReadLine();
        redis.BeginErrorReadLine();
        var console = new StringWriter();
        var (stdout, stderr) = (Console.Out, Console.Error);
        using var logged = new CapturingLoggerProvider();
        try
        {
            for (var until = DateTime.UtcNow.AddSeconds(20); ; await Task.Delay(100))
            {
                try
                {
                    using var probe = new TcpClient();
                    await probe.ConnectAsync(IPAddress.Loopback, redisPort);
                    break;
                }
                catch (SocketException) when (DateTime.UtcNow < until)
                {
                }
            }

            // The console logger takes Console.Out when it is created (in Build): redirect first.
            var writer = TextWriter.Synchronized(console);
            Console.SetOut(writer);
            Console.SetError(writer);
            var app = GatewayHost.Build([
                "--urls", "http://127.0.0.1:0",
                "--DataDirectory", Path.Combine(_dir, "data"),
                "--Corpus", Paths.SamplePassages,
                "--Index", "sample",
                "--Shards", "1",
                "--SiloPort", "0",
                "--GatewayPort", "0",
                "--ClusterId", "secrets-" + Guid.NewGuid().ToString("N")[..8],
                "--Redis", $"127.0.0.1:{redisPort},password={RedisPassword}",
                "--Tls:CertificatePath", PasswordProtectedPfx(),
                "--Tls:CertificatePassword", CertificatePassword,
                "--Shoal:Auth:Keys:0:Name", "operator",
                "--Shoal:Auth:Keys:0:Key", ApiKey,
                "--Shoal:Auth:Keys:0:Scopes", "admin",
                "--Logging:LogLevel:Default", "Debug",
            ]);
            app.Services.GetRequiredService<ILoggerFactory>().AddProvider(logged);
            try
            {
                await app.StartAsync();
                string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
                using var http = new HttpClient { BaseAddress = new Uri(address.EndsWith('/') ? address : address + "/") };
                for (var until = DateTime.UtcNow.AddMinutes(2); ; await Task.Delay(100))
                {
                    using var ready = await http.GetAsync("health/ready");
                    if (ready.IsSuccessStatusCode) break;
                    Assert.True(DateTime.UtcNow < until, "not ready: " + await ready.Content.ReadAsStringAsync() + "\n" + console);
                }
                // Requests that succeed and fail with the key, so request logging and auth failures are in the capture too.
                using (var request = new HttpRequestMessage(HttpMethod.Post, "v1/indexes/sample/search") { Content = new StringContent("""{"text": "ranking", "k": 3}""", Encoding.UTF8, "application/json") })
                {
                    request.Headers.Add("X-Api-Key", ApiKey);
                    using var ok = await http.SendAsync(request);
                    Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
                }
                using (var request = new HttpRequestMessage(HttpMethod.Get, "v1/indexes"))
                {
                    request.Headers.Add("X-Api-Key", ApiKey + "-wrong");
                    using var denied = await http.SendAsync(request);
                    Assert.Equal(HttpStatusCode.Unauthorized, denied.StatusCode);
                }
                await app.StopAsync();
            }
            finally
            {
                await app.DisposeAsync(); // flushes the console logger's queue
            }
        }
        finally
        {
            Console.SetOut(stdout);
            Console.SetError(stderr);
            if (!redis.HasExited) redis.Kill();
        }

        string printed = console.ToString();
        string logs = logged.Text;
        // The capture works: the start-up lines, the auth line and the silo's Redis line are in it.
        Assert.Contains("shoal gateway: embedded cluster", printed, StringComparison.Ordinal);
        // (logged in Build, before the capturing provider was added: on the console)
        Assert.Contains("API keys required: 1 key(s) configured: operator [admin]", printed + logs, StringComparison.Ordinal);
        Assert.Contains("Redis membership at 127.0.0.1:", printed, StringComparison.Ordinal);
        Assert.Contains("password=***", printed, StringComparison.Ordinal);
        Assert.True(logged.Count > 20, $"only {logged.Count} log lines captured");
        foreach (var secret in new[] { ApiKey, RedisPassword, CertificatePassword, Shoal.Gateway.Auth.ApiKeyRing.HashOf(ApiKey) })
        {
            Assert.DoesNotContain(secret, printed, StringComparison.Ordinal);
            Assert.DoesNotContain(secret, logs, StringComparison.Ordinal);
        }
    }

    /// <summary>Every log line (message, exception and scope-free) of every category and level.</summary>
    private sealed class CapturingLoggerProvider : ILoggerProvider
    {
        private readonly StringBuilder _text = new();
        private int _count;

        public string Text { get { lock (_text) return _text.ToString(); } }

        public int Count => Volatile.Read(ref _count);

        public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

        public void Dispose()
        {
        }

        private sealed class Logger(CapturingLoggerProvider owner, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                // The structured values too, not only the formatted message.
                var values = state is IEnumerable<KeyValuePair<string, object?>> pairs ? string.Join(" ", pairs.Select(p => $"{p.Key}={p.Value}")) : "";
                lock (owner._text) owner._text.Append(category).Append(' ').Append(logLevel).Append(' ').Append(formatter(state, exception)).Append(' ').Append(values).Append(' ').Append(exception).AppendLine();
                Interlocked.Increment(ref owner._count);
            }
        }
    }
}
