using System.Diagnostics;
using System.Globalization;

namespace Shoal.Bench.Index;

/// <summary>
/// This process's resident set from /proc/self/status: VmHWM (peak) and VmRSS (now), with the peak
/// reset between phases by writing 5 to /proc/self/clear_refs (Linux 4.0+), so each phase reports its
/// own peak. Elsewhere: <see cref="Process.PeakWorkingSet64"/>, not resettable.
/// </summary>
internal static class ProcessMemory
{
    private const double MiB = 1 << 20;

    /// <summary>Peak resident set since start or the last successful <see cref="ResetPeak"/>, in MiB.</summary>
    public static double PeakMb() => Field("VmHWM:") ?? Process.GetCurrentProcess().PeakWorkingSet64 / MiB;

    /// <summary>Resident set now, in MiB.</summary>
    public static double CurrentMb() => Field("VmRSS:") ?? Process.GetCurrentProcess().WorkingSet64 / MiB;

    /// <summary>Resets the peak to the current resident set; false where the kernel does not allow it.</summary>
    public static bool ResetPeak()
    {
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static double? Field(string name)
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
            {
                if (!line.StartsWith(name, StringComparison.Ordinal)) continue;
                var kb = line[name.Length..].Trim().Split(' ')[0];
                return long.Parse(kb, CultureInfo.InvariantCulture) / 1024.0;
            }
        }
        catch (IOException)
        {
        }
        return null;
    }
}
