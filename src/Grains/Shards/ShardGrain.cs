using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans;
using Orleans.Concurrency;
using Orleans.Configuration;
using Orleans.Runtime;
using Microsoft.Extensions.DependencyInjection;
using Shoal.Engine.Segments;
using Shoal.Engine.Snapshots;
using Shoal.Engine.Text;
using Shoal.Engine.Updates;
using Shoal.Grains.Contracts;
using Shoal.Grains.Hosting;

namespace Shoal.Grains.Shards;

/// <summary>
/// Owns one shard of an index: restores its segments from the latest published manifest on
/// activation (on whichever silo it lands), swaps to newer versions when told or when a query
/// names one, and answers local top-k. Searches are reentrant and run on the thread pool over
/// immutable memory-mapped segments, so a long query never blocks the grain's turn.
/// Online updates live in an immutable live buffer (<see cref="ShardDelta"/>) beside the
/// segments: replayed from the update log on activation, extended by each batch the index grain
/// pushes, searched with every query (published copies of replaced or deleted ids are hidden),
/// and cut back to the later batches when a merged version arrives.
/// </summary>
[Reentrant]
[Placement.ShardPlacement]
#pragma warning disable CA1001 // _loadLock is a SemaphoreSlim whose wait handle is never asked for, and _deactivating a CancellationTokenSource without a timer, so neither holds an unmanaged resource; disposing them while a reentrant call or the background restore may still use them would turn that use into an ObjectDisposedException
public sealed partial class ShardGrain : Grain, IShardGrain
#pragma warning restore CA1001
{
    private readonly SnapshotCatalog _catalog;
    private readonly UpdateLog _log;
    private readonly ShoalOptions _options;
    private readonly ILogger<ShardGrain> _logger;
    private readonly IShardSearchInterceptor _interceptor;
    private readonly PreparedShardSegments _prepared;
    private readonly LocalShards _localShards;
    private LocalShard _local = null!; // set on activation
    private long _directSearchesSeen;
    private readonly SemaphoreSlim _loadLock = new(1, 1);
    private string _index = "";
    private int _shard;
    private int _replica;
    private ShardView _view = ShardView.None;
    private long _failedVersion = -1;
    private DateTime _failedAt;
    private Task _restore = Task.CompletedTask;
    private readonly CancellationTokenSource _deactivating = new();

    /// <summary>How long <see cref="GetInfoAsync"/> waits for a restore in progress before it answers with what the shard serves now.</summary>
    internal static readonly TimeSpan InfoRestoreWait = TimeSpan.FromSeconds(5);

    /// <summary>Created by Orleans.</summary>
    public ShardGrain(SnapshotCatalog catalog, IOptions<ShoalOptions> options, IShardSearchInterceptor interceptor, PreparedShardSegments prepared, LocalShards localShards, ILogger<ShardGrain> logger)
    {
        _prepared = prepared;
        _localShards = localShards;
        _catalog = catalog;
        _log = new UpdateLog(catalog.Store);
        _interceptor = interceptor;
        _options = options.Value;
        _logger = logger;
    }

    /// <summary>Key of replica <paramref name="replica"/> of shard <paramref name="shard"/> of <paramref name="index"/>: "{index}/{shard}/{replica}".</summary>
    public static string KeyOf(string index, int shard, int replica = 0) => string.Create(CultureInfo.InvariantCulture, $"{index}/{shard}/{replica}");

    /// <summary>Parses "{index}/{shard}/{replica}" (or "{index}/{shard}", replica 0).</summary>
    public static bool TryParseKey(string key, out string index, out int shard, out int replica)
    {
        index = "";
        shard = replica = 0;
        var parts = key.Split('/');
        if (parts.Length is < 2 or > 3 || parts[0].Length == 0) return false;
        if (!int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out shard)) return false;
        if (parts.Length == 3 && !int.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out replica)) return false;
        index = parts[0];
        return true;
    }

    /// <inheritdoc />
    /// <remarks>
    /// The activation completes at once and the latest version is restored in the background: a
    /// shard of a large index downloads gigabytes (about 850 MB per million SPLADE documents), which
    /// on a silo restoring many shards at once takes longer than Orleans' response timeout, and
    /// every call queued behind an activation that restored first timed out (found at 10M documents
    /// by the <c>scale</c> benchmark). A search, fetch or update batch waits for the restore (a search
    /// within its own deadline), as it waited for the activation before; <see cref="GetInfoAsync"/> waits
    /// at most <see cref="InfoRestoreWait"/> and says <see cref="ShardInfo.Restoring"/>.
    /// </remarks>
    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        string key = this.GetPrimaryKeyString();
        if (!TryParseKey(key, out _index, out _shard, out _replica))
            throw new ArgumentException($"Shard grain key '{key}' is not '{{index}}/{{shard}}/{{replica}}'.");
        _local = new LocalShard(_index, _shard, _replica, GrainContext.Address.SiloAddress, _options.SnippetLength, _interceptor);
        _local.Serve(_view);
        _localShards.Add(_local);
        if (_localShards.Enabled)
        {
            // Direct searches on this silo never reach the grain: while they come, keep it from being collected as idle.
            _keepAlivePeriod = KeepAlivePeriod(ServiceProvider.GetService<IOptions<GrainCollectionOptions>>()?.Value);
            this.RegisterGrainTimer(KeepServingAsync, new GrainTimerCreationOptions(_keepAlivePeriod, _keepAlivePeriod) { KeepAlive = false, Interleave = true });
        }
        _restore = RestoreInBackgroundAsync();
        return Task.CompletedTask;
    }

    private TimeSpan _keepAlivePeriod;

    /// <summary>
    /// How often a replica checks whether direct searches came (and then delays its idle collection
    /// by twice as long): a third of the silo's idle collection age for shard grains, at most a minute.
    /// </summary>
    internal static TimeSpan KeepAlivePeriod(GrainCollectionOptions? collection)
    {
        var age = collection is null ? TimeSpan.FromMinutes(15)
            : collection.ClassSpecificCollectionAge.TryGetValue(typeof(ShardGrain).FullName!, out var specific) ? specific : collection.CollectionAge;
        var period = age / 3;
        return period > TimeSpan.FromMinutes(1) ? TimeSpan.FromMinutes(1) : period < TimeSpan.FromMilliseconds(100) ? TimeSpan.FromMilliseconds(100) : period;
    }

    private Task KeepServingAsync(CancellationToken cancellationToken)
    {
        long searches = _local.Searches;
        if (searches != _directSearchesSeen)
        {
            _directSearchesSeen = searches;
            DelayDeactivation(_keepAlivePeriod * 2);
        }
        return Task.CompletedTask;
    }

    /// <summary>Restores the latest version; a failure other than an unreadable version (which falls back to an older one) deactivates the grain, so the next call activates it again and retries.</summary>
    private async Task RestoreInBackgroundAsync()
    {
        // On a turn of its own: the activation completes first.
        await Task.Yield();
        try
        {
            await RestoreLatestAsync(_deactivating.Token);
        }
        catch (OperationCanceledException) when (_deactivating.IsCancellationRequested)
        {
        }
#pragma warning disable CA1031 // nothing awaits the background restore: any failure is logged and the grain deactivated, so the next call retries from a fresh activation
        catch (Exception e)
#pragma warning restore CA1031
        {
            LogRestoreCrashed(_logger, e, _index, _shard, _replica);
            DeactivateOnIdle();
        }
    }

    /// <inheritdoc />
    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        await _deactivating.CancelAsync();
        if (_local is null) return; // the activation failed before it registered (a malformed key)
        _localShards.Remove(_local);
        SwapTo(ShardView.None); // nothing serves any more: direct searches fall back, the lease is retired, the live-buffer gauge reads 0
    }

    /// <inheritdoc />
    public async Task DropAsync()
    {
        // No restore or load in progress may swap a version in after this (LoadAsync checks the token before it swaps).
        await _deactivating.CancelAsync();
        _localShards.Remove(_local);
        SwapTo(ShardView.None);
        string cached = SnapshotCatalog.CachePath($"indexes/{_index}/", _options.CacheDirectory);
        try
        {
            if (Directory.Exists(cached)) Directory.Delete(cached, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            LogCacheNotDeleted(_logger, e, _index, cached);
        }
        LogDropped(_logger, _index, _shard, _replica);
        DeactivateOnIdle();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Shard replica {Index}/{Shard}/{Replica}: the index was deleted; it stops serving and deactivates")]
    private static partial void LogDropped(ILogger logger, string index, int shard, int replica);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Index {Index} was deleted but its cached segments under {Path} could not be removed")]
    private static partial void LogCacheNotDeleted(ILogger logger, Exception error, string index, string path);

    /// <inheritdoc />
    public async Task LoadVersionAsync(long version)
    {
        if (version <= _view.Version) return;
        var manifest = await _catalog.GetManifestAsync(_index, version)
            ?? throw new InvalidOperationException($"Index '{_index}' has no published version {version} in {_catalog.Store.Description}.");
        await LoadAsync(manifest, CancellationToken.None);
    }

    /// <summary>
    /// Restores the latest published version; when it cannot be restored (a segment fails its
    /// checksum, a file is missing), says so in the log and falls back to the newest older version
    /// that can, so a bad publish never takes a shard offline.
    /// </summary>
    private async Task RestoreLatestAsync(CancellationToken cancellationToken)
    {
        var versions = await _catalog.ListVersionsAsync(_index, cancellationToken);
        for (int i = versions.Count - 1; i >= 0; i--)
        {
            try
            {
                var manifest = await _catalog.GetManifestAsync(_index, versions[i], cancellationToken);
                if (manifest is null) continue;
                await LoadAsync(manifest, cancellationToken);
                return;
            }
            catch (Exception e) when (e is InvalidDataException or IOException or CorruptSegmentException)
            {
                _failedVersion = versions[i];
                _failedAt = DateTime.UtcNow;
                LogRestoreFailed(_logger, e, _index, _shard, versions[i]);
            }
        }
    }

    private async Task LoadAsync(IndexManifest manifest, CancellationToken cancellationToken)
    {
        await _loadLock.WaitAsync(cancellationToken);
        try
        {
            if (manifest.Version <= _view.Version) return;
            if (_shard >= manifest.ShardCount)
            {
                SwapTo(new ShardView(SegmentLease.Empty(manifest.Version), null, manifest.Lineage));
                return;
            }
            // A move warmed this replica's segments on this silo ahead of its arrival: take them; otherwise restore them here.
            var opened = _prepared.TryTake(_index, _shard, _replica, manifest.Version);
            if (opened is not null) LogWarmArrival(_logger, _index, _shard, _replica, manifest.Version, GrainContext.Address.SiloAddress);
#pragma warning disable CA2000 // the opened segments pass to the SegmentLease below, which closes them when it is retired
            opened ??= await OpenedSegments.OpenAsync(_catalog, manifest, _index, _shard, _options.CacheDirectory, cancellationToken);
#pragma warning restore CA2000
            var (text, sparse, dense) = (opened.Text, opened.Sparse, opened.Dense);
            var lease = new SegmentLease(manifest.Version, text, sparse, dense, $"shard {_index}/{_shard}");
            ShardDelta delta;
            try
            {
                delta = await NextDeltaAsync(manifest, text, cancellationToken);
            }
            catch
            {
                lease.Retire();
                throw;
            }
            if (_deactivating.IsCancellationRequested)
            {
                // The activation ended while this version restored: nothing serves from it any more.
                lease.Retire();
                return;
            }
            SwapTo(new ShardView(lease, delta, manifest.Lineage));
            LogLoaded(_logger, _index, _shard, manifest.Version, lease.DocCount, delta.LiveCount, delta.HiddenCount, delta.Sequence);
        }
        finally
        {
            _loadLock.Release();
        }
    }

    private void SwapTo(ShardView next)
    {
        var old = _view;
        _view = next;
        _local.Serve(next); // direct searches read the new view before the old lease is retired
        Diagnostics.ShoalTelemetry.SetLiveBuffer(this.GetPrimaryKeyString(), _index, next.Delta?.LiveCount ?? 0, next.Delta?.HiddenCount ?? 0);
        if (!ReferenceEquals(old.Lease, next.Lease)) old.Lease.Retire();
    }

    /// <summary>
    /// The live buffer for a newly loaded version: the current buffer cut back to the batches the
    /// version has not folded in when it continues the same update log (a merge), otherwise the
    /// version's log replayed from the store after the batches it folded in.
    /// </summary>
    private async Task<ShardDelta> NextDeltaAsync(IndexManifest manifest, TextSegment? text, CancellationToken cancellationToken)
    {
        var scoring = DeltaScoring.Create(manifest, text);
        long through = manifest.Shards[_shard].UpdatesThrough;
        var current = _view;
        var delta = current.Delta is { } d && current.Lineage == manifest.Lineage && d.Sequence >= through
            ? d.Rebase(scoring, through)
            : ShardDelta.Empty(scoring, through);
        return await ReplayAsync(delta, manifest.Lineage, cancellationToken);
    }

    /// <summary>Applies the batches of the update log after the buffer's sequence.</summary>
    private async Task<ShardDelta> ReplayAsync(ShardDelta delta, long lineage, CancellationToken cancellationToken)
    {
        var batches = await _log.ReadAsync(_index, lineage, _shard, after: delta.Sequence, cancellationToken: cancellationToken);
        if (batches.Count == 0) return delta;
        return await Task.Run(() =>
        {
            var next = delta;
            foreach (var (sequence, payload) in batches)
            {
                var batch = UpdateBatchCodec.Decode(payload, UpdateLog.Key(_index, lineage, _shard, sequence));
                if (batch.Sequence != sequence)
                    throw new InvalidDataException($"Update batch '{UpdateLog.Key(_index, lineage, _shard, sequence)}' holds sequence {batch.Sequence}.");
                next = next.Apply(batch);
            }
            return next;
        }, cancellationToken);
    }

    /// <inheritdoc />
    public async Task<int> ApplyUpdatesAsync(long version, long lineage, long sequence, byte[] batch)
    {
        if (!_restore.IsCompleted) await _restore;
        if (version > _view.Version) await LoadVersionAsync(version);
        await _loadLock.WaitAsync();
        try
        {
            var view = _view;
            if (view.Delta is not { } delta)
                throw new InvalidOperationException($"Shard {_index}/{_shard} serves no version that takes updates (version {view.Version}).");
            // A batch of an older lineage belongs to a version this shard has moved past; one of a
            // newer lineage cannot arrive before its version (the sender's version was loaded above).
            if (lineage != view.Lineage)
            {
                if (lineage < view.Lineage) return -1;
                throw new InvalidOperationException($"Shard {_index}/{_shard} serves lineage {view.Lineage}, not {lineage}.");
            }
            if (sequence <= delta.Sequence) return -1; // already applied (a replay or a retry): the count is not known
            ShardDelta next;
            int removed = -1;
            if (sequence == delta.Sequence + 1)
            {
                var decoded = UpdateBatchCodec.Decode(batch, UpdateLog.Key(_index, lineage, _shard, sequence));
                if (decoded.Sequence != sequence) throw new ArgumentException($"The batch holds sequence {decoded.Sequence}, not {sequence}.");
                (next, removed) = await Task.Run(() => (delta.Apply(decoded), view.Lease.Searcher.CountVisibleDeletes(delta, decoded)));
            }
            else
            {
                // Missed a batch (an earlier push failed): catch up from the durable log, which holds this one too.
                next = await ReplayAsync(delta, lineage, CancellationToken.None);
                if (next.Sequence < sequence)
                    throw new InvalidOperationException($"Shard {_index}/{_shard}: the update log ends at batch {next.Sequence}, before pushed batch {sequence}.");
            }
            SwapTo(view with { Delta = next });
            return removed;
        }
        finally
        {
            _loadLock.Release();
        }
    }

    /// <summary>
    /// Moves to <paramref name="version"/> when a query names a newer one than this shard serves.
    /// A version that fails to load is logged and retried at most every 30 seconds; meanwhile the
    /// shard keeps answering from the version it has.
    /// </summary>
    private async Task CatchUpAsync(long version)
    {
        if (version == _failedVersion && DateTime.UtcNow - _failedAt < TimeSpan.FromSeconds(30)) return;
        try
        {
            await LoadVersionAsync(version);
        }
        catch (Exception e) when (e is InvalidDataException or IOException or CorruptSegmentException or InvalidOperationException)
        {
            _failedVersion = version;
            _failedAt = DateTime.UtcNow;
            LogRestoreFailed(_logger, e, _index, _shard, version);
        }
    }

    /// <summary>
    /// The view a search reads, with a reference taken on its segments. A shard that serves no
    /// version (every version failed to restore, or none is published yet) throws
    /// <see cref="ShardUnavailableException"/> instead of answering "no hits", so the coordinator
    /// counts it missing (or asks another replica) and the answer is flagged partial.
    /// </summary>
    private ShardView AcquireView()
    {
        // No swap can come between reading _view and acquiring its lease: both run on this grain's
        // turn (a reentrant grain interleaves calls only at awaits, and there is none here), and
        // SwapTo retires a lease only after _view no longer points at it. The current view's lease
        // therefore still holds its owner's reference, and acquiring it cannot fail.
        var view = _view;
        if (!view.Lease.TryAcquire())
            throw new InvalidOperationException($"Shard {_index}/{_shard}: the lease of served version {view.Version} was released while still current.");
        if (view.Version == 0)
        {
            view.Lease.Release();
            throw new ShardUnavailableException(_failedVersion > 0
                ? $"Shard {_index}/{_shard} (replica {_replica}) serves no version: version {_failedVersion} could not be restored and no older one could be (see the silo log)."
                : $"Shard {_index}/{_shard} (replica {_replica}) serves no version: none is published or none could be restored.");
        }
        return view;
    }

    /// <inheritdoc />
    public async Task<ShardSearchResult> SearchAsync(ShardQuery query, CancellationToken cancellationToken = default)
    {
        // The activation's own restore first (it falls back to an older version when the latest cannot be read), within the search's deadline.
        if (!_restore.IsCompleted) await _restore.WaitAsync(cancellationToken);
        if (query.Version > _view.Version) await CatchUpAsync(query.Version);
        return await _local.SearchAcquiredAsync(AcquireView(), query, cancellationToken);
    }

    /// <inheritdoc />
    public async Task<Hit[]> FetchAsync(ShardFetchRequest request, CancellationToken cancellationToken = default)
    {
        if (!_restore.IsCompleted) await _restore.WaitAsync(cancellationToken);
        if (request.Version > _view.Version) await CatchUpAsync(request.Version);
        var view = AcquireView();
        try
        {
            return LocalShard.ToWire(view.Lease.Searcher.Fetch(request.Ids, view.Delta, _options.SnippetLength));
        }
        finally
        {
            view.Lease.Release();
        }
    }

    /// <inheritdoc />
    public async Task<ShardInfo> GetInfoAsync()
    {
        // Right after activation a restore usually ends in moments; a shard of gigabytes restores for longer than a caller should wait.
        if (!_restore.IsCompleted) await Task.WhenAny(_restore, Task.Delay(InfoRestoreWait));
        var view = _view;
        var lease = view.Lease;
        return new ShardInfo
        {
            Index = _index,
            Shard = _shard,
            Replica = _replica,
            Version = lease.Version,
            DocCount = lease.DocCount,
            SegmentBytes = lease.SizeBytes,
            Silo = RuntimeIdentity,
            SiloAddress = GrainContext.Address.SiloAddress?.ToParsableString() ?? "",
            DensePasses = lease.DenseBatcher?.Passes ?? 0,
            DenseExactQueries = lease.DenseBatcher?.Queries ?? 0,
            UpdateSequence = view.Delta?.Sequence ?? 0,
            LiveDocuments = view.Delta?.LiveCount ?? 0,
            HiddenDocuments = view.Delta?.HiddenCount ?? 0,
            Restoring = !_restore.IsCompleted,
        };
    }

    /// <inheritdoc />
    [LoggerMessage(Level = LogLevel.Error, Message = "Shard {Index}/{Shard} cannot restore version {Version}; it keeps serving the version it has")]
    private static partial void LogRestoreFailed(ILogger logger, Exception error, string index, int shard, long version);

    [LoggerMessage(Level = LogLevel.Error, Message = "Shard replica {Index}/{Shard}/{Replica} could not restore; it deactivates and the next call retries")]
    private static partial void LogRestoreCrashed(ILogger logger, Exception error, string index, int shard, int replica);

    [LoggerMessage(Level = LogLevel.Information, Message = "Shard replica {Index}/{Shard}/{Replica} activated on {Silo} with the segments of version {Version} warmed ahead of its move")]
    private static partial void LogWarmArrival(ILogger logger, string index, int shard, int replica, long version, SiloAddress? silo);

    [LoggerMessage(Level = LogLevel.Information, Message = "Shard {Index}/{Shard} serves version {Version} ({Docs} documents; live buffer: {Live} upserted, {Hidden} hidden, through batch {Sequence})")]
    private static partial void LogLoaded(ILogger logger, string index, int shard, long version, long docs, int live, int hidden, long sequence);
}

/// <summary>What a shard serves at one moment: a version's segments, its live buffer of online updates, and the update log lineage they follow.</summary>
internal sealed record ShardView(SegmentLease Lease, ShardDelta? Delta, long Lineage)
{
    /// <summary>
    /// A fresh empty view for each caller: a shard retires the lease of the view it leaves, so an
    /// empty view shared by every shard would be released by the first shard that loads a version,
    /// and then no other shard still serving nothing could acquire it.
    /// </summary>
    public static ShardView None => new(SegmentLease.Empty(0), null, 0);

    public long Version => Lease.Version;
}
