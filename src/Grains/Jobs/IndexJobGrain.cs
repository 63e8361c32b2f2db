using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans;
using Orleans.Runtime;
using Orleans.Storage;
using Shoal.Engine.Analysis;
using Shoal.Engine.Indexing;
using Shoal.Engine.Ingest;
using Shoal.Engine.Snapshots;
using Shoal.Engine.Text;
using Shoal.Grains.Contracts;
using Shoal.Grains.Hosting;

namespace Shoal.Grains.Jobs;

/// <summary>
/// An indexing job. The work runs on the thread pool, driven by a task on the grain's context that
/// never blocks a turn: status and cancel calls are answered while a chunk is being read.
/// <list type="number">
/// <item><description><b>reading</b>: the source is cut into chunks of a fixed number of lines; each
/// chunk's documents are analysed, routed by id hash to shards and spilled per shard to the snapshot
/// store (<c>jobs/spill/{id}/bm25/shard-NNNN/chunk-NNNNNNNN.spill</c>, names fixed by chunk number so a
/// chunk run twice overwrites itself); then the checkpoint (lines consumed, chunks, counters,
/// malformed lines) is persisted.</description></item>
/// <item><description><b>building</b>: the version number is claimed and persisted; collection-global
/// BM25 statistics are gathered from every shard's spills; then shard by shard the segments are
/// built, uploaded and recorded in the checkpoint.</description></item>
/// <item><description><b>publishing</b>: the manifest is written (atomic publish);
/// <b>activating</b>: the index grain adopts the version and its shards load it; the spills are
/// deleted.</description></item>
/// </list>
/// A new activation (after its silo died) claims the job by persisting it with a new attempt
/// number — a stale activation then fails its next checkpoint on the ETag and stops — and resumes
/// from the checkpoint: nothing checkpointed is read twice and nothing read is lost.
/// </summary>
public sealed partial class IndexJobGrain : Grain, IIndexJobGrain
{
    private readonly IPersistentState<IndexJobRecord> _state;
    private readonly SnapshotCatalog _catalog;
    private readonly ShoalOptions _options;
    private readonly ShoalJobOptions _jobOptions;
    private readonly ILogger<IndexJobGrain> _logger;
    private readonly string _scratch = Guid.NewGuid().ToString("N");
    private Task? _worker;
    private CancellationTokenSource? _stop;
    private IGrainTimer? _keepAlive;
    private CorpusChunkReader? _reader;
    private string? _localSource;
    private bool _superseded;

    /// <summary>Created by Orleans.</summary>
    public IndexJobGrain(
        [PersistentState("job", ShoalJobsSiloBuilderExtensions.StorageName)] IPersistentState<IndexJobRecord> state,
        SnapshotCatalog catalog,
        IOptions<ShoalOptions> options,
        IOptions<ShoalJobOptions> jobOptions,
        ILogger<IndexJobGrain> logger)
    {
        _state = state;
        _catalog = catalog;
        _options = options.Value;
        _jobOptions = jobOptions.Value;
        _logger = logger;
    }

    private string Id => this.GetPrimaryKeyString();

    private IndexJobRecord S => _state.State;

    private bool Finished => S.State is IndexJobState.Succeeded or IndexJobState.Failed or IndexJobState.Cancelled;

    private string SpillPrefix => $"jobs/spill/{Id}";

    private string ScratchDirectory => Path.Combine(_options.BuildDirectory, "jobs", Id, _scratch);

