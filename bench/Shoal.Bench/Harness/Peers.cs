using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace Shoal.Bench.Harness;

/// <summary>
/// Runs a peer script from bench/peers with Debian's python (BLAS/OpenMP threads pinned) and
/// parses the `PEER {json}` line it prints last. The one place benchmarks start peers.
/// </summary>
public static class Peers
{
    /// <summary>Runs <paramref name="script"/>; throws with the peer's stderr when it fails.</summary>
    public static async Task<JsonElement> RunAsync(string script, IEnumerable<string> arguments, CancellationToken cancellationToken, int blasThreads = 1)
    {
        var (result, failure) = await RunCoreAsync(script, arguments, blasThreads, cancellationToken);
        return result ?? throw new InvalidOperationException(failure);
    }

    /// <summary>
    /// Runs <paramref name="script"/>; when it is missing or fails, reports why on stderr and
    /// returns null, so a benchmark can still print Shoal's own figures.
    /// </summary>
    /// <param name="machineLimit">The peer measures the machine's limit: OpenBLAS gets the kernel for
    /// this CPU even when OPENBLAS_CORETYPE in the environment names an older one.</param>
    public static async Task<JsonElement?> TryRunAsync(string script, IEnumerable<string> arguments, CancellationToken cancellationToken, int blasThreads = 1, bool machineLimit = false)
    {
        var (result, failure) = await RunCoreAsync(script, arguments, blasThreads, cancellationToken, machineLimit);
        if (result is null) Console.Error.WriteLine($"{failure}; its figures are left out");
        return result;
    }

    /// <summary>
    /// The OpenBLAS kernel for this CPU when OpenBLAS would not find it itself (null: leave
    /// OpenBLAS to detect, or OPENBLAS_CORETYPE is already set). Under a hypervisor Debian's
    /// OpenBLAS 0.3.21 does not recognise newer Xeons and falls back to its SSE3 "Prescott"
    /// kernels: sgemm at 31 GFLOP/s per core where the AVX-512 kernels reach 158 on the same
    /// machine, which made every BLAS-backed peer (numpy sgemm, FAISS flat search) several times
    /// slower than the hardware allows.
    /// </summary>
    internal static string? OpenBlasCoreType(bool overrideEnvironment = false)
    {
        if (!overrideEnvironment && !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("OPENBLAS_CORETYPE"))) return null;
        string flags;
        try
        {
            flags = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("flags", StringComparison.Ordinal)) ?? "";
        }
        catch (IOException)
        {
            return null;
        }
        var set = flags.Split([' ', '\t', ':'], StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);
        if (set.Contains("avx512f") && set.Contains("avx512bw") && set.Contains("avx512vl")) return "SkylakeX";
        if (set.Contains("avx2") && set.Contains("fma")) return "Haswell";
        return null;
    }

    private static async Task<(JsonElement? Result, string Failure)> RunCoreAsync(string script, IEnumerable<string> arguments, int blasThreads, CancellationToken cancellationToken, bool machineLimit = false)
    {
        string path = Path.Combine(RepoPaths.Root(), "bench", "peers", script);
        if (!File.Exists(path)) return (null, $"peer {script}: {path} not found");
        var psi = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(path);
        foreach (var a in arguments) psi.ArgumentList.Add(a);
        string threads = blasThreads.ToString(CultureInfo.InvariantCulture);
        foreach (var v in new[] { "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS" }) psi.Environment[v] = threads;
        if (OpenBlasCoreType(machineLimit) is { } core) psi.Environment["OPENBLAS_CORETYPE"] = core;
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(psi) ?? throw new InvalidOperationException("cannot start /usr/bin/python3");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        string output = await stdout, errors = await stderr;
        var line = output.Split('\n').LastOrDefault(l => l.StartsWith("PEER ", StringComparison.Ordinal));
        if (process.ExitCode != 0 || line is null)
            return (null, $"peer {script} failed (exit {process.ExitCode}): {errors.Trim()}");
        Console.Error.WriteLine($"peer {script} finished in {clock.Elapsed.TotalSeconds:F0} s");
        return (JsonDocument.Parse(line["PEER ".Length..]).RootElement.Clone(), "");
    }
}
