using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Shoal.Bench.Snapshot;

/// <summary>
/// An Azurite blob service (npm package azurite, <c>azurite-blob</c> on PATH) on a free loopback
/// port with its data in a directory of ours, started the way the integration tests' fixture does.
/// </summary>
internal sealed class AzuriteProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _dir;

    private AzuriteProcess(Process process, string dir, string connectionString)
    {
        _process = process;
        _dir = dir;
        ConnectionString = connectionString;
    }

    /// <summary>Connection string of Azurite's documented development account (public, local-only).</summary>
    public string ConnectionString { get; }

    /// <summary>Starts Azurite with its data under <paramref name="dir"/> and waits until it accepts connections.</summary>
    public static async Task<AzuriteProcess> StartAsync(string dir, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(dir);
        int port;
        using (var listener = new TcpListener(IPAddress.Loopback, 0))
        {
            listener.Start();
            port = ((IPEndPoint)listener.LocalEndpoint).Port;
        }
        var psi = new ProcessStartInfo("azurite-blob",
            $"--blobHost 127.0.0.1 --blobPort {port} --location \"{dir}\" --silent --skipApiVersionCheck --loose --disableTelemetry")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        Process process;
        try
        {
            process = Process.Start(psi)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException($"Cannot start azurite-blob ({e.Message}): install it with 'npm install -g azurite' or pass --connection-string.", e);
        }
        var errors = new System.Collections.Concurrent.ConcurrentQueue<string>();
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            errors.Enqueue(e.Data);
            while (errors.Count > 20) errors.TryDequeue(out string? _);
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            try
            {
                using var tcp = new TcpClient();
                await tcp.ConnectAsync(IPAddress.Loopback, port, cancellationToken);
                break;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline && !process.HasExited)
            {
                await Task.Delay(100, cancellationToken);
            }
        }
        string connectionString = "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;" +
            "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;" +
            $"BlobEndpoint=http://127.0.0.1:{port}/devstoreaccount1;";
        return new AzuriteProcess(process, dir, connectionString) { _errors = errors };
    }

    /// <summary>Process id, for the log.</summary>
    public int ProcessId => _process.Id;

    private System.Collections.Concurrent.ConcurrentQueue<string> _errors = new();

    /// <summary>Completes when the Azurite process exits (it should not before it is disposed).</summary>
    public Task Exited => _process.WaitForExitAsync();

    /// <summary>Why Azurite is gone: its exit code and the last lines it wrote to stderr.</summary>
    public string DescribeExit() =>
        $"azurite-blob (pid {_process.Id}) exited with code {(_process.HasExited ? _process.ExitCode.ToString(System.Globalization.CultureInfo.InvariantCulture) : "?")}" +
        (_errors.IsEmpty ? "" : "; its last stderr lines: " + string.Join(" | ", _errors));

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await _process.WaitForExitAsync(wait.Token);
        }
        catch (OperationCanceledException)
        {
        }
        _process.Dispose();
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
