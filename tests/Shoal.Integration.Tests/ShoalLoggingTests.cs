using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Shoal.Hosting;

namespace Shoal.Integration.Tests;

/// <summary>
/// The watchdog filter every Shoal process applies drops Orleans' spurious start-up
/// "Participant check thread has not completed" warning, and only that: not later in the process's
/// life, not the watchdog's other warnings, not the same text in another category.
/// </summary>
public sealed class ShoalLoggingTests
{
    private sealed class Capture : ILoggerProvider
    {
        public ConcurrentQueue<(string Category, LogLevel Level, string Message)> Lines { get; } = new();

        public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

        public void Dispose()
        {
        }

        private sealed class Logger(Capture owner, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                owner.Lines.Enqueue((category, logLevel, formatter(state, exception)));
        }
    }

    // Orleans 10's own message templates (Watchdog's LoggerMessage definitions).
    private const string Stalled = "Participant check thread has not completed for {TimeSinceLastTick}, potentially indicating lock contention or deadlock, CPU starvation, or another execution anomaly.";
    private const string PlatformStalled = ".NET Runtime Platform stalled for {TimeSinceLastTick}. Total GC Pause duration during that period: {PauseDurationSinceLastTick}.";

#pragma warning disable CA2254 // the templates are constants that stand for Orleans' own messages
    private static List<(string Category, LogLevel Level, string Message)> LogAtAge(TimeSpan age)
    {
        using var capture = new Capture();
        var services = new ServiceCollection();
        // The filter first and the provider after it: the rule holds whatever the order of the calls.
        services.AddLogging(b => b.AddShoalFilters(() => age).AddProvider(capture).SetMinimumLevel(LogLevel.Debug));
        using var provider = services.BuildServiceProvider();
        var factory = provider.GetRequiredService<ILoggerFactory>();
        var watchdog = factory.CreateLogger(ShoalLogging.WatchdogCategory);
        watchdog.LogWarning(Stalled, TimeSpan.FromMinutes(33.2));
        watchdog.LogWarning(PlatformStalled, TimeSpan.FromSeconds(12), TimeSpan.FromSeconds(1));
        watchdog.LogError(Stalled, TimeSpan.FromMinutes(33.2));
        factory.CreateLogger("Orleans.Runtime.SomethingElse").LogWarning(Stalled, TimeSpan.FromMinutes(1));
        provider.GetRequiredService<ILogger<ShoalLoggingTests>>().LogInformation("ordinary line");
        return [.. capture.Lines];
    }
#pragma warning restore CA2254

    [Fact]
    public void Only_the_participant_check_warning_in_the_first_minute_of_the_process_is_dropped()
    {
        var young = LogAtAge(TimeSpan.FromSeconds(8));
        Assert.DoesNotContain(young, l => l is { Category: ShoalLogging.WatchdogCategory, Level: LogLevel.Warning } && l.Message.StartsWith("Participant check", StringComparison.Ordinal));
        Assert.Contains(young, l => l is { Category: ShoalLogging.WatchdogCategory, Level: LogLevel.Warning } && l.Message.StartsWith(".NET Runtime Platform stalled", StringComparison.Ordinal));
        Assert.Contains(young, l => l is { Category: ShoalLogging.WatchdogCategory, Level: LogLevel.Error } && l.Message.StartsWith("Participant check", StringComparison.Ordinal));
        Assert.Contains(young, l => l.Category == "Orleans.Runtime.SomethingElse");
        Assert.Contains(young, l => l.Message == "ordinary line");
        Assert.Equal(4, young.Count);

        // A minute on, the same warning is a real stall and is shown.
        var later = LogAtAge(TimeSpan.FromMinutes(3));
        Assert.Contains(later, l => l is { Category: ShoalLogging.WatchdogCategory, Level: LogLevel.Warning } && l.Message.StartsWith("Participant check thread has not completed for 00:33:12", StringComparison.Ordinal));
        Assert.Equal(5, later.Count);
    }

    [Fact]
    public void The_process_age_is_the_time_since_this_process_started()
    {
        var age = ShoalLogging.ProcessAge();
        Assert.InRange(age, TimeSpan.Zero, TimeSpan.FromHours(6)); // a test host is never older than a run
        Assert.True(ShoalLogging.IsSpuriousStartupWarning(ShoalLogging.WatchdogCategory, LogLevel.Warning, "Participant check thread has not completed for 01:00:00", TimeSpan.FromSeconds(59)));
        Assert.False(ShoalLogging.IsSpuriousStartupWarning(ShoalLogging.WatchdogCategory, LogLevel.Warning, "Participant check thread has not completed for 01:00:00", TimeSpan.FromSeconds(61)));
    }
}
