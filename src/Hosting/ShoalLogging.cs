using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

namespace Shoal.Hosting;

/// <summary>Logging rules every Shoal process (gateway, silo, CLI eval cluster) applies.</summary>
public static class ShoalLogging
{
    /// <summary>Orleans' watchdog log category.</summary>
    internal const string WatchdogCategory = "Orleans.Runtime.Watchdog";

    /// <summary>How the spurious start-up warning begins.</summary>
    internal const string ParticipantCheckStalled = "Participant check thread has not completed";

    /// <summary>How long after the process starts the spurious warning is dropped.</summary>
    internal static readonly TimeSpan StartupWindow = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Drops Orleans' spurious start-up watchdog warning and nothing else. Orleans 10's
    /// <c>Watchdog.Start</c> starts its platform thread before it stamps the component thread's first
    /// timestamp, so the platform thread's first check can measure the time since the monotonic
    /// clock's origin (the machine's uptime) and warn "Participant check thread has not completed for
    /// 00:33:12" at start-up, although nothing stalled. Only that message, and only during the first
    /// minute of the process, is dropped (on every logging provider: the logger factory is wrapped);
    /// a stall later, ".NET Runtime Platform stalled" and the watchdog's other warnings stay visible.
    /// Orleans still records the stall as a local health event either way.
    /// </summary>
    public static ILoggingBuilder AddShoalFilters(this ILoggingBuilder logging) => AddShoalFilters(logging, ProcessAge);

    /// <summary><see cref="AddShoalFilters(ILoggingBuilder)"/> with the process's age given (tests).</summary>
    internal static ILoggingBuilder AddShoalFilters(this ILoggingBuilder logging, Func<TimeSpan> processAge)
    {
        ArgumentNullException.ThrowIfNull(logging);
        ArgumentNullException.ThrowIfNull(processAge);
        // Replaces the factory AddLogging registers (or pre-empts its TryAdd), whatever the order of the calls.
        logging.Services.Replace(ServiceDescriptor.Singleton<ILoggerFactory>(sp =>
            new StartupWatchdogFilter(ActivatorUtilities.CreateInstance<LoggerFactory>(sp), processAge)));
        return logging;
    }

    /// <summary>Time since the current process started.</summary>
    internal static TimeSpan ProcessAge()
    {
        using var self = Process.GetCurrentProcess();
        return DateTime.Now - self.StartTime;
    }

    /// <summary>True for the spurious start-up warning: the watchdog category, a warning, the participant-check message, a young process.</summary>
    internal static bool IsSpuriousStartupWarning(string category, LogLevel level, string message, TimeSpan processAge) =>
        level == LogLevel.Warning && string.Equals(category, WatchdogCategory, StringComparison.Ordinal)
        && message.StartsWith(ParticipantCheckStalled, StringComparison.Ordinal) && processAge < StartupWindow;

    /// <summary>A logger factory whose watchdog logger drops <see cref="IsSpuriousStartupWarning"/>; every other logger is the inner factory's.</summary>
    internal sealed class StartupWatchdogFilter(ILoggerFactory inner, Func<TimeSpan> processAge) : ILoggerFactory
    {
        public ILogger CreateLogger(string categoryName)
        {
            var logger = inner.CreateLogger(categoryName);
            return string.Equals(categoryName, WatchdogCategory, StringComparison.Ordinal) ? new Filtered(logger, categoryName, processAge) : logger;
        }

        public void AddProvider(ILoggerProvider provider) => inner.AddProvider(provider);

        public void Dispose() => inner.Dispose();

        private sealed class Filtered(ILogger inner, string category, Func<TimeSpan> processAge) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => inner.BeginScope(state);

            public bool IsEnabled(LogLevel logLevel) => inner.IsEnabled(logLevel);

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                if (logLevel == LogLevel.Warning && inner.IsEnabled(logLevel)
                    && IsSpuriousStartupWarning(category, logLevel, formatter(state, exception), processAge()))
                    return;
                inner.Log(logLevel, eventId, state, exception, formatter);
            }
        }
    }
}
