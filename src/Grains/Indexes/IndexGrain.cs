using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans;
using Orleans.Runtime;
using Shoal.Engine.Analysis;
using Shoal.Engine.Ingest;
using Shoal.Engine.Snapshots;
using Shoal.Engine.Text;
using Shoal.Grains.Contracts;
using Shoal.Grains.Hosting;
using Shoal.Grains.Shards;

namespace Shoal.Grains.Indexes;

/// <summary>
/// One index: recovers its published version from the snapshot store on activation and runs
/// builds in the background. A build reads and analyses the corpus on the thread pool (never on
/// the grain's turn), writes one segment per shard with collection-global statistics, uploads
/// the segments, publishes the manifest last, then tells every shard to load the new version.
/// A failed build leaves the previous version serving.
/// </summary>
public sealed partial class IndexGrain : Grain, IIndexGrain
{
    private readonly SnapshotCatalog _catalog;
    private readonly ShoalOptions _options;
    private readonly ILogger<IndexGrain> _logger;
    private IndexManifest? _manifest;
    private IngestStatus _status = new() { State = IngestState.Idle };
    private TextIndexBuilder? _builder;

    /// <summary>Created by Orleans.</summary>
    public IndexGrain(SnapshotCatalog catalog, IOptions<ShoalOptions> options, ILogger<IndexGrain> logger)
    {
        _catalog = catalog;
        _options = options.Value;
        _logger = logger;
    }

    private string Name => this.GetPrimaryKeyString();

    /// <inheritdoc />
    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (SnapshotCatalog.ValidateIndexName(Name) is null)
            _manifest = await _catalog.GetLatestManifestAsync(Name, cancellationToken);
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
        });
    }

    /// <inheritdoc />
    public Task<IngestStatus> GetIngestStatusAsync() => Task.FromResult(CurrentStatus());

    private IngestStatus CurrentStatus() =>
        _builder is { } b && _status.State == IngestState.Running ? _status with { DocumentsRead = b.DocumentsRead } : _status;

    /// <inheritdoc />
    public Task<IngestStatus> StartIngestAsync(IngestRequest request)
    {
        if (SnapshotCatalog.ValidateIndexName(Name) is { } nameError) throw new ArgumentException(nameError);
        if (_status.State == IngestState.Running)
            throw new InvalidOperationException($"Index '{Name}' is already building from '{_status.CorpusPath}'.");
        if (string.IsNullOrWhiteSpace(request.CorpusPath)) throw new ArgumentException("corpus path is required.");
        string path = Path.GetFullPath(request.CorpusPath);
        if (!File.Exists(path)) throw new ArgumentException($"Corpus file '{path}' does not exist on silo {RuntimeIdentity}.");
        var format = request.Format is null ? CorpusFormats.Detect(path) : CorpusFormats.Parse(request.Format);
        if (request.Shards < 1 || request.Shards > _options.MaxShards)
            throw new ArgumentException($"shards must be between 1 and {_options.MaxShards} (got {request.Shards}).");
        var parameters = new Bm25Parameters(request.K1, request.B);
        parameters.Validate();
        if (request.Replicas < 1 || request.Replicas > 8)
            throw new ArgumentException($"replicas must be between 1 and 8 (got {request.Replicas}).");

        _status = new IngestStatus { State = IngestState.Running, Phase = "reading", StartedUtc = DateTimeOffset.UtcNow, CorpusPath = path };
        _builder = new TextIndexBuilder(request.Shards, parameters, EnglishAnalyzer.Instance);
        // Keep the activation alive while the build runs without incoming calls.
        DelayDeactivation(TimeSpan.FromHours(12));
        _ = RunIngestAsync(_builder, path, format, request.Shards, request.Replicas, parameters);
        return Task.FromResult(CurrentStatus());
    }

    private async Task RunIngestAsync(TextIndexBuilder builder, string path, CorpusFormat format, int shards, int replicas, Bm25Parameters parameters)
    {
        string buildRoot = Path.Combine(_options.BuildDirectory, Name, Guid.NewGuid().ToString("N"));
        try
        {
            var versions = await _catalog.ListVersionsAsync(Name);
            long version = (versions.Count == 0 ? 0 : versions[^1]) + 1;
            LogBuildStarted(_logger, Name, version, path, shards);

            var built = await Task.Run(() =>
            {
                builder.AddRange(CorpusReader.Read(path, format));
                return builder.Build(shard => Path.Combine(buildRoot, $"shard-{shard:D4}"));
            });

            _status = _status with { Phase = "uploading", DocumentsRead = builder.DocumentsRead };
            var segments = await Task.WhenAll(built.Shards.Select(s =>
                _catalog.UploadSegmentAsync(Name, version, s.Shard, s.SegmentPath)));

            var manifest = new IndexManifest
            {
                Index = Name,
                Version = version,
                CreatedUtc = DateTimeOffset.UtcNow,
                ShardCount = shards,
                Replicas = replicas,
                Schema = new IndexSchema(new TextChannelSchema(EnglishAnalyzer.Instance.Name, parameters.K1, parameters.B, parameters.LuceneLengthNorm)),
                DocCount = built.Statistics.DocCount,
                TotalLength = built.Statistics.TotalLength,
                Shards = built.Shards.Select((s, i) => new ShardManifest(s.Shard, s.DocCount, [segments[i]])).ToArray(),
            };
            await _catalog.PublishAsync(manifest);
            _manifest = manifest;

            _status = _status with { Phase = "activating", Version = version };
            await Task.WhenAll(Enumerable.Range(0, shards * replicas).Select(i =>
                GrainFactory.GetGrain<IShardGrain>(ShardGrain.KeyOf(Name, i / replicas, i % replicas)).LoadVersionAsync(version)));

            _status = _status with { State = IngestState.Succeeded, Phase = "done", FinishedUtc = DateTimeOffset.UtcNow };
            LogBuildDone(_logger, Name, version, built.Statistics.DocCount, (_status.FinishedUtc - _status.StartedUtc)?.TotalSeconds ?? 0);
        }
        catch (Exception e)
        {
            LogBuildFailed(_logger, e, Name, path);
            _status = _status with { State = IngestState.Failed, Phase = "failed", Error = e.Message, FinishedUtc = DateTimeOffset.UtcNow, DocumentsRead = builder.DocumentsRead };
        }
        finally
        {
            _builder = null;
            try { if (Directory.Exists(buildRoot)) Directory.Delete(buildRoot, recursive: true); }
            catch (IOException) { }
            DelayDeactivation(TimeSpan.FromTicks(-1)); // back to normal idle collection
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Index {Index}: building version {Version} from {Path} into {Shards} shards")]
    private static partial void LogBuildStarted(ILogger logger, string index, long version, string path, int shards);

    [LoggerMessage(Level = LogLevel.Information, Message = "Index {Index}: version {Version} published ({Docs} documents, {Seconds:F1} s)")]
    private static partial void LogBuildDone(ILogger logger, string index, long version, long docs, double seconds);

    [LoggerMessage(Level = LogLevel.Error, Message = "Index {Index}: build from {Path} failed")]
    private static partial void LogBuildFailed(ILogger logger, Exception error, string index, string path);
}
