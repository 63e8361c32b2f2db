using Orleans;
using Shoal.Grains.Contracts;

namespace Shoal.Gateway;

/// <summary>
/// Builds the start-up index (the sample corpus of the embedded default) when it has no
/// published version, and reports readiness once it serves.
/// </summary>
public sealed partial class StartupIndexLoader(
    IGrainFactory grains,
    GatewayOptions options,
    IHostApplicationLifetime lifetime,
    ILogger<StartupIndexLoader> logger) : BackgroundService
{
    private volatile string _state = "starting";

    /// <summary>True once the start-up index serves queries (or none is configured).</summary>
    public bool IsReady { get; private set; }

    /// <summary>A one-line account of the start-up index, for the readiness probe.</summary>
    public string State => _state;

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var started = new TaskCompletionSource();
        using (lifetime.ApplicationStarted.Register(() => started.TrySetResult()))
            await started.Task.WaitAsync(stoppingToken);

        if (string.IsNullOrEmpty(options.Index))
        {
            _state = "no start-up index configured";
            IsReady = true;
            return;
        }
        try
        {
            var index = grains.GetGrain<IIndexGrain>(options.Index);
            var info = await index.GetInfoAsync();
            if (info is null || info.Version == 0)
            {
                string corpus = options.Corpus ?? throw new InvalidOperationException("No corpus to index: pass --Corpus <path>.");
                LogIndexing(logger, options.Index, corpus, options.Shards);
                await index.StartIngestAsync(new IngestRequest { CorpusPath = corpus, Format = options.Format, Shards = options.Shards, Replicas = options.Replicas });
                while (true)
                {
                    await Task.Delay(250, stoppingToken);
                    var status = await index.GetIngestStatusAsync();
                    _state = $"building '{options.Index}': {status.Phase}, {status.DocumentsRead} documents";
                    if (status.State == IngestState.Failed) throw new InvalidOperationException(status.Error);
                    if (status.State == IngestState.Succeeded) break;
                }
                info = await index.GetInfoAsync();
            }
            _state = $"index '{options.Index}' version {info!.Version} serves {info.DocCount} documents in {info.ShardCount} shards";
            IsReady = true;
            LogReady(logger, options.Index, info.Version, info.DocCount, info.ShardCount);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
#pragma warning disable CA1031 // a failed start-up index is reported by readiness and the log; an exception escaping a BackgroundService would stop the whole host
        catch (Exception e)
#pragma warning restore CA1031
        {
            _state = $"start-up index '{options.Index}' failed: {e.Message}";
            LogFailed(logger, e, options.Index);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Indexing start-up index '{Index}' from {Corpus} into {Shards} shards")]
    private static partial void LogIndexing(ILogger logger, string index, string corpus, int shards);

    [LoggerMessage(Level = LogLevel.Information, Message = "Ready: index '{Index}' version {Version}, {Docs} documents in {Shards} shards")]
    private static partial void LogReady(ILogger logger, string index, long version, long docs, int shards);

    [LoggerMessage(Level = LogLevel.Error, Message = "Start-up index '{Index}' failed")]
    private static partial void LogFailed(ILogger logger, Exception error, string index);
}
