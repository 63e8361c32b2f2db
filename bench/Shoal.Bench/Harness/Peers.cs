using System.Diagnostics;
using System.Text.Json;

namespace Shoal.Bench.Harness;

/// <summary>Runs a peer script from bench/peers with Debian's python, single-threaded, and parses its `PEER {json}` line.</summary>
public static class Peers
{
    /// <summary>Runs <paramref name="script"/> with arguments; throws with its stderr when it fails.</summary>
    public static async Task<JsonElement> RunAsync(string script, IEnumerable<string> arguments, CancellationToken cancellationToken)
    {
        string root = RepoPaths.Root();
        var psi = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(root, "bench", "peers", script));
        foreach (var a in arguments) psi.ArgumentList.Add(a);
        foreach (var v in new[] { "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS" }) psi.Environment[v] = "1";
        using var process = Process.Start(psi) ?? throw new InvalidOperationException("cannot start /usr/bin/python3");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        string output = await stdout;
        var line = output.Split('\n').LastOrDefault(l => l.StartsWith("PEER ", StringComparison.Ordinal));
        if (process.ExitCode != 0 || line is null)
            throw new InvalidOperationException($"peer {script} failed (exit {process.ExitCode}): {await stderr}");
        return JsonDocument.Parse(line["PEER ".Length..]).RootElement.Clone();
    }
}
