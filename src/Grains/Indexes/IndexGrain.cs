using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans;
using Orleans.Placement;
using Orleans.Runtime;
using Shoal.Engine.Indexing;
using Shoal.Engine.Snapshots;
using Shoal.Grains.Contracts;
using Shoal.Grains.Placement;
using Shoal.Grains.Hosting;
using Shoal.Grains.Jobs;
using Shoal.Grains.Query;
using Shoal.Grains.Shards;

namespace Shoal.Grains.Indexes;

/// <summary>
/// One index: recovers its published version from the snapshot store on activation, starts builds
/// from sources as indexing jobs (<see cref="IngestJobs"/>; the job builds, uploads and publishes,
/// then has this grain adopt the version), takes online updates and merges them into new versions
/// (IndexGrain.Updates.cs), and tells its shard replicas which version to serve. A failed build
/// leaves the previous version serving.
/// </summary>
[ResourceOptimizedPlacement]
[NotDrainingPlacementFilter]
public sealed partial class IndexGrain : Grain, IIndexGrain
{
    private readonly SnapshotCatalog _catalog;
    private readonly ShoalOptions _options;
    private readonly ILogger<IndexGrain> _logger;
    private IndexManifest? _manifest;
    private IndexPlacement? _placement;
    private IngestStatus _status = new() { State = IngestState.Idle };
    private string? _ingestJob;
    private readonly ITextEncoderClient _encoders;
    private readonly IndexVersionCache _versions;
    private readonly UpdateLog _updateLog;

    /// <summary>Created by Orleans.</summary>
    public IndexGrain(SnapshotCatalog catalog, IOptions<ShoalOptions> options, ITextEncoderClient encoders, IndexVersionCache versions, ILogger<IndexGrain> logger)
    {
        _encoders = encoders;
        _versions = versions;
        _catalog = catalog;
        _updateLog = new UpdateLog(catalog.Store);
        _options = options.Value;
        _logger = logger;
    }

    private string Name => this.GetPrimaryKeyString();

