using System.Diagnostics;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans;
using Orleans.Runtime;
using Orleans.Storage;
using Shoal.Engine.Analysis;
using Shoal.Engine.Dense;
using Shoal.Engine.Indexing;
using Shoal.Engine.Ingest;
using Shoal.Engine.Security;
using Shoal.Engine.Snapshots;
using Shoal.Engine.Sparse;
using Shoal.Engine.Text;
using Shoal.Grains.Contracts;
using Shoal.Grains.Placement;
using Shoal.Grains.Hosting;

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
/// A new activation (after its silo died) claims the job by persisting it with a new attempt
/// number — a stale activation then fails its next checkpoint on the ETag and stops — and resumes
/// from the checkpoint: nothing checkpointed is read twice and nothing read is lost.
/// </summary>
#pragma warning disable CA1001 // _stop is released when the grain deactivates (OnDeactivateAsync, once the worker has ended) and when a new worker replaces it; Orleans owns the grain's lifetime
public sealed partial class IndexJobGrain : Grain, IIndexJobGrain
#pragma warning restore CA1001
{
    private readonly IPersistentState<IndexJobRecord> _state;
    private readonly SnapshotCatalog _catalog;
    private readonly ShoalOptions _options;
    private readonly ShoalJobOptions _jobOptions;
    private readonly DataRoots _roots;
    private readonly ILogger<IndexJobGrain> _logger;
    private readonly string _scratch = Guid.NewGuid().ToString("N");
    private Task? _worker;
    private CancellationTokenSource? _stop;
    private IGrainTimer? _keepAlive;
    private IChunkSourceReader? _reader;
    private int _readerSource = -1;
    private readonly Dictionary<string, string> _localSources = new(StringComparer.Ordinal);
    private SparseVocabulary? _vocabulary;
    private bool _superseded;

    /// <summary>Created by Orleans.</summary>
    public IndexJobGrain(
        [PersistentState("job", ShoalJobsSiloBuilderExtensions.StorageName)] IPersistentState<IndexJobRecord> state,
        SnapshotCatalog catalog,
        IOptions<ShoalOptions> options,
        IOptions<ShoalJobOptions> jobOptions,
        DataRoots roots,
        ILogger<IndexJobGrain> logger)
    {
        _roots = roots;
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
        var (format, sources) = await ValidateAsync(request);
        string? placement = await ReplicaPlacementCheck.CheckAsync(GrainFactory, request.Replicas, request.StrictPlacement);
        var now = DateTimeOffset.UtcNow;
        var s = S;
        s.Warnings = placement is null ? [] : [placement];
        if (placement is not null) LogPlacementWarning(_logger, Id, placement);
        if (request.SparseVectors is not null) await StoreVocabularyAsync(request);
        s.Request = request;
        s.State = IndexJobState.Running;
        s.Phase = "reading";
        s.Format = format is { } f ? CorpusFormats.Name(f) : "";
        s.Sources = sources;
        s.DenseDims = request.DenseDims ?? 0;
        Recount();
        s.CreatedUtc = now;
        s.UpdatedUtc = now;
        s.Silo = RuntimeIdentity;
        s.Attempts = 1;
        await _state.WriteStateAsync();
        await GrainFactory.GetGrain<IIndexJobCatalogGrain>(0).RegisterAsync(Id);
        string described = string.Join(" + ", sources.Select(x => $"{x.Kind}:{x.Source}"));
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
            _reader?.Dispose();
            _reader = null;
            if (Finished) { _keepAlive?.Dispose(); _keepAlive = null; }
            try { if (Directory.Exists(ScratchDirectory)) Directory.Delete(ScratchDirectory, recursive: true); }
            catch (IOException) { }
        }
    }

    private IndexJobRequest Request => S.Request!;

    private void CloseReader()
    {
        _reader?.Dispose();
        _reader = null;
        _readerSource = -1;
    }

    /// <summary>Sets the record's counters to the sums over its sources.</summary>
    private void Recount()
    {
        var s = S;
        s.LinesDone = s.Sources.Sum(x => x.LinesDone);
        s.ChunksDone = s.Sources.Sum(x => x.ChunksDone);
        s.DocumentsRead = s.Sources.Sum(x => x.DocumentsRead);
        s.Malformed = s.Sources.Sum(x => x.Malformed);
        s.BytesRead = s.Sources.Sum(x => x.BytesRead);
        s.TotalBytes = s.Sources.Sum(x => x.TotalBytes);
    }

    private static string ChannelOf(string kind) => kind switch
    {
        IndexJobSources.Text => IndexChannels.Text,
        IndexJobSources.Sparse => IndexChannels.Sparse,
        IndexJobSources.Dense => IndexChannels.Dense,
        _ => throw new InvalidOperationException($"Unknown source kind '{kind}'."),
    };

    /// <summary>What one chunk of a source gave.</summary>
    private sealed record ChunkOutcome(long Lines, int Documents, IReadOnlyList<MalformedLine> Malformed, MalformedLine? StopAt, bool EndOfInput,
        string Format, SparseMaxWeightTracker? SparseMax, int DenseDims);

    private async Task ReadChunkAsync(CancellationToken cancellationToken)
    {
        var request = Request;
        int index = S.Sources.FindIndex(x => !x.Done);
        if (index < 0)
        {
            await EndReadingAsync();
            return;
        }
        var source = S.Sources[index];
        if (_readerSource != index) CloseReader();
        int chunkLines = request.ChunkLines > 0 ? request.ChunkLines : _jobOptions.ChunkLines;
        bool stop = request.OnMalformed == "stop";
        long chunkNo = source.ChunksDone;
        string kind = source.Kind;
        string local = await LocalFileAsync(source.Source, kind, cancellationToken);
        var vocabulary = kind == IndexJobSources.Sparse ? await VocabularyAsync(cancellationToken) : null;
        var textFormat = kind == IndexJobSources.Text ? CorpusFormats.Parse(S.Format) : default;
        var sparseMax = new SparseMaxWeightTracker(S.SparseMaxWeight, S.SparseMaxHolder, S.SparseMaxStale);
        int denseDims = S.DenseDims;
        var clock = Stopwatch.StartNew();
        var store = _catalog.Store;
        string scratch = ScratchDirectory;
        string prefix = SpillPrefix;
        string channel = ChannelOf(kind);
        long linesDone = source.LinesDone;
        int shards = request.Shards;
        var reader = _reader;

        async Task SpillAsync<T>(List<T>[] byShard, Action<string, IEnumerable<T>> write, CancellationToken ct)
        {
            await Parallel.ForEachAsync(Enumerable.Range(0, shards).Where(s => byShard[s].Count > 0),
                new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = ct }, async (s, token) =>
                {
                    string key = IndexSpill.ChunkKey(prefix, channel, s, chunkNo);
                    string path = Path.Combine(scratch, "spill", key.Replace('/', Path.DirectorySeparatorChar));
                    write(path, byShard[s]);
                    await store.PutFileAsync(key, path, token);
                    File.Delete(path);
                });
        }

        // Keeps the records before the first malformed line under the "stop" policy (the job fails at it).
        static (List<T> Kept, MalformedLine? StopAt) Cut<T>(IReadOnlyList<T> records, IReadOnlyList<MalformedLine> malformed, bool stop, Func<T, long> lineOf)
        {
            if (!stop || malformed.Count == 0) return (records as List<T> ?? [.. records], null);
            var at = malformed[0];
            return ([.. records.Where(r => lineOf(r) < at.Line)], at);
        }

        var outcome = await Task.Run(async () =>
        {
            switch (kind)
            {
                case IndexJobSources.Text:
                    {
                        var r = (CorpusChunkReader)(reader ??= CorpusChunkReader.Open(local, textFormat, linesDone));
                        var c = r.ReadChunk(chunkLines, cancellationToken);
                        var (docs, at) = Cut(c.Documents, c.Malformed, stop, d => d.Line);
                        if (at is null) await SpillAsync(IndexSpill.AnalyzeText(docs, shards, EnglishAnalyzer.Instance, cancellationToken), IndexSpill.WriteText, cancellationToken);
                        return new ChunkOutcome(c.Lines, docs.Count, c.Malformed, at, c.EndOfInput, CorpusFormats.Name(textFormat), null, denseDims);
                    }
                case IndexJobSources.Sparse when reader is SparseBinaryChunkReader || (reader is null && SparseBinaryFormat.IsBinary(local)):
                    {
                        var r = (SparseBinaryChunkReader)(reader ??= SparseBinaryChunkReader.Open(local, vocabulary!, linesDone));
                        var c = r.ReadChunk(chunkLines, cancellationToken);
                        var (records, at) = Cut(c.Records, c.Malformed, stop, d => d.Line);
                        if (at is null) await SpillAsync(IndexSpill.GroupByShard(records, shards, x => x.Id), IndexSpill.WriteSparse, cancellationToken);
                        return new ChunkOutcome(c.Lines, records.Count, c.Malformed, at, c.EndOfInput, SparseBinaryFormat.FormatName, sparseMax.Observe(records), denseDims);
                    }
                case IndexJobSources.Sparse:
                    {
                        var r = (SparseChunkReader)(reader ??= SparseChunkReader.Open(local, vocabulary!, linesDone));
                        var c = r.ReadChunk(chunkLines, cancellationToken);
                        var (records, at) = Cut(c.Records, c.Malformed, stop, d => d.Line);
                        if (at is null) await SpillAsync(IndexSpill.GroupByShard(records, shards, x => x.Id), IndexSpill.WriteSparse, cancellationToken);
                        return new ChunkOutcome(c.Lines, records.Count, c.Malformed, at, c.EndOfInput, "anserini", sparseMax.Observe(records), denseDims);
                    }
                default:
                    {
                        var r = (DenseChunkReader)(reader ??= DenseChunkReader.Open(local, denseDims, linesDone));
                        var c = r.ReadChunk(chunkLines, cancellationToken);
                        var (records, at) = Cut(c.Records, c.Malformed, stop, d => d.Line);
                        if (at is null) await SpillAsync(IndexSpill.GroupByShard(records, shards, x => x.Id), IndexSpill.WriteDense, cancellationToken);
                        return new ChunkOutcome(c.Lines, records.Count, c.Malformed, at, c.EndOfInput, r.Binary ? "shoalvec" : "jsonl", null, r.Dims);
                    }
            }
        }, cancellationToken);
        _reader = reader;
        _readerSource = index;

        var st = S;
        st.ReadingSeconds += clock.Elapsed.TotalSeconds;
        source.Format = outcome.Format;
        source.BytesRead = reader!.BytesRead;
        source.DocumentsRead += outcome.Documents;
        Diagnostics.ShoalTelemetry.JobDocuments.Add(outcome.Documents, new KeyValuePair<string, object?>("index", Request.Index));
        var malformed = outcome.StopAt is { } first ? [first] : outcome.Malformed;
        source.Malformed += malformed.Count;
        foreach (var m in malformed.Take(Math.Max(0, _jobOptions.MaxMalformedReported - st.MalformedLines.Count)))
            st.MalformedLines.Add(new MalformedLineInfo { Line = m.Line, Reason = m.Reason, Source = kind });
        if (outcome.StopAt is { } at)
        {
            source.LinesDone = at.Line - 1;
            Recount();
            string unit = reader is DenseChunkReader { Binary: true } or SparseBinaryChunkReader ? "record" : "line";
            string what = kind switch
            {
                IndexJobSources.Sparse => "sparse vectors ",
                IndexJobSources.Dense => "dense vectors ",
                _ => "",
            };
            await EndAsync(IndexJobState.Failed, "failed", $"Malformed {unit} {at.Line} of {what}'{source.Source}': {at.Reason} (onMalformed is 'stop').");
            return;
        }
        source.LinesDone += outcome.Lines;
        source.ChunksDone = chunkNo + 1;
        if (outcome.SparseMax is { } max)
        {
            st.SparseMaxWeight = max.MaxWeight;
            st.SparseMaxHolder = max.HolderId;
            st.SparseMaxStale = max.Stale;
        }
        if (kind == IndexJobSources.Dense) st.DenseDims = outcome.DenseDims;
        if (outcome.EndOfInput)
        {
            source.Done = true;
            CloseReader();
            if (source.DocumentsRead == 0)
            {
                // Publishing an empty index would look like success; say what was wrong instead.
                Recount();
                var firstBad = st.MalformedLines.FirstOrDefault(m => m.Source == kind);
                await EndAsync(IndexJobState.Failed, "failed", source.Malformed == 0
                    ? $"'{source.Source}' ({kind}) holds no documents."
                    : $"'{source.Source}' ({kind}) holds no well-formed document: all {source.Malformed} lines were malformed" +
                      (firstBad is null ? "." : $" (the first, line {firstBad.Line}: {firstBad.Reason})."));
                return;
            }
            if (kind == IndexJobSources.Dense && st.DenseDims == 0)
            {
                Recount();
                await EndAsync(IndexJobState.Failed, "failed", $"Dense vectors '{source.Source}' hold no well-formed vector, so their dimensions are unknown.");
                return;
            }
        }
        Recount();
        if (st.Sources.All(x => x.Done)) st.Phase = "building";
        st.UpdatedUtc = DateTimeOffset.UtcNow;
        // A checkpoint records work already done: it is written whole even when the job is stopping (the stop token is not forwarded).
        await _state.WriteStateAsync(CancellationToken.None);
        LogChunk(_logger, Id, kind, chunkNo, source.LinesDone, st.DocumentsRead, st.Malformed);
    }

    /// <summary>Every source is read (a record whose sources were all done before it moved on).</summary>
    private async Task EndReadingAsync()
    {
        S.Phase = "building";
        S.UpdatedUtc = DateTimeOffset.UtcNow;
        await _state.WriteStateAsync();
    }

    private async Task BuildAsync(CancellationToken cancellationToken)
    {
        var request = Request;
        if (S.Version is null)
        {
            var versions = await _catalog.ListVersionsAsync(request.Index, cancellationToken);
            S.Version = (versions.Count == 0 ? 0 : versions[^1]) + 1;
            S.UpdatedUtc = DateTimeOffset.UtcNow;
            // A checkpoint records work already done: it is written whole even when the job is stopping (the stop token is not forwarded).
            await _state.WriteStateAsync(CancellationToken.None);
        }
        long version = S.Version.Value;
        var vocabulary = request.SparseVectors is null ? null : await VocabularyAsync(cancellationToken);
        var plan = Plan(request, vocabulary, S.DenseDims);
        var spills = await MaterializeSpillsAsync(request.Shards, cancellationToken);
        var builder = new SpillIndexBuilder(plan);
        float? knownMax = S.SparseMaxStale ? null : S.SparseMaxWeight;
        var stats = await Task.Run(() => builder.ComputeStatistics(s => spills[s], knownMax, cancellationToken), cancellationToken);
        if (vocabulary is not null && S.SparseMaxStale)
        {
            // The scale gathered while reading belonged to a replaced record: keep the recomputed one.
            S.SparseMaxWeight = stats.SparseMaxWeight;
            S.SparseMaxStale = false;
            S.UpdatedUtc = DateTimeOffset.UtcNow;
            await _state.WriteStateAsync(CancellationToken.None);
        }
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
                long started = Stopwatch.GetTimestamp();
                var uploaded = await _catalog.UploadSegmentAsync(request.Index, version, shard, seg.Path, cancellationToken);
                Diagnostics.TransferMetrics.Uploaded(request.Index, uploaded.Bytes, Stopwatch.GetElapsedTime(started));
                segments.Add(new JobSegment { Key = uploaded.Key, Bytes = uploaded.Bytes, Xxh3 = uploaded.Xxh3, Channel = seg.Channel });
            }
            Directory.Delete(dir, recursive: true);
            S.Shards.Add(new JobShard { Shard = shard, DocCount = built.DocCount, Segments = segments });
            S.BuildingSeconds += clock.Elapsed.TotalSeconds;
            S.UpdatedUtc = DateTimeOffset.UtcNow;
            await _state.WriteStateAsync(CancellationToken.None);
        }
        S.TotalLength = stats.TotalLength;
        S.DocumentsIndexed = S.Shards.Sum(x => x.DocCount);
        S.Phase = "publishing";
        S.UpdatedUtc = DateTimeOffset.UtcNow;
        await _state.WriteStateAsync(CancellationToken.None);
    }

    private async Task PublishAsync()
    {
        var request = Request;
        long version = S.Version!.Value;
        SparseChannelSchema? sparse = null;
        if (request.SparseVectors is not null)
        {
            // The vocabulary is stored with the version, as the in-memory ingest does, so any silo can map query tokens.
            string key = SnapshotCatalog.VocabularyKey(request.Index, version);
            string local = await LocalFileAsync(StorePrefix + S.VocabularyKey, "vocabulary", CancellationToken.None);
            await _catalog.Store.PutFileAsync(key, local);
            sparse = new SparseChannelSchema(key, S.VocabularyXxh3!, S.VocabularySize, S.SparseMaxWeight);
        }
        DenseChannelSchema? dense = request.DenseVectors is null ? null
            : new DenseChannelSchema(S.DenseDims, request.DenseMetric, request.DenseStorage, request.DenseIndex, request.HnswM, request.HnswEfConstruction);
        var manifest = new IndexManifest
        {
            Index = request.Index,
            Version = version,
            CreatedUtc = DateTimeOffset.UtcNow,
            ShardCount = request.Shards,
            Replicas = request.Replicas,
            Schema = new IndexSchema(
                string.IsNullOrWhiteSpace(request.Source) ? null : new TextChannelSchema(EnglishAnalyzer.Instance.Name, request.K1, request.B, true),
                sparse,
                dense),
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
#pragma warning disable CA1031 // telling the catalog is best effort: the supervisor's next sweep repeats it
        catch (Exception e) { LogCleanupFailed(_logger, e, Id); } // the supervisor's next ResumeAsync repeats it
#pragma warning restore CA1031
    }

    /// <summary>The build plan of a request: bm25 with a text source, sparse with a vocabulary, dense with known dimensions.</summary>
    private static IndexBuildPlan Plan(IndexJobRequest request, SparseVocabulary? vocabulary, int denseDims) => new()
    {
        Shards = request.Shards,
        Text = string.IsNullOrWhiteSpace(request.Source) ? null : new Bm25Parameters(request.K1, request.B),
        Analyzer = EnglishAnalyzer.Instance,
        SparseVocabulary = vocabulary,
        SparseOptions = request.SparsePostingsPerTerm is { } ppt ? new SparseBuildOptions(1f) { PostingsPerTerm = ppt } : new SparseBuildOptions(1f),
        Dense = request.DenseVectors is null ? null : new DenseBuildOptions(denseDims,
            request.DenseMetric == "cosine" ? DenseMetric.Cosine : DenseMetric.Dot,
            request.DenseStorage switch { "fp16" => DenseStorage.Float16, "int8" => DenseStorage.Int8, _ => DenseStorage.Float32 },
            new HnswParameters(request.HnswM, request.HnswEfConstruction))
        {
            BuildAnnIndex = request.DenseIndex == "hnsw",
        },
    };

    /// <summary>Local files of every shard's spills of checkpointed chunks, per channel in chunk order (downloaded when the store is remote).</summary>
    private async Task<ShardSpills[]> MaterializeSpillsAsync(int shards, CancellationToken cancellationToken)
    {
        var store = _catalog.Store;
        var result = new ShardSpills[shards];
        async Task<List<string>> ChannelAsync(string kind, int shard)
        {
            var source = S.Sources.FirstOrDefault(x => x.Kind == kind);
            if (source is null) return [];
            long chunks = source.ChunksDone;
            var keys = (await store.ListAsync(IndexSpill.ShardPrefix(SpillPrefix, ChannelOf(kind), shard), cancellationToken))
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
            return paths;
        }
        for (int s = 0; s < shards; s++)
        {
            result[s] = new ShardSpills(
                await ChannelAsync(IndexJobSources.Text, s),
                await ChannelAsync(IndexJobSources.Sparse, s),
                await ChannelAsync(IndexJobSources.Dense, s));
        }
        return result;
    }

    /// <summary>A source as a local file: the path itself, or a <c>store:</c> object (in place when the store is local, else downloaded once per activation).</summary>
    private async Task<string> LocalFileAsync(string source, string kind, CancellationToken cancellationToken)
    {
        if (_localSources.TryGetValue(source, out string? cached)) return cached;
        if (!source.StartsWith(StorePrefix, StringComparison.Ordinal)) return _localSources[source] = Confine(source, kind);
        string key = source[StorePrefix.Length..];
        if (StoreKeys.Validate(key) is { } keyError) throw new ArgumentException(keyError);
        string? local = _catalog.Store.TryGetLocalPath(key);
        if (local is null)
        {
            local = Path.Combine(ScratchDirectory, "source", kind, Path.GetFileName(key));
            await _catalog.Store.GetFileAsync(key, local, cancellationToken);
        }
        return _localSources[source] = local;
    }

    /// <summary>The job's sparse vocabulary (its copy in the store), loaded once per activation.</summary>
    private async Task<SparseVocabulary> VocabularyAsync(CancellationToken cancellationToken)
    {
        if (_vocabulary is not null) return _vocabulary;
        string local = await LocalFileAsync(StorePrefix + S.VocabularyKey, "vocabulary", cancellationToken);
        return _vocabulary = await Task.Run(() => SparseVocabulary.Load(local), cancellationToken);
    }

    /// <summary>
    /// Resolves the sparse vocabulary (the request's, the cluster's configured one, or
    /// bert-base-uncased from the shared data), checks it and copies it into the job's store prefix,
    /// so every silo that later runs the job reads the same one.
    /// </summary>
    private async Task StoreVocabularyAsync(IndexJobRequest r)
    {
        string? given = r.SparseVocabulary ?? _options.SparseVocabularyPath ?? SharedData.Find(SharedData.BertVocabulary)
            ?? throw new ArgumentException("The sparse vectors need a vocabulary: give sparseVocabulary (a vocab.txt path or store:key) or configure Shoal:SparseVocabularyPath.");
        if (string.IsNullOrWhiteSpace(given)) throw new ArgumentException("sparseVocabulary is empty.");
        string local;
        if (given.StartsWith(StorePrefix, StringComparison.Ordinal))
        {
            string key = given[StorePrefix.Length..];
            if (StoreKeys.Validate(key) is { } keyError) throw new ArgumentException($"sparseVocabulary: {keyError}");
            var found = await _catalog.Store.ListAsync(key);
            if (!found.Contains(key)) throw new ArgumentException($"Vocabulary object '{key}' does not exist in {_catalog.Store.Description}.");
            local = await LocalFileAsync(given, "vocabulary", CancellationToken.None);
        }
        else if (r.SparseVocabulary is not null)
        {
            local = Confine(given, "Vocabulary");
        }
        else
        {
            // The cluster's configured vocabulary: operator configuration, not confined to the data roots.
            local = Path.GetFullPath(given);
            if (!File.Exists(local)) throw new ArgumentException($"Vocabulary file '{local}' does not exist on silo {RuntimeIdentity}.");
        }
        SparseVocabulary vocabulary;
        try
        {
            vocabulary = SparseVocabulary.Load(local);
        }
        catch (Exception e) when (e is FormatException or DecoderFallbackException or IOException)
        {
            throw new ArgumentException($"Vocabulary '{given}' cannot be read: {e.Message}", e);
        }
        Plan(r, vocabulary, r.DenseDims ?? 1).Validate();
        string jobKey = $"{SpillPrefix}/sparse-vocab.txt";
        await _catalog.Store.PutFileAsync(jobKey, local);
        S.VocabularyKey = jobKey;
        S.VocabularyXxh3 = await SnapshotCatalog.ChecksumAsync(local);
        S.VocabularySize = vocabulary.Count;
        _vocabulary = vocabulary;
    }

    /// <summary>Prefix of sources that name an object of the snapshot store.</summary>
    public const string StorePrefix = "store:";

    /// <summary>Checks a request; returns the text format (null without a text source) and the sources to read, in order.</summary>
    private async Task<(CorpusFormat? Format, List<JobSource> Sources)> ValidateAsync(IndexJobRequest r)
    {
        if (SnapshotCatalog.ValidateIndexName(r.Index) is { } nameError) throw new ArgumentException(nameError);
        bool text = !string.IsNullOrWhiteSpace(r.Source);
        if (!text && r.SparseVectors is null && r.DenseVectors is null)
            throw new ArgumentException("'source' is required: a corpus path readable by the silos, or store:<key> of an object in the snapshot store (or give sparseVectors and/or denseVectors).");
        if (!text && r.Source is { Length: > 0 }) throw new ArgumentException("'source' is blank: give a corpus path or store:<key>, or leave it out for a job of vector sources only.");
        if (r.Shards < 1 || r.Shards > _options.MaxShards) throw new ArgumentException($"shards must be between 1 and {_options.MaxShards} (got {r.Shards}).");
        if (r.Replicas < 1 || r.Replicas > 8) throw new ArgumentException($"replicas must be between 1 and 8 (got {r.Replicas}).");
        if (text) new Bm25Parameters(r.K1, r.B).Validate();
        if (r.OnMalformed is not ("skip" or "stop")) throw new ArgumentException($"onMalformed must be 'skip' or 'stop' (got '{r.OnMalformed}').");
        if (r.ChunkLines < 0 || r.ChunkLines > 10_000_000) throw new ArgumentException($"chunkLines must be between 1 and 10000000, or 0 for the default (got {r.ChunkLines}).");
        if (r.SparsePostingsPerTerm is < 1) throw new ArgumentException($"sparsePostingsPerTerm must be at least 1 (got {r.SparsePostingsPerTerm}).");
        if (r.DenseVectors is not null)
        {
            if (r.DenseMetric is not ("dot" or "cosine")) throw new ArgumentException($"denseMetric must be 'dot' or 'cosine' (got '{r.DenseMetric}').");
            if (r.DenseStorage is not ("fp32" or "fp16" or "int8")) throw new ArgumentException($"denseStorage must be 'fp32', 'fp16' or 'int8' (got '{r.DenseStorage}').");
            if (r.DenseIndex is not ("hnsw" or "flat")) throw new ArgumentException($"denseIndex must be 'hnsw' or 'flat' (got '{r.DenseIndex}').");
            if (r.HnswM < 2 || r.HnswM > 128) throw new ArgumentException($"hnswM must be between 2 and 128 (got {r.HnswM}).");
            if (r.HnswEfConstruction < 8 || r.HnswEfConstruction > 4096) throw new ArgumentException($"hnswEfConstruction must be between 8 and 4096 (got {r.HnswEfConstruction}).");
            if (r.DenseDims is < 1 or > 65536) throw new ArgumentException($"denseDims must be between 1 and 65536 (got {r.DenseDims}).");
        }

        var sources = new List<JobSource>(3);
        CorpusFormat? format = null;
        if (text)
        {
            var (local, bytes) = await ResolveAsync(r.Source, "Source");
            if (local is null && r.Format is null)
            {
                string key = r.Source[StorePrefix.Length..];
                string ext = Path.GetExtension(key.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? key[..^3] : key).ToLowerInvariant();
                format = ext switch
                {
                    ".tsv" or ".txt" => CorpusFormat.Tsv,
                    ".jsonl" or ".json" => CorpusFormat.BeirJsonl,
                    _ => throw new ArgumentException($"Cannot detect the format of '{key}' from its name: give 'format' ({string.Join(", ", CorpusFormats.Names)})."),
                };
            }
            else format = r.Format is null ? CorpusFormats.Detect(local!) : CorpusFormats.Parse(r.Format);
            sources.Add(new JobSource { Kind = IndexJobSources.Text, Source = r.Source, Format = CorpusFormats.Name(format.Value), TotalBytes = bytes });
        }
        if (r.SparseVectors is not null)
        {
            var (_, bytes) = await ResolveAsync(r.SparseVectors, "Sparse vectors");
            sources.Add(new JobSource { Kind = IndexJobSources.Sparse, Source = r.SparseVectors, Format = "anserini", TotalBytes = bytes });
        }
        if (r.DenseVectors is not null)
        {
            var (local, bytes) = await ResolveAsync(r.DenseVectors, "Dense vectors");
            string denseFormat = "";
            if (local is not null)
            {
                try
                {
                    denseFormat = DenseChunkReader.IsBinary(local, out _) ? "shoalvec" : "jsonl";
                }
                catch (DenseVectorException e)
                {
                    throw new ArgumentException(e.Message, e);
                }
            }
            sources.Add(new JobSource { Kind = IndexJobSources.Dense, Source = r.DenseVectors, Format = denseFormat, TotalBytes = bytes });
        }
        if (r.SparseVectors is null) Plan(r, null, r.DenseDims ?? 1).Validate();
        return (format, sources);
    }

    /// <summary>Checks that a source exists; returns its local path (null for an object of a remote store) and size (0 when unknown).</summary>
    private async Task<(string? Local, long Bytes)> ResolveAsync(string source, string what)
    {
        if (string.IsNullOrWhiteSpace(source)) throw new ArgumentException($"{what}: the path is empty.");
        if (source.StartsWith(StorePrefix, StringComparison.Ordinal))
        {
            string key = source[StorePrefix.Length..];
            if (StoreKeys.Validate(key) is { } keyError) throw new ArgumentException($"{what}: {keyError}");
            var found = await _catalog.Store.ListAsync(key);
            if (!found.Contains(key)) throw new ArgumentException($"{what} object '{key}' does not exist in {_catalog.Store.Description}.");
            string? inPlace = _catalog.Store.TryGetLocalPath(key);
            return (inPlace, inPlace is null ? 0 : new FileInfo(inPlace).Length);
        }
        string local = Confine(source, what);
        return (local, new FileInfo(local).Length);
    }

    /// <summary>A local source path resolved inside the data roots (README "Security model"); anything else is an <see cref="ArgumentException"/> that reveals nothing outside them.</summary>
    private string Confine(string path, string what)
    {
        try
        {
            return _roots.Resolve(path, what);
        }
        catch (ConfinedPathException e)
        {
            throw new ArgumentException(e.Message);
        }
    }

    private IndexJobStatus Status()
    {
        var s = S;
        bool reading = s.Phase == "reading" && !Finished;
        var reader = _reader;
        int readerSource = _readerSource;
        long LiveBytes(int i) => reading && reader is not null && readerSource == i ? Math.Max(s.Sources[i].BytesRead, reader.BytesRead) : s.Sources[i].BytesRead;
        var sources = s.Sources.Select((x, i) => new IndexJobSourceStatus
        {
            Kind = x.Kind,
            Source = x.Source,
            Format = x.Format,
            LinesRead = x.LinesDone,
            DocumentsRead = x.DocumentsRead,
            Malformed = x.Malformed,
            Chunks = x.ChunksDone,
            BytesRead = LiveBytes(i),
            TotalBytes = x.TotalBytes,
            Done = x.Done,
        }).ToArray();
        long bytesRead = sources.Length > 0 ? sources.Sum(x => x.BytesRead) : s.BytesRead;
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