    /// <inheritdoc />
    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (_state.RecordExists && !Finished && await ClaimAsync()) StartWorker();
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
        var (format, totalBytes) = await ValidateAsync(request);
        var now = DateTimeOffset.UtcNow;
        var s = S;
        s.Request = request;
        s.State = IndexJobState.Running;
        s.Phase = "reading";
        s.Format = CorpusFormats.Name(format);
        s.TotalBytes = totalBytes;
        s.CreatedUtc = now;
        s.UpdatedUtc = now;
        s.Silo = RuntimeIdentity;
        s.Attempts = 1;
        await _state.WriteStateAsync();
        await GrainFactory.GetGrain<IIndexJobCatalogGrain>(0).RegisterAsync(Id);
        LogSubmitted(_logger, Id, request.Index, request.Source, s.Format);
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
        catch (Exception e)
        {
            LogFailed(_logger, e, Id);
            try { await EndAsync(IndexJobState.Failed, "failed", e.Message); }
            catch (Exception inner) { LogLostOwnership(_logger, Id, inner.Message); }
        }
        finally
        {
            _reader?.Dispose();
            _reader = null;
            if (Finished) { _keepAlive?.Dispose(); _keepAlive = null; }
            try { if (Directory.Exists(ScratchDirectory)) Directory.Delete(ScratchDirectory, recursive: true); }
            catch (IOException) { }
        }
    }

    private IndexJobRequest Request => S.Request!;

    private async Task ReadChunkAsync(CancellationToken cancellationToken)
    {
        var request = Request;
        var format = CorpusFormats.Parse(S.Format);
        int chunkLines = request.ChunkLines > 0 ? request.ChunkLines : _jobOptions.ChunkLines;
        bool stop = request.OnMalformed == "stop";
        long chunkNo = S.ChunksDone;
        string source = await LocalSourceAsync(cancellationToken);
        var clock = Stopwatch.StartNew();
        var store = _catalog.Store;
        string scratch = ScratchDirectory;
        string prefix = SpillPrefix;
        long linesDone = S.LinesDone;
        var reader = _reader;
        var (chunk, documents, stopAt) = await Task.Run(async () =>
        {
            reader ??= CorpusChunkReader.Open(source, format, linesDone);
            var c = reader.ReadChunk(chunkLines, cancellationToken);
            var docs = c.Documents;
            MalformedLine? stopLine = null;
            if (stop && c.Malformed.Count > 0)
            {
                stopLine = c.Malformed[0];
                docs = [.. docs.Where(d => d.Line < stopLine.Value.Line)];
            }
            if (stopLine is null)
            {
                var byShard = IndexSpill.AnalyzeText(docs, request.Shards, EnglishAnalyzer.Instance, cancellationToken);
                await Parallel.ForEachAsync(Enumerable.Range(0, request.Shards).Where(s => byShard[s].Count > 0),
                    new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = cancellationToken }, async (s, ct) =>
                    {
                        string key = IndexSpill.ChunkKey(prefix, IndexChannels.Text, s, chunkNo);
                        string local = Path.Combine(scratch, "spill", key.Replace('/', Path.DirectorySeparatorChar));
                        IndexSpill.WriteText(local, byShard[s]);
                        await store.PutFileAsync(key, local, ct);
                        File.Delete(local);
                    });
            }
            return (c, docs.Count, stopLine);
        }, cancellationToken);
        _reader = reader;

        var st = S;
        st.ReadingSeconds += clock.Elapsed.TotalSeconds;
        st.BytesRead = reader!.BytesRead;
        st.DocumentsRead += documents;
        var malformed = stopAt is { } first ? [first] : chunk.Malformed;
        st.Malformed += malformed.Count;
        foreach (var m in malformed.Take(Math.Max(0, _jobOptions.MaxMalformedReported - st.MalformedLines.Count)))
            st.MalformedLines.Add(new MalformedLineInfo { Line = m.Line, Reason = m.Reason });
        if (stopAt is { } at)
        {
            st.LinesDone = at.Line - 1;
            await EndAsync(IndexJobState.Failed, "failed", $"Malformed line {at.Line} of '{request.Source}': {at.Reason} (onMalformed is 'stop').");
            return;
        }
        st.LinesDone += chunk.Lines;
        st.ChunksDone = chunkNo + 1;
        if (chunk.EndOfInput)
        {
            st.Phase = "building";
            reader.Dispose();
            _reader = null;
        }
        st.UpdatedUtc = DateTimeOffset.UtcNow;
        await _state.WriteStateAsync();
        LogChunk(_logger, Id, chunkNo, st.LinesDone, st.DocumentsRead, st.Malformed);
    }

    private async Task BuildAsync(CancellationToken cancellationToken)
    {
        var request = Request;
        if (S.Version is null)
        {
            var versions = await _catalog.ListVersionsAsync(request.Index, cancellationToken);
            S.Version = (versions.Count == 0 ? 0 : versions[^1]) + 1;
            S.UpdatedUtc = DateTimeOffset.UtcNow;
            await _state.WriteStateAsync();
        }
        long version = S.Version.Value;
        var plan = Plan(request);
        var spills = await MaterializeSpillsAsync(request.Shards, cancellationToken);
        var builder = new SpillIndexBuilder(plan);
        var stats = await Task.Run(() => builder.ComputeStatistics(s => spills[s], cancellationToken), cancellationToken);
        for (int shard = 0; shard < request.Shards; shard++)
        {
            if (S.Shards.Any(x => x.Shard == shard)) continue;
            if (S.CancelRequested) return;
            var clock = Stopwatch.StartNew();
            string dir = Path.Combine(ScratchDirectory, "build", $"shard-{shard:D4}");
            int s = shard;
            var built = await Task.Run(() => builder.BuildShard(s, spills[s], stats, dir, cancellationToken), cancellationToken);
            var segments = new List<JobSegment>();
            foreach (var seg in built.Segments)
            {
                var uploaded = await _catalog.UploadSegmentAsync(request.Index, version, shard, seg.Path, cancellationToken);
                segments.Add(new JobSegment { Key = uploaded.Key, Bytes = uploaded.Bytes, Xxh3 = uploaded.Xxh3, Channel = seg.Channel });
            }
            Directory.Delete(dir, recursive: true);
            S.Shards.Add(new JobShard { Shard = shard, DocCount = built.DocCount, Segments = segments });
            S.BuildingSeconds += clock.Elapsed.TotalSeconds;
            S.UpdatedUtc = DateTimeOffset.UtcNow;
            await _state.WriteStateAsync();
        }
        S.TotalLength = stats.TotalLength;
        S.DocumentsIndexed = S.Shards.Sum(x => x.DocCount);
        S.Phase = "publishing";
        S.UpdatedUtc = DateTimeOffset.UtcNow;
        await _state.WriteStateAsync();
    }

    private async Task PublishAsync()
    {
        var request = Request;
        long version = S.Version!.Value;
        var manifest = new IndexManifest
        {
            Index = request.Index,
            Version = version,
            CreatedUtc = DateTimeOffset.UtcNow,
            ShardCount = request.Shards,
            Replicas = request.Replicas,
            Schema = new IndexSchema(new TextChannelSchema(EnglishAnalyzer.Instance.Name, request.K1, request.B, true)),
            DocCount = S.DocumentsIndexed,
            TotalLength = S.TotalLength,
            Shards = [.. S.Shards.OrderBy(x => x.Shard).Select(x => new ShardManifest(x.Shard, x.DocCount,
                [.. x.Segments.Select(g => new SegmentManifest(g.Key, g.Bytes, g.Xxh3, g.Channel))]))],
        };
        var existing = await _catalog.GetManifestAsync(request.Index, version);
        if (existing is null) await _catalog.PublishAsync(manifest);
        else if (!existing.Shards.SelectMany(x => x.Segments).Select(g => g.Xxh3).SequenceEqual(manifest.Shards.SelectMany(x => x.Segments).Select(g => g.Xxh3)))
            throw new InvalidOperationException($"Version {version} of index '{request.Index}' was published by another build while this job ran; submit the job again.");
        S.Phase = "activating";
        S.UpdatedUtc = DateTimeOffset.UtcNow;
        await _state.WriteStateAsync();
        LogPublished(_logger, Id, request.Index, version, S.DocumentsIndexed);
    }

    private async Task ActivateAsync()
    {
        await GrainFactory.GetGrain<IIndexGrain>(Request.Index).AdoptVersionAsync(S.Version!.Value);
        await EndAsync(IndexJobState.Succeeded, "done", null);
    }

    /// <summary>Deletes the spills, then persists the final state (a crash in between repeats the step) and tells the catalog.</summary>
    private async Task EndAsync(IndexJobState state, string phase, string? error)
    {
        try { await _catalog.Store.DeletePrefixAsync(SpillPrefix + "/"); }
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
        catch (Exception e) { LogCleanupFailed(_logger, e, Id); } // the supervisor's next ResumeAsync repeats it
    }

    private static IndexBuildPlan Plan(IndexJobRequest request) => new()
    {
        Shards = request.Shards,
        Text = new Bm25Parameters(request.K1, request.B),
        Analyzer = EnglishAnalyzer.Instance,
    };

    /// <summary>Local files of every shard's spills of checkpointed chunks, in chunk order (downloaded when the store is remote).</summary>
    private async Task<ShardSpills[]> MaterializeSpillsAsync(int shards, CancellationToken cancellationToken)
    {
        var store = _catalog.Store;
        var result = new ShardSpills[shards];
        long chunks = S.ChunksDone;
        for (int s = 0; s < shards; s++)
        {
            var keys = (await store.ListAsync(IndexSpill.ShardPrefix(SpillPrefix, IndexChannels.Text, s), cancellationToken))
                .Select(k => (Key: k, Chunk: IndexSpill.ChunkOf(k)))
                .Where(k => k.Chunk >= 0 && k.Chunk < chunks)
                .OrderBy(k => k.Chunk)
                .ToList();
            var paths = new List<string>(keys.Count);
            foreach (var (key, _) in keys)
            {
                string? local = store.TryGetLocalPath(key);
                if (local is null)
                {
                    local = Path.Combine(ScratchDirectory, "spill", key.Replace('/', Path.DirectorySeparatorChar));
                    await store.GetFileAsync(key, local, cancellationToken);
                }
                paths.Add(local);
            }
            result[s] = new ShardSpills(paths, [], []);
        }
        return result;
    }

    /// <summary>The source as a local file: the path itself, or a <c>store:</c> object (in place when the store is local, else downloaded once).</summary>
    private async Task<string> LocalSourceAsync(CancellationToken cancellationToken)
    {
        if (_localSource is not null) return _localSource;
        string source = Request.Source;
        if (!source.StartsWith(StorePrefix, StringComparison.Ordinal)) return _localSource = Path.GetFullPath(source);
        string key = source[StorePrefix.Length..];
        string? local = _catalog.Store.TryGetLocalPath(key);
        if (local is null)
        {
            local = Path.Combine(ScratchDirectory, "source", Path.GetFileName(key));
            await _catalog.Store.GetFileAsync(key, local, cancellationToken);
        }
        return _localSource = local;
    }

    /// <summary>Prefix of sources that name an object of the snapshot store.</summary>
    public const string StorePrefix = "store:";

    private async Task<(CorpusFormat Format, long Bytes)> ValidateAsync(IndexJobRequest r)
    {
        if (SnapshotCatalog.ValidateIndexName(r.Index) is { } nameError) throw new ArgumentException(nameError);
        if (string.IsNullOrWhiteSpace(r.Source)) throw new ArgumentException("'source' is required: a corpus path readable by the silos, or store:<key> of an object in the snapshot store.");
        if (r.Shards < 1 || r.Shards > _options.MaxShards) throw new ArgumentException($"shards must be between 1 and {_options.MaxShards} (got {r.Shards}).");
        if (r.Replicas < 1 || r.Replicas > 8) throw new ArgumentException($"replicas must be between 1 and 8 (got {r.Replicas}).");
        new Bm25Parameters(r.K1, r.B).Validate();
        if (r.OnMalformed is not ("skip" or "stop")) throw new ArgumentException($"onMalformed must be 'skip' or 'stop' (got '{r.OnMalformed}').");
        if (r.ChunkLines < 0 || r.ChunkLines > 10_000_000) throw new ArgumentException($"chunkLines must be between 1 and 10000000, or 0 for the default (got {r.ChunkLines}).");

        string? local;
        long bytes;
        if (r.Source.StartsWith(StorePrefix, StringComparison.Ordinal))
        {
            string key = r.Source[StorePrefix.Length..];
            var found = key.Length == 0 ? [] : await _catalog.Store.ListAsync(key);
            if (!found.Contains(key)) throw new ArgumentException($"Source object '{key}' does not exist in {_catalog.Store.Description}.");
            local = _catalog.Store.TryGetLocalPath(key);
            bytes = local is null ? 0 : new FileInfo(local).Length;
            if (local is null && r.Format is null)
            {
                string ext = Path.GetExtension(key.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? key[..^3] : key).ToLowerInvariant();
                return (ext switch
                {
                    ".tsv" or ".txt" => CorpusFormat.Tsv,
                    ".jsonl" or ".json" => CorpusFormat.BeirJsonl,
                    _ => throw new ArgumentException($"Cannot detect the format of '{key}' from its name: give 'format' ({string.Join(", ", CorpusFormats.Names)})."),
                }, bytes);
            }
        }
        else
        {
            local = Path.GetFullPath(r.Source);
            if (!File.Exists(local)) throw new ArgumentException($"Source file '{local}' does not exist on silo {RuntimeIdentity}.");
            bytes = new FileInfo(local).Length;
        }
        var format = r.Format is null ? CorpusFormats.Detect(local!) : CorpusFormats.Parse(r.Format);
        return (format, bytes);
    }

    private IndexJobStatus Status()
    {
        var s = S;
        bool reading = s.Phase == "reading" && !Finished;
        long bytesRead = reading && _reader is { } r ? Math.Max(s.BytesRead, r.BytesRead) : s.BytesRead;
        double docsPerSecond = s.ReadingSeconds > 0 ? s.DocumentsRead / s.ReadingSeconds : 0;
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
        };
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {Job}: indexing {Source} ({Format}) into {Index}")]
    private static partial void LogSubmitted(ILogger logger, string job, string index, string source, string format);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {Job}: attempt {Attempt} resumes in phase {Phase} at line {Lines} (chunk {Chunks})")]
    private static partial void LogResumed(ILogger logger, string job, int attempt, string phase, long lines, long chunks);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Job {Job}: chunk {Chunk} checkpointed at line {Lines} ({Docs} documents, {Malformed} malformed)")]
    private static partial void LogChunk(ILogger logger, string job, long chunk, long lines, long docs, long malformed);

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