    /// <inheritdoc />
    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (SnapshotCatalog.ValidateIndexName(Name) is null)
        {
            var lookup = await _catalog.FindLatestReadableManifestAsync(Name, cancellationToken: cancellationToken);
            foreach (var skipped in lookup.Skipped) LogUnreadableVersion(_logger, Name, skipped.Version, skipped.Reason);
            _manifest = lookup.Manifest;
            if (_manifest is { } m)
            {
                // Where the update log stands, so the index reports pending updates (and merges them) from the start.
                try
                {
                    await EnsureLogStateAsync(m, cancellationToken);
                }
                catch (Exception e) when (e is IOException or InvalidDataException)
                {
                    LogUpdateLogUnreadable(_logger, e, Name);
                }
            }
            StartMergeTimer();
            await FindRunningIngestAsync();
        }
    }

    /// <inheritdoc />
    public async Task<IndexInfo?> GetInfoAsync()
    {
        var m = _manifest;
        var ingest = await IngestStatusAsync();
        if (m is null && ingest.State == IngestState.Idle) return null;
        return new IndexInfo
        {
            Name = Name,
            Version = m?.Version ?? 0,
            ShardCount = m?.ShardCount ?? 0,
            DocCount = m?.DocCount ?? 0,
            Analyzer = m?.Schema.Text?.Analyzer ?? "english",
            K1 = m?.Schema.Text?.K1 ?? 0,
            B = m?.Schema.Text?.B ?? 0,
            CreatedUtc = m?.CreatedUtc ?? default,
            Ingest = ingest,
            Replicas = m?.Replicas ?? 1,
            Channels = m is null ? [] : ChannelsOf(m.Schema),
            Updates = CurrentUpdateInfo(),
            Placement = _placement,
            Silo = RuntimeIdentity,
        };
    }

    /// <inheritdoc />
    public Task SetPlacementAsync(IndexPlacement placement)
    {
        _placement = placement;
        return Task.CompletedTask;
    }

    /// <summary>How long telling the shards to load a version waits for them before it returns (below Orleans' 30 s response timeout, which the caller of <see cref="AdoptVersionAsync"/> is under).</summary>
    internal static readonly TimeSpan ShardLoadWait = TimeSpan.FromSeconds(20);

    /// <summary>
    /// Has every shard replica load <paramref name="manifest"/>'s version. Waits at most
    /// <see cref="ShardLoadWait"/>: at 10M documents ten shards of 850 MB restored from blob storage
    /// took longer than the 30 s an indexing job's call may take, and the job failed although the
    /// version was published (found by the <c>scale</c> benchmark). Shards still loading then go on
    /// (a search names the version and waits for it; a failure is logged); a load that fails within
    /// the wait fails the call, as before.
    /// </summary>
    private async Task LoadOnShardsAsync(IndexManifest manifest)
    {
        var loads = Task.WhenAll(Enumerable.Range(0, manifest.ShardCount * manifest.Replicas).Select(i =>
            GrainFactory.GetGrain<IShardGrain>(ShardGrain.KeyOf(Name, i / manifest.Replicas, i % manifest.Replicas)).LoadVersionAsync(manifest.Version)));
        if (await Task.WhenAny(loads, Task.Delay(ShardLoadWait)) == loads)
        {
            await loads;
            return;
        }
        LogShardsStillLoading(_logger, Name, manifest.Version, ShardLoadWait.TotalSeconds);
        _ = loads.ContinueWith(t => LogShardLoadFailed(_logger, t.Exception!, Name, manifest.Version), CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Index {Index}: shards still loading version {Version} after {Seconds:F0} s; they serve it as soon as restored")]
    private static partial void LogShardsStillLoading(ILogger logger, string index, long version, double seconds);

    [LoggerMessage(Level = LogLevel.Error, Message = "Index {Index}: a shard failed to load version {Version}")]
    private static partial void LogShardLoadFailed(ILogger logger, Exception error, string index, long version);

    /// <summary>The description of a published version as its manifest holds it (no build, update or placement state).</summary>
    public static IndexInfo Describe(IndexManifest m)
    {
        ArgumentNullException.ThrowIfNull(m);
        return new IndexInfo
        {
            Name = m.Index,
            Version = m.Version,
            ShardCount = m.ShardCount,
            DocCount = m.DocCount,
            Analyzer = m.Schema.Text?.Analyzer ?? "english",
            K1 = m.Schema.Text?.K1 ?? 0,
            B = m.Schema.Text?.B ?? 0,
            CreatedUtc = m.CreatedUtc,
            Replicas = m.Replicas,
            Channels = ChannelsOf(m.Schema),
        };
    }

    /// <summary>The wire description of a schema's channels.</summary>
    public static ChannelInfo[] ChannelsOf(IndexSchema schema)
    {
        var channels = new List<ChannelInfo>(3);
        if (schema.Text is not null) channels.Add(new ChannelInfo { Name = IndexChannels.Text });
        if (schema.Sparse is { } sp)
            channels.Add(new ChannelInfo { Name = IndexChannels.Sparse, Encoder = sp.Encoder, VocabularySize = sp.VocabularySize, MaxWeight = sp.MaxWeight });
        if (schema.Dense is { } d)
            channels.Add(new ChannelInfo { Name = IndexChannels.Dense, Encoder = d.Encoder, Dims = d.Dims, Metric = d.Metric, Storage = d.Storage, AnnIndex = d.Index });
        return [.. channels];
    }

    /// <inheritdoc />
    public Task<IngestStatus> GetIngestStatusAsync() => IngestStatusAsync();

    /// <summary>
    /// The build's status, read from its job while the job runs. While it reads,
    /// <see cref="IngestStatus.DocumentsRead"/> counts the documents of the source being read, so a
    /// corpus with text and vectors counts to its size once per source, never to the sum.
    /// </summary>
    private async Task<IngestStatus> IngestStatusAsync()
    {
        if (_ingestJob is { } id && _status.State == IngestState.Running)
        {
            if (await GrainFactory.GetGrain<IIndexJobGrain>(id).GetStatusAsync() is { } job) _status = IngestJobs.StatusOf(job);
            if (_status.State != IngestState.Running) DelayDeactivation(TimeSpan.FromTicks(-1)); // back to normal idle collection
        }
        return _status;
    }

    /// <summary>
    /// Starts a build as an indexing job (<see cref="IIndexJobGrain"/>, id <c>ingest-{index}-{time}-{random}</c>):
    /// the same reading, checkpointing, building and publishing as a submitted job, with the
    /// ingest's settings. A malformed line stops the build (an ingest's documented behaviour;
    /// jobs may skip them instead). The index follows the job for its status, across its own
    /// reactivation (it finds the unfinished job in the job catalog).
    /// </summary>
    public async Task<IngestStatus> StartIngestAsync(IngestRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (SnapshotCatalog.ValidateIndexName(Name) is { } nameError) throw new ArgumentException(nameError);
        var current = await IngestStatusAsync();
        if (current.State == IngestState.Running)
            throw new InvalidOperationException($"Index '{Name}' is already building from '{current.CorpusPath}' (job {current.JobId}).");
        if (_merge?.State == IngestState.Running)
            throw new InvalidOperationException($"Index '{Name}' is merging its online updates into a new version; build after it finishes.");
        if (request.CorpusPath is null && request.SparseVectorsPath is null && request.DenseVectorsPath is null)
            throw new ArgumentException("Nothing to index: give a corpus (text), sparse vectors or dense vectors.");
        if (request.CorpusPath is { } corpus && string.IsNullOrWhiteSpace(corpus)) throw new ArgumentException("Corpus path is empty.");

        string id = IngestJobs.NewId(Name);
        IndexJobStatus job;
        try
        {
            job = await GrainFactory.GetGrain<IIndexJobGrain>(id).SubmitAsync(request.ToJobRequest(Name));
        }
        catch (Exception e) when (e is FormatException or IOException || PooledTextEncoderClient.IsUnavailable(e))
        {
            throw new ArgumentException(e.Message, e);
        }
        _ingestJob = id;
        _status = IngestJobs.StatusOf(job);
        foreach (var warning in job.Warnings) LogPlacementWarning(_logger, Name, warning);
        LogBuildStarted(_logger, Name, id, _status.CorpusPath ?? "", request.Shards);
        // Follow the job while it runs without incoming calls (its status is read through this grain).
        if (_status.State == IngestState.Running) DelayDeactivation(TimeSpan.FromHours(12));
        return _status;
    }

    /// <summary>On activation: the newest unfinished ingest job of this index, if one runs (this grain was collected or its silo died while it ran).</summary>
    private async Task FindRunningIngestAsync()
    {
        var active = await GrainFactory.GetGrain<IIndexJobCatalogGrain>(0).ActiveAsync();
        string? newest = active.Where(x => IngestJobs.IsIngestJobOf(Name, x)).Order(StringComparer.Ordinal).LastOrDefault();
        if (newest is null) return;
        _ingestJob = newest;
        _status = new IngestStatus { State = IngestState.Running, Phase = "reading", JobId = newest };
        await IngestStatusAsync();
    }

    /// <inheritdoc />
    public async Task<IndexInfo?> AdoptVersionAsync(long version)
    {
        if (SnapshotCatalog.ValidateIndexName(Name) is { } nameError) throw new ArgumentException(nameError);
        if (_manifest is null || version >= _manifest.Version)
        {
            // Also when this activation already read the version on activation: the shards may not have it yet.
            var manifest = _manifest?.Version == version ? _manifest : await _catalog.GetManifestAsync(Name, version)
                ?? throw new ArgumentException($"Index '{Name}' has no published version {version} in {_catalog.Store.Description}.");
            _manifest = manifest;
            await LoadOnShardsAsync(manifest);
        }
        return await GetInfoAsync();
    }

    /// <summary>What to publish: a built version and the schema pieces the build plan does not hold.</summary>
    private sealed record PublishSpec(
        long Version,
        IndexVersionBuildResult Built,
        IndexBuildPlan Plan,
        int Replicas,
        string? VocabularyPath,
        string? SparseEncoder,
        DenseChannelSchema? DenseSchema,
        long Lineage,
        long[]? UpdatesThrough);

    /// <summary>
    /// Uploads a built version's segments (and sparse vocabulary), publishes its manifest last,
    /// makes it the served version and has every shard replica load it.
    /// </summary>
    private async Task<IndexManifest> PublishBuiltAsync(PublishSpec spec, Action<string>? phase = null)
    {
        var built = spec.Built;
        var uploads = built.Shards.SelectMany(s => s.Segments.Select(seg => (s.Shard, seg))).ToArray();
        var uploaded = await Task.WhenAll(uploads.Select(async u =>
        {
            long started = System.Diagnostics.Stopwatch.GetTimestamp();
            var segment = (await _catalog.UploadSegmentAsync(Name, spec.Version, u.Shard, u.seg.Path)) with { Channel = u.seg.Channel };
            Diagnostics.TransferMetrics.Uploaded(Name, segment.Bytes, System.Diagnostics.Stopwatch.GetElapsedTime(started));
            return segment;
        }));

        SparseChannelSchema? sparseSchema = null;
        if (spec.VocabularyPath is not null)
        {
            string key = SnapshotCatalog.VocabularyKey(Name, spec.Version);
            await _catalog.Store.PutFileAsync(key, spec.VocabularyPath);
            string checksum = await SnapshotCatalog.ChecksumAsync(spec.VocabularyPath);
            sparseSchema = new SparseChannelSchema(key, checksum, spec.Plan.SparseVocabulary!.Count, built.SparseMaxWeight, spec.SparseEncoder);
        }
        var text = spec.Plan.Text;
        var manifest = new IndexManifest
        {
            Index = Name,
            Version = spec.Version,
            CreatedUtc = DateTimeOffset.UtcNow,
            ShardCount = spec.Plan.Shards,
            Replicas = spec.Replicas,
            Schema = new IndexSchema(
                text is null ? null : new TextChannelSchema(spec.Plan.Analyzer.Name, text.K1, text.B, text.LuceneLengthNorm),
                sparseSchema,
                spec.DenseSchema),
            DocCount = built.DocCount,
            TotalLength = built.TextStatistics?.TotalLength ?? 0,
            UpdateLineage = spec.Lineage,
            Shards = built.Shards.Select(s => new ShardManifest(s.Shard, s.DocCount,
                [.. uploaded.Where((_, i) => uploads[i].Shard == s.Shard)], spec.UpdatesThrough?[s.Shard] ?? 0)).ToArray(),
        };
        await _catalog.PublishAsync(manifest);
        _manifest = manifest;

        phase?.Invoke("activating");
        await LoadOnShardsAsync(manifest);
        return manifest;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Index {Index}: {Warning}")]
    private static partial void LogPlacementWarning(ILogger logger, string index, string warning);

    [LoggerMessage(Level = LogLevel.Information, Message = "Index {Index}: building a new version from {Sources} into {Shards} shards, as job {Job}")]
    private static partial void LogBuildStarted(ILogger logger, string index, string job, string sources, int shards);

    [LoggerMessage(Level = LogLevel.Error, Message = "Index {Index}: the update log cannot be read; updates are refused until it can")]
    private static partial void LogUpdateLogUnreadable(ILogger logger, Exception error, string index);

    [LoggerMessage(Level = LogLevel.Error, Message = "Index {Index}: version {Version} cannot be read and is skipped: {Reason}")]
    private static partial void LogUnreadableVersion(ILogger logger, string index, long version, string reason);
}
