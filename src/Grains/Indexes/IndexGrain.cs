using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans;
using Orleans.Placement;
using Orleans.Runtime;
using Shoal.Engine.Analysis;
using Shoal.Engine.Ingest;
using Shoal.Engine.Snapshots;
using Shoal.Engine.Dense;
using Shoal.Engine.Indexing;
using Shoal.Engine.Security;
using Shoal.Engine.Sparse;
using Shoal.Engine.Text;
using Shoal.Grains.Contracts;
using Shoal.Grains.Placement;
using Shoal.Grains.Hosting;
using Shoal.Grains.Query;
using Shoal.Grains.Shards;

namespace Shoal.Grains.Indexes;

/// <summary>
/// One index: recovers its published version from the snapshot store on activation and runs
/// builds in the background. A build reads and analyses the corpus on the thread pool (never on
/// the grain's turn), writes one segment per shard with collection-global statistics, uploads
/// the segments, publishes the manifest last, then tells every shard to load the new version.
/// A failed build leaves the previous version serving.
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
    private IndexVersionBuilder? _builder;
    private readonly ITextEncoderClient _encoders;
    private readonly IndexVersionCache _versions;
    private readonly UpdateLog _updateLog;
    private readonly DataRoots _roots;

    /// <summary>Created by Orleans.</summary>
    public IndexGrain(SnapshotCatalog catalog, IOptions<ShoalOptions> options, ITextEncoderClient encoders, IndexVersionCache versions, DataRoots roots, ILogger<IndexGrain> logger)
    {
        _roots = roots;
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
        }
    }

    /// <inheritdoc />
    public Task<IndexInfo?> GetInfoAsync()
    {
        var m = _manifest;
        if (m is null && _status.State == IngestState.Idle) return Task.FromResult<IndexInfo?>(null);
        return Task.FromResult<IndexInfo?>(new IndexInfo
        {
            Name = Name,
            Version = m?.Version ?? 0,
            ShardCount = m?.ShardCount ?? 0,
            DocCount = m?.DocCount ?? 0,
            Analyzer = m?.Schema.Text?.Analyzer ?? "english",
            K1 = m?.Schema.Text?.K1 ?? 0,
            B = m?.Schema.Text?.B ?? 0,
            CreatedUtc = m?.CreatedUtc ?? default,
            Ingest = CurrentStatus(),
            Replicas = m?.Replicas ?? 1,
            Channels = m is null ? [] : ChannelsOf(m.Schema),
            Updates = CurrentUpdateInfo(),
            Placement = _placement,
            Silo = RuntimeIdentity,
        });
    }

    /// <inheritdoc />
    public Task SetPlacementAsync(IndexPlacement placement)
    {
        _placement = placement;
        return Task.CompletedTask;
    }

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
    public Task<IngestStatus> GetIngestStatusAsync() => Task.FromResult(CurrentStatus());

    /// <summary>
    /// The build's status; while it reads, <see cref="IngestStatus.DocumentsRead"/> counts the
    /// documents of the current phase (text read, vectors read or encoded), so a corpus with text
    /// and vectors counts to its size once per phase, never to the sum.
    /// </summary>
    private IngestStatus CurrentStatus() =>
        _builder is { } b && _status.State == IngestState.Running ? _status with { DocumentsRead = PhaseDocuments(b, _status.Phase) } : _status;

    private static long PhaseDocuments(IndexVersionBuilder b, string phase) => phase switch
    {
        "reading text" => b.TextRead,
        "reading sparse vectors" or "encoding sparse" => b.SparseRead,
        "reading dense vectors" or "encoding dense" => b.DenseRead,
        _ => Math.Max(b.TextRead, Math.Max(b.SparseRead, b.DenseRead)),
    };

    /// <inheritdoc />
    public async Task<IngestStatus> StartIngestAsync(IngestRequest request)
    {
        if (SnapshotCatalog.ValidateIndexName(Name) is { } nameError) throw new ArgumentException(nameError);
        if (_status.State == IngestState.Running)
            throw new InvalidOperationException($"Index '{Name}' is already building from '{_status.CorpusPath}'.");
        if (_merge?.State == IngestState.Running)
            throw new InvalidOperationException($"Index '{Name}' is merging its online updates into a new version; build after it finishes.");
        IngestJob job;
        try
        {
            job = await PlanAsync(request);
        }
        catch (Exception e) when (e is FormatException or IOException || PooledTextEncoderClient.IsUnavailable(e))
        {
            throw new ArgumentException(e.Message, e);
        }
        string? placement = await ReplicaPlacementCheck.CheckAsync(GrainFactory, request.Replicas, request.StrictPlacement);
        if (placement is not null) LogPlacementWarning(_logger, Name, placement);
        _status = new IngestStatus { State = IngestState.Running, Phase = "reading", StartedUtc = DateTimeOffset.UtcNow, CorpusPath = job.Describe(), Warnings = placement is null ? [] : [placement] };
        _builder = new IndexVersionBuilder(job.Plan);
        // Keep the activation alive while the build runs without incoming calls.
        DelayDeactivation(TimeSpan.FromHours(12));
        _ = RunIngestAsync(_builder, job, request.Replicas);
        return CurrentStatus();
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
            await Task.WhenAll(Enumerable.Range(0, manifest.ShardCount * manifest.Replicas).Select(i =>
                GrainFactory.GetGrain<IShardGrain>(ShardGrain.KeyOf(Name, i / manifest.Replicas, i % manifest.Replicas)).LoadVersionAsync(version)));
        }
        return await GetInfoAsync();
    }

    /// <summary>A validated ingest: sources, the build plan and the schema to publish.</summary>
    private sealed record IngestJob(
        IndexBuildPlan Plan,
        string? Corpus,
        CorpusFormat Format,
        string? SparseVectors,
        string? VocabularyPath,
        string? SparseEncoder,
        string? DenseVectors,
        string? DenseEncoder,
        DenseChannelSchema? DenseSchema)
    {
        public string Describe() => string.Join(" + ", new[] { Corpus, SparseVectors ?? (SparseEncoder is null ? null : $"sparse:{SparseEncoder}"), DenseVectors ?? (DenseEncoder is null ? null : $"dense:{DenseEncoder}") }.Where(x => x is not null));
    }

    private async Task<IngestJob> PlanAsync(IngestRequest request)
    {
        // Paths from the request must be regular files inside the data roots (README "Security model").
        string? Existing(string? path, string what)
        {
            if (path is null) return null;
            if (string.IsNullOrWhiteSpace(path)) throw new ArgumentException($"{what} path is empty.");
            try
            {
                return _roots.Resolve(path, what);
            }
            catch (ConfinedPathException e)
            {
                throw new ArgumentException(e.Message);
            }
        }
        string? Configured(string? path, string what)
        {
            if (path is null) return null;
            string full = Path.GetFullPath(path);
            if (!File.Exists(full)) throw new ArgumentException($"{what} file '{full}' (configured) does not exist on silo {RuntimeIdentity}.");
            return full;
        }
        string? corpus = Existing(request.CorpusPath, "Corpus");
        string? sparseVectors = Existing(request.SparseVectorsPath, "Sparse vectors");
        string? denseVectors = Existing(request.DenseVectorsPath, "Dense vectors");
        if (corpus is null && sparseVectors is null && denseVectors is null)
            throw new ArgumentException("Nothing to index: give a corpus (text), sparse vectors or dense vectors.");
        var format = corpus is null ? CorpusFormat.BeirJsonl : request.Format is null ? CorpusFormats.Detect(corpus) : CorpusFormats.Parse(request.Format);
        var spec = request.Specification(corpus is not null);
        if (spec.Text && corpus is null) throw new ArgumentException("The bm25 channel needs a text corpus.");
        spec.Validate(_options.MaxShards);

        // Sparse channel: precomputed vectors, or the corpus encoded by a named encoder.
        SparseVocabulary? vocabulary = null;
        string? vocabularyPath = null;
        string? sparseEncoder = spec.SparseEncoder;
        if (spec.Sparse)
        {
            if (sparseVectors is null && corpus is null) throw new ArgumentException($"Sparse encoder '{sparseEncoder}' needs a text corpus to encode.");
            vocabularyPath = request.SparseVocabularyPath is not null
                ? Existing(request.SparseVocabularyPath, "Vocabulary")
                : Configured(_options.SparseVocabularyPath ?? SharedData.Find(SharedData.BertVocabulary)
                    ?? throw new ArgumentException("The sparse channel needs a vocabulary: give sparseVocabulary (a vocab.txt path) or configure Shoal:SparseVocabularyPath."), "Vocabulary");
            vocabulary = SparseVocabulary.Load(vocabularyPath!);
            if (sparseEncoder is not null)
            {
                var described = await ChannelEncoders.DescribeAsync(_encoders, sparseEncoder, "sparse");
                ChannelEncoders.CheckVocabulary(sparseEncoder, described.Dims, vocabulary.Count);
            }
        }

        // Dense channel: its dimensions from the request, the encoder or the first vector.
        string? denseEncoder = spec.DenseEncoder;
        if (spec.Dense)
        {
            if (denseVectors is null && corpus is null) throw new ArgumentException($"Dense encoder '{denseEncoder}' needs a text corpus to encode.");
            int? dims = spec.DenseDims;
            if (denseEncoder is not null)
            {
                var described = await ChannelEncoders.DescribeAsync(_encoders, denseEncoder, "dense");
                ChannelEncoders.CheckDims(described, dims);
                dims = described.Dims;
            }
            if (dims is null)
            {
                try
                {
                    dims = DenseVectorReader.Read(denseVectors!, null).Select(v => v.Vector.Length).FirstOrDefault();
                }
                catch (DenseVectorException e)
                {
                    throw new ArgumentException(e.Message, e);
                }
                if (dims is null or 0) throw new ArgumentException($"Dense vectors file '{denseVectors}' holds no vectors.");
            }
            spec = spec with { DenseDims = dims };
        }

        var plan = spec.Plan(vocabulary);
        plan.Validate();
        return new IngestJob(plan, corpus, format, sparseVectors, vocabularyPath, sparseEncoder, denseVectors, denseEncoder, spec.Dense ? spec.DenseSchema(spec.DenseDims!.Value) : null);
    }

    private async Task RunIngestAsync(IndexVersionBuilder builder, IngestJob job, int replicas)
    {
        string buildRoot = Path.Combine(_options.BuildDirectory, Name, Guid.NewGuid().ToString("N"));
        int shards = job.Plan.Shards;
        string sources = job.Describe();
        try
        {
            var versions = await _catalog.ListVersionsAsync(Name);
            long version = (versions.Count == 0 ? 0 : versions[^1]) + 1;
            LogBuildStarted(_logger, Name, version, sources, shards);

            var built = await Task.Run(async () =>
            {
                void Phase(string phase) => _status = _status with { Phase = phase };
                if (job.Plan.Text is not null)
                {
                    Phase("reading text");
                    builder.AddText(CorpusReader.Read(job.Corpus!, job.Format));
                }
                if (job.SparseVectors is not null)
                {
                    Phase("reading sparse vectors");
                    builder.AddSparse(SparseCorpusReader.Read(job.SparseVectors, job.Plan.SparseVocabulary!));
                }
                else if (job.SparseEncoder is not null)
                {
                    Phase("encoding sparse");
                    await EncodeCorpusAsync(builder, job, sparse: true);
                }
                if (job.DenseVectors is not null)
                {
                    Phase("reading dense vectors");
                    builder.AddDense(DenseVectorReader.Read(job.DenseVectors, job.Plan.Dense!.Dims));
                }
                else if (job.DenseEncoder is not null)
                {
                    Phase("encoding dense");
                    await EncodeCorpusAsync(builder, job, sparse: false);
                }
                _status = _status with { Phase = "building", DocumentsRead = PhaseDocuments(builder, "building") };
                return builder.Build(shard => Path.Combine(buildRoot, $"shard-{shard:D4}"));
            });

            _status = _status with { Phase = "uploading", DocumentsRead = built.DocCount };
            await PublishBuiltAsync(new PublishSpec(version, built, job.Plan, replicas, job.VocabularyPath, job.SparseEncoder, job.DenseSchema, Lineage: 0, UpdatesThrough: null),
                phase => _status = _status with { Phase = phase, Version = version });

            _status = _status with { State = IngestState.Succeeded, Phase = "done", FinishedUtc = DateTimeOffset.UtcNow };
            LogBuildDone(_logger, Name, version, built.DocCount, (_status.FinishedUtc - _status.StartedUtc)?.TotalSeconds ?? 0);
        }
#pragma warning disable CA1031 // a background build's failure is recorded in the ingest status clients poll, and logged; nothing awaits this task
        catch (Exception e)
#pragma warning restore CA1031
        {
            LogBuildFailed(_logger, e, Name, sources);
            _status = _status with { State = IngestState.Failed, Phase = "failed", Error = e.Message, FinishedUtc = DateTimeOffset.UtcNow, DocumentsRead = PhaseDocuments(builder, "failed") };
        }
        finally
        {
            _builder = null;
            try { if (Directory.Exists(buildRoot)) Directory.Delete(buildRoot, recursive: true); }
            catch (IOException) { }
            DelayDeactivation(TimeSpan.FromTicks(-1)); // back to normal idle collection
        }
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
        await Task.WhenAll(Enumerable.Range(0, manifest.ShardCount * manifest.Replicas).Select(i =>
            GrainFactory.GetGrain<IShardGrain>(ShardGrain.KeyOf(Name, i / manifest.Replicas, i % manifest.Replicas)).LoadVersionAsync(manifest.Version)));
        return manifest;
    }

    /// <summary>Encodes the corpus's texts (title and text) through the encoder pools, in batches, into the sparse or dense channel.</summary>
    private async Task EncodeCorpusAsync(IndexVersionBuilder builder, IngestJob job, bool sparse)
    {
        const int Batch = 256;
        string encoder = sparse ? job.SparseEncoder! : job.DenseEncoder!;
        string channel = sparse ? "sparse" : "dense";
        var docs = new List<SourceDocument>(Batch);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var lastLog = TimeSpan.Zero;
        long encoded = 0;
        async Task FlushAsync()
        {
            var texts = docs.Select(d => d.EncoderText).ToArray();
            if (sparse)
            {
                var vectors = await _encoders.EncodeSparseAsync(encoder, texts, Shoal.Encoders.TextRole.Document, CancellationToken.None);
                builder.AddSparse(docs.Select((d, i) => new SparseDocument(d.Id, job.Plan.Text is null ? texts[i] : null, vectors[i])));
            }
            else
            {
                var vectors = await _encoders.EncodeDenseAsync(encoder, texts, Shoal.Encoders.TextRole.Document, CancellationToken.None);
                builder.AddDense(docs.Select((d, i) => (d.Id, vectors[i])));
            }
            encoded += docs.Count;
            docs.Clear();
            double rate = encoded / Math.Max(clock.Elapsed.TotalSeconds, 1e-3);
            if (clock.Elapsed - lastLog >= TimeSpan.FromSeconds(15))
            {
                lastLog = clock.Elapsed;
                LogEncoding(_logger, Name, channel, encoder, encoded, rate);
            }
        }
        foreach (var doc in CorpusReader.Read(job.Corpus!, job.Format))
        {
            docs.Add(doc);
            if (docs.Count == Batch) await FlushAsync();
        }
        if (docs.Count > 0) await FlushAsync();
        LogEncoded(_logger, Name, channel, encoder, encoded, clock.Elapsed.TotalSeconds);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Index {Index}: encoding the {Channel} channel with '{Encoder}': {Documents} documents so far, {Rate:F1} documents/s")]
    private static partial void LogEncoding(ILogger logger, string index, string channel, string encoder, long documents, double rate);

    [LoggerMessage(Level = LogLevel.Information, Message = "Index {Index}: encoded the {Channel} channel with '{Encoder}': {Documents} documents in {Seconds:F1} s")]
    private static partial void LogEncoded(ILogger logger, string index, string channel, string encoder, long documents, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Index {Index}: {Warning}")]
    private static partial void LogPlacementWarning(ILogger logger, string index, string warning);

    [LoggerMessage(Level = LogLevel.Information, Message = "Index {Index}: building version {Version} from {Sources} into {Shards} shards")]
    private static partial void LogBuildStarted(ILogger logger, string index, long version, string sources, int shards);

    [LoggerMessage(Level = LogLevel.Information, Message = "Index {Index}: version {Version} published ({Docs} documents, {Seconds:F1} s)")]
    private static partial void LogBuildDone(ILogger logger, string index, long version, long docs, double seconds);

    [LoggerMessage(Level = LogLevel.Error, Message = "Index {Index}: the update log cannot be read; updates are refused until it can")]
    private static partial void LogUpdateLogUnreadable(ILogger logger, Exception error, string index);

    [LoggerMessage(Level = LogLevel.Error, Message = "Index {Index}: version {Version} cannot be read and is skipped: {Reason}")]
    private static partial void LogUnreadableVersion(ILogger logger, string index, long version, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Index {Index}: build from {Path} failed")]
    private static partial void LogBuildFailed(ILogger logger, Exception error, string index, string path);
}
