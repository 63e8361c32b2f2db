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
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
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
        return new AzuriteProcess(process, dir, connectionString);
    }

    /// <summary>Process id, for the log.</summary>
    public int ProcessId => _process.Id;

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
