using Orleans;
using Shoal.Grains.Contracts;
using Shoal.Grains.Jobs;

namespace Shoal.Gateway;

/// <summary>
/// Builds the start-up index (the sample corpus of the embedded default) when it has no
/// published version, and reports readiness once it serves (BM25). Then, when the embedded
/// default hosts a dense encoder (<see cref="EmbeddedEncoders"/>) and the served version has no
/// dense channel, it builds one in the background as an indexing job: a new version with BM25 and
/// the corpus encoded by the encoder pool chunk by chunk, published when done (BM25 serves
/// meanwhile; plain text searches are hybrid from then on). The job's id is fixed by the version
/// it extends (<c>startup-{index}-dense-v{N}</c>), so a gateway restarted mid-encoding follows the
/// same job, which resumes from its last checkpoint. A restart after it finished finds the dense
/// channel in the snapshot and encodes nothing.
/// </summary>
public sealed partial class StartupIndexLoader(
    IGrainFactory grains,
    GatewayOptions options,
    EmbeddedEncoders encoders,
    IHostApplicationLifetime lifetime,
    ILogger<StartupIndexLoader> logger) : BackgroundService
{
    private volatile string _state = "starting";
    private volatile string _dense = "";

    /// <summary>True once the start-up index serves queries (or none is configured).</summary>
    public bool IsReady { get; private set; }

    /// <summary>A one-line account of the start-up index, for the readiness probe.</summary>
    public string State => _dense.Length == 0 ? _state : $"{_state}; {_dense}";

    /// <summary>Whether the start-up index serves a dense channel (hybrid search).</summary>
    public bool IsHybrid { get; private set; }

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
                await index.StartIngestAsync(new IngestRequest { CorpusPath = Path.GetFullPath(corpus), Format = options.Format, Shards = options.Shards, Replicas = options.Replicas });
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
            await AddDenseChannelAsync(index, info, stoppingToken);
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

    private async Task AddDenseChannelAsync(IIndexGrain index, IndexInfo info, CancellationToken stoppingToken)
    {
        if (encoders.DenseEncoder is not { } encoder)
        {
            _dense = $"BM25 only: {encoders.DisabledReason}";
            LogBm25Only(logger, options.Index!, encoders.DisabledReason ?? "no dense encoder");
            return;
        }
        if (info.Channel("dense") is { Encoder: not null } existing)
        {
            _dense = $"hybrid: dense channel ({existing.Encoder}) restored from the snapshot";
            IsHybrid = true;
            LogHybrid(logger, options.Index!, info.Version, existing.Encoder);
            return;
        }
        if (options.Corpus is null)
        {
            _dense = "BM25 only: no corpus to encode for the dense channel (pass --Corpus)";
            LogBm25Only(logger, options.Index!, "no corpus to encode (pass --Corpus)");
            return;
        }
        LogDenseStarted(logger, options.Index!, encoder, info.DocCount);
        _dense = $"dense channel ({encoder}): starting";
        try
        {
            var request = new IndexJobRequest
            {
                Index = options.Index!, Source = Path.GetFullPath(options.Corpus), Format = options.Format, Shards = info.ShardCount, Replicas = info.Replicas,
                K1 = info.K1, B = info.B, DenseEncoder = encoder,
            };
            var job = await StartDenseJobAsync(request, info.Version);
            var lastLog = DateTime.UtcNow;
            while (true)
            {
                await Task.Delay(500, stoppingToken);
                var status = await job.GetStatusAsync() ?? throw new InvalidOperationException("The dense channel's indexing job disappeared.");
                string phase = status.Phase == "reading" ? "reading and encoding" : status.Phase;
                _dense = $"dense channel ({encoder}): job {status.Id} {phase}, {status.DocumentsRead} documents";
                if (status.State is IndexJobState.Failed or IndexJobState.Cancelled) throw new InvalidOperationException($"job {status.Id} {status.State}: {status.Error}");
                if (status.State == IndexJobState.Succeeded) break;
                if (DateTime.UtcNow - lastLog > TimeSpan.FromSeconds(30))
                {
                    lastLog = DateTime.UtcNow;
                    LogDenseProgress(logger, options.Index!, phase, status.DocumentsRead);
                }
            }
            var built = await index.GetInfoAsync();
            _state = $"index '{options.Index}' version {built!.Version} serves {built.DocCount} documents in {built.ShardCount} shards";
            _dense = $"hybrid: dense channel ({encoder}) built";
            IsHybrid = true;
            LogHybrid(logger, options.Index!, built.Version, encoder);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or OrleansException)
        {
            _dense = $"BM25 only: the dense channel ({encoder}) failed: {e.Message}";
            LogDenseFailed(logger, e, options.Index!, encoder);
        }
    }

    /// <summary>
    /// Submits (or finds) the job that adds the dense channel to version <paramref name="baseVersion"/>:
    /// the same id for the same version, so a restarted gateway follows the job it started; an id
    /// with a suffix when an earlier attempt at that version failed or was cancelled.
    /// </summary>
    private async Task<IIndexJobGrain> StartDenseJobAsync(IndexJobRequest request, long baseVersion)
    {
        for (int attempt = 1; ; attempt++)
        {
            string id = $"startup-{request.Index}-dense-v{baseVersion}" + (attempt == 1 ? "" : $"-{attempt}");
            var job = grains.GetGrain<IIndexJobGrain>(id);
            var existing = await job.GetStatusAsync();
            if (existing is { State: IndexJobState.Failed or IndexJobState.Cancelled } && attempt < 10) continue;
            if (existing is null) await job.SubmitAsync(request);
            else if (existing.State == IndexJobState.Running) await job.ResumeAsync();
            return job;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Start-up index '{Index}' serves BM25 only: {Reason}")]
    private static partial void LogBm25Only(ILogger logger, string index, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Start-up index '{Index}': encoding the dense channel with '{Encoder}' in the background ({Docs} documents); BM25 serves meanwhile")]
    private static partial void LogDenseStarted(ILogger logger, string index, string encoder, long docs);

    [LoggerMessage(Level = LogLevel.Information, Message = "Start-up index '{Index}': dense channel {Phase}, {Documents} documents")]
    private static partial void LogDenseProgress(ILogger logger, string index, string phase, long documents);

    [LoggerMessage(Level = LogLevel.Information, Message = "Hybrid: index '{Index}' version {Version} serves bm25 + dense ({Encoder}); plain text searches use both")]
    private static partial void LogHybrid(ILogger logger, string index, long version, string encoder);

    [LoggerMessage(Level = LogLevel.Error, Message = "Start-up index '{Index}': the dense channel ({Encoder}) failed; BM25 serves alone")]
    private static partial void LogDenseFailed(ILogger logger, Exception error, string index, string encoder);

    [LoggerMessage(Level = LogLevel.Information, Message = "Indexing start-up index '{Index}' from {Corpus} into {Shards} shards")]
    private static partial void LogIndexing(ILogger logger, string index, string corpus, int shards);

    [LoggerMessage(Level = LogLevel.Information, Message = "Ready: index '{Index}' version {Version}, {Docs} documents in {Shards} shards")]
    private static partial void LogReady(ILogger logger, string index, long version, long docs, int shards);

    [LoggerMessage(Level = LogLevel.Error, Message = "Start-up index '{Index}' failed")]
    private static partial void LogFailed(ILogger logger, Exception error, string index);
}
