using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans;
using Orleans.Placement;
using Orleans.Runtime;
using Orleans.Storage;
using Shoal.Engine.Ingest;
using Shoal.Engine.Security;
using Shoal.Engine.Snapshots;
using Shoal.Grains.Contracts;
using Shoal.Grains.Placement;
using Shoal.Grains.Hosting;
using Shoal.Grains.Query;

namespace Shoal.Grains.Jobs;

/// <summary>
/// An indexing job. The work runs on the thread pool, driven by a task on the grain's context that
/// never blocks a turn: status and cancel calls are answered while a chunk is being read.
/// <list type="number">
/// <item><description><b>reading</b>: the sources (text corpus, sparse vectors, dense vectors, in that
/// order) are each cut into chunks of a fixed number of lines (records for a SHOALVEC file); each
/// chunk's records are parsed (text analysed), routed by id hash to shards and spilled per shard to
/// the snapshot store (<c>jobs/spill/{id}/{channel}/shard-NNNN/chunk-NNNNNNNN.spill</c>, names fixed
/// by chunk number so a chunk run twice overwrites itself); then the checkpoint (the source's
/// position, chunks, counters, malformed lines, the sparse quantisation scale gathered so far, the
/// dense dimensions) is persisted.</description></item>
/// <item><description><b>building</b>: the version number is claimed and persisted; collection-global
/// BM25 statistics are gathered from every shard's spills; then shard by shard the segments
/// (<c>bm25.seg</c>, <c>sparse.seg</c>, <c>dense.seg</c>) are built, uploaded and recorded in the
/// checkpoint.</description></item>
/// <item><description><b>publishing</b>: the sparse vocabulary is stored with the version and the
/// manifest (with every channel's schema) is written (atomic publish); <b>activating</b>: the index
/// grain adopts the version and its shards load it; the spills are deleted.</description></item>
/// </list>
/// The grain owns the job's claim, its persisted record (written after every step), the worker
/// loop, the keep-alive timer, status and the end of the job; the phases are plain classes:
/// <see cref="JobReading"/>, <see cref="JobBuild"/> and <see cref="JobPublication"/> (with
/// <c>JobRequestChecks</c> for submission and <c>JobFiles</c> for sources).
/// A new activation (after its silo died) claims the job by persisting it with a new attempt
/// number — a stale activation then fails its next checkpoint on the ETag and stops — and resumes
/// from the checkpoint: nothing checkpointed is read twice and nothing read is lost.
/// </summary>
[ResourceOptimizedPlacement]
[NotDrainingPlacementFilter]
#pragma warning disable CA1001 // _stop is released when the grain deactivates (OnDeactivateAsync, once the worker has ended) and when a new worker replaces it; Orleans owns the grain's lifetime
public sealed partial class IndexJobGrain : Grain, IIndexJobGrain
#pragma warning restore CA1001
{
    private readonly IPersistentState<IndexJobRecord> _state;
    private readonly SnapshotCatalog _catalog;
    private readonly ShoalOptions _options;
    private readonly ShoalJobOptions _jobOptions;
    private readonly DataRoots _roots;
    private readonly ITextEncoderClient _encoders;
    private readonly ILogger<IndexJobGrain> _logger;
    private readonly string _scratch = Guid.NewGuid().ToString("N");
    private Task? _worker;
    private CancellationTokenSource? _stop;
    private IGrainTimer? _keepAlive;
    private JobFiles? _files;
    private JobReading? _reading;
    private bool _superseded;

    /// <summary>Created by Orleans.</summary>
    public IndexJobGrain(
        [PersistentState("job", ShoalJobsSiloBuilderExtensions.StorageName)] IPersistentState<IndexJobRecord> state,
        SnapshotCatalog catalog,
        IOptions<ShoalOptions> options,
        IOptions<ShoalJobOptions> jobOptions,
        DataRoots roots,
        ITextEncoderClient encoders,
        ILogger<IndexJobGrain> logger)
    {
        _roots = roots;
        _encoders = encoders;
        _state = state;
        _catalog = catalog;
        _options = options.Value;
        _jobOptions = jobOptions.Value;
        _logger = logger;
    }

    private string Id => this.GetPrimaryKeyString();

    private IndexJobRecord S => _state.State;

    private bool Finished => S.State is IndexJobState.Succeeded or IndexJobState.Failed or IndexJobState.Cancelled;

    private string ScratchDirectory => Path.Combine(_options.BuildDirectory, "jobs", Id, _scratch);

    /// <summary>The job's files in this activation.</summary>
    private JobFiles Files => _files ??= new JobFiles(_catalog, _roots, _options, Id, ScratchDirectory, RuntimeIdentity);

    /// <summary>The reading phase, with the reader it keeps open between chunks.</summary>
    private JobReading Reading => _reading ??= new JobReading(Files, _jobOptions, _encoders);

    /// <inheritdoc />
    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (_state.RecordExists) UpgradeRecord();
        if (_state.RecordExists && !Finished && await ClaimAsync()) StartWorker();
    }

    /// <summary>A record written before jobs had several sources: its text source's checkpoint is the record's own.</summary>
    private void UpgradeRecord()
    {
        var s = S;
        if (s.Sources.Count > 0 || s.Request is null || string.IsNullOrWhiteSpace(s.Request.Source)) return;
        s.Sources.Add(new JobSource
        {
            Kind = IndexJobSources.Text,
            Source = s.Request.Source,
            Format = s.Format,
            LinesDone = s.LinesDone,
            ChunksDone = s.ChunksDone,
            DocumentsRead = s.DocumentsRead,
            Malformed = s.Malformed,
            BytesRead = s.BytesRead,
            TotalBytes = s.TotalBytes,
            Done = s.Phase != "reading",
        });
    }

    /// <inheritdoc />
    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        _keepAlive?.Dispose();
        if (_stop is not null) await _stop.CancelAsync();
        if (_worker is not null)
        {
            try { await _worker.WaitAsync(TimeSpan.FromSeconds(10), cancellationToken); }
            catch (Exception e) when (e is TimeoutException or OperationCanceledException) { }
        }
        if (_worker is null || _worker.IsCompleted)
        {
            _stop?.Dispose();
            _stop = null;
        }
    }

    /// <inheritdoc />
    public async Task<IndexJobStatus> SubmitAsync(IndexJobRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (IndexJobIds.Validate(Id) is { } idError) throw new ArgumentException(idError);
        if (_state.RecordExists)
        {
            if (S.Request == request) return Status();
            throw new InvalidOperationException($"Job '{Id}' already exists with a different request.");
        }
        var check = await JobRequestChecks.ValidateAsync(request, Files, _options.MaxShards, _encoders);
        var (format, sources) = (check.Format, check.Sources);
        string? placement = await ReplicaPlacementCheck.CheckAsync(GrainFactory, request.Replicas, request.StrictPlacement);
        var now = DateTimeOffset.UtcNow;
        var s = S;
        s.Warnings = placement is null ? [] : [placement];
        if (placement is not null) LogPlacementWarning(_logger, Id, placement);
        if (request.SparseVectors is not null || request.SparseEncoder is not null)
        {
            await Files.StoreVocabularyAsync(s, request);
            if (check.SparseVocabulary is { } encoderTokens) ChannelEncoders.CheckVocabulary(request.SparseEncoder!, encoderTokens, s.VocabularySize);
        }
        s.Request = request;
        s.State = IndexJobState.Running;
        s.Phase = "reading";
        s.Format = format is { } f ? CorpusFormats.Name(f) : "";
        s.Sources = sources;
        s.DenseDims = check.DenseDims ?? request.DenseDims ?? 0;
        s.Recount();
        s.CreatedUtc = now;
        s.UpdatedUtc = now;
        s.Silo = RuntimeIdentity;
        s.Attempts = 1;
        await _state.WriteStateAsync();
        await GrainFactory.GetGrain<IIndexJobCatalogGrain>(0).RegisterAsync(Id);
        string described = request.DescribeSources();
        LogSubmitted(_logger, Id, request.Index, described, s.Format);
        StartWorker();
        return Status();
    }

    /// <inheritdoc />
    public Task<IndexJobStatus?> GetStatusAsync() => Task.FromResult(_state.RecordExists ? Status() : null);

    /// <inheritdoc />
    public async Task<IndexJobStatus?> CancelAsync()
    {
        if (!_state.RecordExists) return null;
        if (Finished) return Status();
        S.CancelRequested = true;
        // A running worker honours it at the next chunk (or shard) boundary and persists it.
        if (_worker is null || _worker.IsCompleted) await EndAsync(IndexJobState.Cancelled, "cancelled", null);
        return Status();
    }

    /// <inheritdoc />
    public async Task<IndexJobStatus?> ResumeAsync()
    {
        if (!_state.RecordExists) return null;
        if (Finished) await GrainFactory.GetGrain<IIndexJobCatalogGrain>(0).FinishedAsync(Id);
        else StartWorker();
        return Status();
    }

    /// <summary>Persists this activation as the job's owner; false when the job turned out to be finished.</summary>
    private async Task<bool> ClaimAsync()
    {
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                S.Silo = RuntimeIdentity;
                S.Attempts++;
                S.UpdatedUtc = DateTimeOffset.UtcNow;
                await _state.WriteStateAsync();
                LogResumed(_logger, Id, S.Attempts, S.Phase, S.LinesDone, S.ChunksDone);
                return true;
            }
            catch (InconsistentStateException) when (attempt < 5)
            {
                await _state.ReadStateAsync();
                if (Finished) return false;
            }
        }
    }

    private void StartWorker()
    {
        if (_worker is { IsCompleted: false } || Finished || _superseded) return;
        _stop?.Dispose();
        _stop = new CancellationTokenSource();
        // Keeps the activation alive (no idle collection) while the job runs without incoming calls.
        _keepAlive ??= this.RegisterGrainTimer(static () => Task.CompletedTask, new GrainTimerCreationOptions(TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(30)) { KeepAlive = true, Interleave = true });
        _worker = RunAsync(_stop.Token);
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        // Start on a fresh turn of the grain's scheduler, not inside the caller's.
        await Task.Yield();
        try
        {
            while (!Finished)
            {
                if (S.CancelRequested && S.Phase is "reading" or "building")
                {
                    await EndAsync(IndexJobState.Cancelled, "cancelled", null);
                    break;
                }
                Diagnostics.ShoalTelemetry.SetJob(Id, Request.Index, S.Phase, S.ReadingSeconds > 0 ? S.DocumentsRead / S.ReadingSeconds : 0);
                switch (S.Phase)
                {
                    case "reading": await ReadChunkAsync(cancellationToken); break;
                    case "building": await BuildAsync(cancellationToken); break;
                    case "publishing": await PublishAsync(); break;
                    case "activating": await ActivateAsync(); break;
                    default: throw new InvalidOperationException($"Job '{Id}' is in an unknown phase '{S.Phase}'.");
                }
            }
        }
        catch (InconsistentStateException e)
        {
            // Another activation owns the job now; leave everything to it.
            LogLostOwnership(_logger, Id, e.Message);
            _superseded = true;
            DeactivateOnIdle();
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Deactivating: the next activation resumes from the checkpoint.
        }
#pragma warning disable CA1031 // any failure ends the job as Failed with its message (its documented outcome) rather than killing the worker silently
        catch (Exception e)
#pragma warning restore CA1031
        {
            LogFailed(_logger, e, Id);
            try { await EndAsync(IndexJobState.Failed, "failed", e.Message); }
#pragma warning disable CA1031 // the failure cannot be recorded because another activation owns the job now; it records its own
            catch (Exception inner) { LogLostOwnership(_logger, Id, inner.Message); }
#pragma warning restore CA1031
        }
        finally
        {
            Diagnostics.ShoalTelemetry.SetJob(Id, "", null, 0);
            _reading?.Close();
            if (Finished) { _keepAlive?.Dispose(); _keepAlive = null; }
            try { if (Directory.Exists(ScratchDirectory)) Directory.Delete(ScratchDirectory, recursive: true); }
            catch (IOException) { }
        }
    }

    private IndexJobRequest Request => S.Request!;

    /// <summary>Reads, spills and records one chunk (<see cref="JobReading"/>), then persists the checkpoint.</summary>
    private async Task ReadChunkAsync(CancellationToken cancellationToken)
    {
        var step = await Reading.ReadChunkAsync(S, cancellationToken);
        if (step is null)
        {
            await EndReadingAsync();
            return;
        }
        if (step.Failure is { } failure)
        {
            await EndAsync(IndexJobState.Failed, "failed", failure);
            return;
        }
        S.UpdatedUtc = DateTimeOffset.UtcNow;
        // A checkpoint records work already done: it is written whole even when the job is stopping (the stop token is not forwarded).
        await _state.WriteStateAsync(CancellationToken.None);
        var source = S.Sources.First(x => x.Kind == step.Kind);
        LogChunk(_logger, Id, step.Kind, step.Chunk, source.LinesDone, S.DocumentsRead, S.Malformed);
    }

    /// <summary>Every source is read (a record whose sources were all done before it moved on).</summary>
    private async Task EndReadingAsync()
    {
        S.Phase = "building";
        S.UpdatedUtc = DateTimeOffset.UtcNow;
        await _state.WriteStateAsync();
    }

    /// <summary>Claims the version number, then builds and uploads shard by shard (<see cref="JobBuild"/>), persisting after each step.</summary>
    private async Task BuildAsync(CancellationToken cancellationToken)
    {
        var request = Request;
        if (S.Version is null)
        {
            S.Version = await _catalog.NextVersionAsync(request.Index, cancellationToken);
            S.UpdatedUtc = DateTimeOffset.UtcNow;
            // A checkpoint records work already done: it is written whole even when the job is stopping (the stop token is not forwarded).
            await _state.WriteStateAsync(CancellationToken.None);
        }
        long version = S.Version.Value;
        var build = await JobBuild.PrepareAsync(Files, S, cancellationToken);
        if (build.ScaleRecomputed)
        {
            S.UpdatedUtc = DateTimeOffset.UtcNow;
            await _state.WriteStateAsync(CancellationToken.None);
        }
        for (int shard = 0; shard < request.Shards; shard++)
        {
            if (S.Shards.Any(x => x.Shard == shard)) continue;
            if (S.CancelRequested) return;
            await build.BuildShardAsync(shard, version, cancellationToken);
            S.UpdatedUtc = DateTimeOffset.UtcNow;
            await _state.WriteStateAsync(CancellationToken.None);
        }
        S.TotalLength = build.Statistics.TotalLength;
        S.DocumentsIndexed = S.Shards.Sum(x => x.DocCount);
        S.Phase = "publishing";
        S.UpdatedUtc = DateTimeOffset.UtcNow;
        await _state.WriteStateAsync(CancellationToken.None);
    }

    /// <summary>Publishes the manifest (<see cref="JobPublication"/>) and moves on to activating.</summary>
    private async Task PublishAsync()
    {
        await JobPublication.PublishAsync(Files, S);
        S.Phase = "activating";
        S.UpdatedUtc = DateTimeOffset.UtcNow;
        await _state.WriteStateAsync();
        LogPublished(_logger, Id, Request.Index, S.Version!.Value, S.DocumentsIndexed);
    }

    private async Task ActivateAsync()
    {
        await GrainFactory.GetGrain<IIndexGrain>(Request.Index).AdoptVersionAsync(S.Version!.Value);
        await EndAsync(IndexJobState.Succeeded, "done", null);
    }

    /// <summary>
    /// Confirms this activation still owns the job (a state write checked against the stored ETag:
    /// a stale activation, whose silo was declared dead while it ran on, fails here and deletes
    /// nothing the live one needs), deletes the spills, then persists the final state (a crash in
    /// between repeats the step) and tells the catalog.
    /// </summary>
    private async Task EndAsync(IndexJobState state, string phase, string? error)
    {
        S.UpdatedUtc = DateTimeOffset.UtcNow;
        await _state.WriteStateAsync();
        try { await _catalog.Store.DeletePrefixAsync(Files.SpillPrefix + "/"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { LogCleanupFailed(_logger, e, Id); }
        var s = S;
        s.State = state;
        s.Phase = phase;
        s.Error = error;
        s.CancelRequested = false;
        s.FinishedUtc = s.UpdatedUtc = DateTimeOffset.UtcNow;
        await _state.WriteStateAsync();
        _keepAlive?.Dispose();
        _keepAlive = null;
        LogEnded(_logger, Id, state, error);
        try { await GrainFactory.GetGrain<IIndexJobCatalogGrain>(0).FinishedAsync(Id); }
#pragma warning disable CA1031 // telling the catalog is best effort: the supervisor's next sweep repeats it
        catch (Exception e) { LogCleanupFailed(_logger, e, Id); } // the supervisor's next ResumeAsync repeats it
#pragma warning restore CA1031
    }

    private IndexJobStatus Status()
    {
        var s = S;
        bool reading = s.Phase == "reading" && !Finished;
        var readingPhase = _reading;
        long LiveBytes(int i) => reading && readingPhase is not null ? readingPhase.LiveBytes(i, s.Sources[i].BytesRead) : s.Sources[i].BytesRead;
        long LiveDocuments(int i) => reading && readingPhase is not null ? readingPhase.LiveDocuments(i, s.Sources[i].DocumentsRead) : s.Sources[i].DocumentsRead;
        var sources = s.Sources.Select((x, i) => new IndexJobSourceStatus
        {
            Kind = x.Kind,
            Source = x.Source,
            Format = x.Format,
            LinesRead = x.LinesDone,
            DocumentsRead = LiveDocuments(i),
            Malformed = x.Malformed,
            Chunks = x.ChunksDone,
            BytesRead = LiveBytes(i),
            TotalBytes = x.TotalBytes,
            Done = x.Done,
        }).ToArray();
        long bytesRead = sources.Length > 0 ? sources.Sum(x => x.BytesRead) : s.BytesRead;
        // Documents, not records: a job with text and vectors for the same 40 documents has read 40, not 80.
        // Checkpointed counts, as ReadingSeconds covers checkpointed chunks only.
        long documents = s.Sources.Count > 0 ? s.Sources.Max(x => x.DocumentsRead) : s.DocumentsRead;
        double docsPerSecond = s.ReadingSeconds > 0 ? documents / s.ReadingSeconds : 0;
        double? eta = null;
        if (reading && s.ReadingSeconds > 0 && s.BytesRead > 0 && s.TotalBytes > 0)
            eta = Math.Max(0, s.TotalBytes - bytesRead) / (s.BytesRead / s.ReadingSeconds);
        else if (s.Phase == "building" && s.Shards.Count > 0 && s.Request is not null)
            eta = (s.Request.Shards - s.Shards.Count) * s.BuildingSeconds / s.Shards.Count;
        else if (Finished) eta = 0;
        return new IndexJobStatus
        {
            Id = Id,
            Request = s.Request ?? new IndexJobRequest(),
            State = s.State,
            Phase = s.Phase,
            LinesRead = s.LinesDone,
            DocumentsRead = s.DocumentsRead,
            DocumentsIndexed = s.DocumentsIndexed,
            Malformed = s.Malformed,
            MalformedLines = [.. s.MalformedLines],
            Warnings = [.. s.Warnings],
            Chunks = s.ChunksDone,
            BytesRead = bytesRead,
            TotalBytes = s.TotalBytes,
            DocsPerSecond = docsPerSecond,
            EtaSeconds = eta,
            ShardsBuilt = s.Shards.Count,
            Version = s.Version,
            Error = s.Error,
            CreatedUtc = s.CreatedUtc,
            UpdatedUtc = s.UpdatedUtc,
            FinishedUtc = s.FinishedUtc,
            Silo = s.Silo,
            Attempts = s.Attempts,
            CancelRequested = s.CancelRequested,
            Sources = sources,
        };
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {Job}: indexing {Source} ({Format}) into {Index}")]
    private static partial void LogSubmitted(ILogger logger, string job, string index, string source, string format);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {Job}: {Warning}")]
    private static partial void LogPlacementWarning(ILogger logger, string job, string warning);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {Job}: attempt {Attempt} resumes in phase {Phase} at line {Lines} (chunk {Chunks})")]
    private static partial void LogResumed(ILogger logger, string job, int attempt, string phase, long lines, long chunks);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Job {Job}: {Source} chunk {Chunk} checkpointed at line {Lines} ({Docs} records, {Malformed} malformed)")]
    private static partial void LogChunk(ILogger logger, string job, string source, long chunk, long lines, long docs, long malformed);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {Job}: published {Index} version {Version} ({Docs} documents)")]
    private static partial void LogPublished(ILogger logger, string job, string index, long version, long docs);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {Job}: {State} {Error}")]
    private static partial void LogEnded(ILogger logger, string job, IndexJobState state, string? error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {Job}: another activation owns the job; this one stops ({Reason})")]
    private static partial void LogLostOwnership(ILogger logger, string job, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Job {Job} failed")]
    private static partial void LogFailed(ILogger logger, Exception error, string job);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {Job}: clean-up failed")]
    private static partial void LogCleanupFailed(ILogger logger, Exception error, string job);
}
