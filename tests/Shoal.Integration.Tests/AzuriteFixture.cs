using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Shoal.Engine.Snapshots;
using Shoal.Hosting;
using Shoal.Storage.AzureBlob;

namespace Shoal.Integration.Tests;

/// <summary>A real Azurite blob service (npm package azurite) on a free loopback port.</summary>
public sealed class AzuriteFixture : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("shoal-azurite-").FullName;
    private Process? _process;

    /// <summary>Azurite's documented development account (public, local-only).</summary>
    public string ConnectionString { get; private set; } = "";

    public async Task InitializeAsync()
    {
        int port = EmbeddedCluster.FreeTcpPort();
        var psi = new ProcessStartInfo("azurite-blob",
            $"--blobHost 127.0.0.1 --blobPort {port} --location \"{_dir}\" --silent --skipApiVersionCheck --loose --disableTelemetry")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        try
        {
            _process = Process.Start(psi)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException($"Cannot start azurite-blob ({e.Message}): install it with 'npm install -g azurite' (bash test.sh does).", e);
        }
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        var deadline = DateTime.UtcNow.AddSeconds(120); // Azurite (node) took 58 s to listen on a heavily loaded 2-core machine
        try
        {
            while (true)
            {
                try
                {
                    using var tcp = new TcpClient();
                    await tcp.ConnectAsync(IPAddress.Loopback, port);
                    break;
                }
                catch (SocketException) when (DateTime.UtcNow < deadline)
                {
                    await Task.Delay(100);
                }
            }
        }
        catch
        {
            // A fixture whose InitializeAsync fails is not disposed by xunit: stop Azurite here.
            await DisposeAsync();
            throw;
        }
        ConnectionString = "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;" +
            "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;" +
            $"BlobEndpoint=http://127.0.0.1:{port}/devstoreaccount1;";
    }

    public AzureBlobSnapshotStore Store(string container, int chunkBytes = 1 << 20, int parallelism = 4) =>
        AzureBlobSnapshotStore.Create(ConnectionString, container, chunkBytes, parallelism);

    public Task DisposeAsync()
    {
        // Idempotent: a failed InitializeAsync disposes here, and xunit may call this again.
        var process = _process;
        _process = null;
        if (process is { HasExited: false }) process.Kill(entireProcessTree: true);
#pragma warning disable CA1849 // fixture teardown after the last test of the class: a bounded wait for the killed server, nothing else runs on this thread
        process?.WaitForExit(5000);
#pragma warning restore CA1849
        process?.Dispose();
        try { TempDirectory.Delete(_dir); } catch (IOException) { }
        return Task.CompletedTask;
    }
}
