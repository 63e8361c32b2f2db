using Microsoft.Extensions.Logging;

namespace Shoal.Hosting;

/// <summary>Logging rules every Shoal process (gateway, silo, CLI eval cluster) applies.</summary>
public static class ShoalLogging
{
    /// <summary>
    /// Raises Orleans' watchdog category to Error. Orleans 10's <c>Watchdog.Start</c> starts its
    /// platform thread before it stamps the component thread's first timestamp, so the platform
    /// thread's first check can measure the time since the monotonic clock's origin (the machine's
    /// uptime) and warn "Participant check thread has not completed for 00:33:12" at start-up,
    /// although nothing stalled. Orleans records the same stalls as local health events, which
    /// still reach membership (and a real stall shows in latency figures and the silo's health);
    /// only the misleading console line goes.
    /// </summary>
    public static ILoggingBuilder AddShoalFilters(this ILoggingBuilder logging)
    {
        ArgumentNullException.ThrowIfNull(logging);
        return logging.AddFilter("Orleans.Runtime.Watchdog", LogLevel.Error);
    }
}
