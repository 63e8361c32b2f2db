using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Shoal.Bench.Harness;

namespace Shoal.Bench.Cluster;

/// <summary>
/// The HTTP client side of the <c>cluster</c> workload, run as its own process so that the client's
/// threads, sockets and JSON work do not share the gateway's thread pool (a real caller never
/// runs inside the server). Reads a job file written by <see cref="ExternalHttpClient"/>, runs
/// the latency or saturation phase against the gateway and prints one line <c>CLIENT {json}</c>.
/// Not meant to be run by hand.
/// </summary>
public sealed class ClusterClientWorkload : IWorkload
{
    public string Name => "cluster-client";

    public string Description => "(internal) the out-of-process HTTP client of the cluster workload";

    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var a = new BenchArgs(args);
        string jobPath = a.String("job", "");
        if (!File.Exists(jobPath)) throw new ArgumentException($"--job '{jobPath}' does not exist (this workload is started by the cluster workload).");
        var job = JsonSerializer.Deserialize<ExternalClientJob>(await File.ReadAllTextAsync(jobPath, cancellationToken))
            ?? throw new ArgumentException($"'{jobPath}' holds no job.");
        using var http = new HttpPath(new Uri(job.Url), job.Index);
        var result = new Dictionary<string, object>(StringComparer.Ordinal);
        if (job.Phase == "latency")
        {
            var (p50, p99, mean, agreement) = await ClusterWorkload.LatencyAsync(http, job.Texts, job.Expected, job.K, job.Repeat, job.Warmup, cancellationToken);
            result["p50"] = p50;
            result["p99"] = p99;
            result["mean"] = mean;
            result["agreement"] = agreement;
            result["floor_p50"] = await ClusterWorkload.FloorAsync(http, job.Texts.Length * job.Repeat, cancellationToken);
        }
        else
        {
            foreach (int c in job.Clients)
                result["qps_" + c.ToString(CultureInfo.InvariantCulture)] = await ClusterWorkload.SaturateAsync(new HttpLoadPath(http), job.Texts, job.K, c, job.Duration, cancellationToken);
            var floor = new HttpFloorPath(http);
            foreach (int c in job.Clients)
                result["floor_qps_" + c.ToString(CultureInfo.InvariantCulture)] = await ClusterWorkload.SaturateAsync(floor, job.Texts, job.K, c, job.Duration, cancellationToken);
        }
        Console.WriteLine("CLIENT " + JsonSerializer.Serialize(result));
        return 0;
    }
}

/// <summary>What the out-of-process client runs.</summary>
public sealed record ExternalClientJob(string Url, string Index, string Phase, string[] Texts, string[][] Expected, int K, int Repeat, double Warmup, double Duration, int[] Clients);

/// <summary>Runs <see cref="ClusterClientWorkload"/> as a child process and reads its figures.</summary>
public static class ExternalHttpClient
{
    /// <summary>Runs one phase of <paramref name="job"/> in a child process; returns its <c>CLIENT</c> figures.</summary>
    public static async Task<Dictionary<string, double>> RunAsync(ExternalClientJob job, CancellationToken cancellationToken)
    {
        string jobPath = Path.Combine(Path.GetTempPath(), $"shoal-bench-client-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(jobPath, JsonSerializer.Serialize(job), cancellationToken);
        try
        {
            // The same bench binary, started again: through its apphost, or through dotnet when that is what runs it.
            string exe = Environment.ProcessPath ?? "dotnet";
            var psi = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            if (Path.GetFileNameWithoutExtension(exe) == "dotnet") psi.ArgumentList.Add(typeof(ExternalHttpClient).Assembly.Location);
            foreach (var arg in new[] { "cluster-client", "--job", jobPath }) psi.ArgumentList.Add(arg);
            using var process = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start '{exe}'");
            var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
            var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
            try
            {
                await process.WaitForExitAsync(cancellationToken);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                throw;
            }
            string output = await stdout;
            string? line = output.Split('\n').LastOrDefault(l => l.StartsWith("CLIENT ", StringComparison.Ordinal));
            if (process.ExitCode != 0 || line is null)
                throw new InvalidOperationException($"the out-of-process HTTP client failed (exit {process.ExitCode}): {output} {await stderr}");
            return JsonSerializer.Deserialize<Dictionary<string, double>>(line["CLIENT ".Length..])!;
        }
        finally
        {
            File.Delete(jobPath);
        }
    }
}
