using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans;
using Orleans.Runtime;

namespace Shoal.Grains.Jobs;

/// <summary>
/// Runs in every silo once it is active: every <see cref="ShoalJobOptions.SupervisorInterval"/>
/// it asks the job catalog for unfinished jobs and calls <see cref="IIndexJobGrain.ResumeAsync"/>
/// on each. A job whose silo died is re-activated by that call on a live silo and continues from
/// its last checkpoint; since job state and the catalog are persisted, this also restarts jobs
/// after the whole cluster restarts (which in-memory reminders would not). A running job answers
/// the call at once.
/// </summary>
public sealed partial class JobSupervisor : ILifecycleParticipant<ISiloLifecycle>, IDisposable
{
    private readonly IGrainFactory _grains;
    private readonly ShoalJobOptions _options;
    private readonly ILogger<JobSupervisor> _logger;
    private CancellationTokenSource? _stop;
    private Task? _loop;

    /// <summary>Created by dependency injection.</summary>
    public JobSupervisor(IGrainFactory grains, IOptions<ShoalJobOptions> options, ILogger<JobSupervisor> logger)
    {
        _grains = grains;
        _options = options.Value;
        _logger = logger;
    }

    /// <inheritdoc />
    public void Participate(ISiloLifecycle observer) =>
        observer.Subscribe(nameof(JobSupervisor), ServiceLifecycleStage.Active, StartAsync, StopAsync);

    private Task StartAsync(CancellationToken cancellationToken)
    {
        _stop = new CancellationTokenSource();
        _loop = Task.Run(() => LoopAsync(_stop.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    private async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_stop is null) return;
        await _stop.CancelAsync();
        try { await _loop!.WaitAsync(cancellationToken); }
        catch (OperationCanceledException) { }
        _stop.Dispose();
    }

    /// <summary>Releases the stop signal when the container is disposed without the silo having stopped the loop.</summary>
    public void Dispose() => _stop?.Dispose();

    private async Task LoopAsync(CancellationToken cancellationToken)
    {
        // Spread the silos' sweeps over the interval.
        var interval = _options.SupervisorInterval;
        try
        {
            await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.NextDouble() * interval.TotalMilliseconds), cancellationToken);
            while (!cancellationToken.IsCancellationRequested)
            {
                await SweepAsync();
                await Task.Delay(interval, cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>Resumes every unfinished job once.</summary>
    public async Task SweepAsync()
    {
        string[] active;
        try
        {
            active = await _grains.GetGrain<IIndexJobCatalogGrain>(0).ActiveAsync();
        }
#pragma warning disable CA1031 // a failed sweep is logged and repeated on the next tick; the supervisor loop must not die
        catch (Exception e)
#pragma warning restore CA1031
        {
            LogSweepFailed(_logger, e);
            return;
        }
        foreach (var id in active)
        {
            try
            {
                await _grains.GetGrain<IIndexJobGrain>(id).ResumeAsync();
            }
#pragma warning disable CA1031 // one job that cannot resume now is logged and retried on the next sweep; it must not stop the others
            catch (Exception e)
#pragma warning restore CA1031
            {
                LogResumeFailed(_logger, e, id);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job supervisor: cannot list active jobs")]
    private static partial void LogSweepFailed(ILogger logger, Exception error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job supervisor: cannot resume job {Job}")]
    private static partial void LogResumeFailed(ILogger logger, Exception error, string job);
}
