using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans;
using Orleans.Concurrency;
using Orleans.Runtime;
using Shoal.Engine.Search;
using Shoal.Engine.Snapshots;
using Shoal.Engine.Text;
using Shoal.Grains.Contracts;
using Shoal.Grains.Hosting;

namespace Shoal.Grains.Shards;

/// <summary>
/// Owns one shard of an index: restores its segments from the latest published manifest on
/// activation (on whichever silo it lands), swaps to newer versions when told or when a query
/// names one, and answers local top-k. Searches are reentrant and run on the thread pool over
/// immutable memory-mapped segments, so a long query never blocks the grain's turn.
/// </summary>
[Reentrant]
[Placement.ShardPlacement]
public sealed partial class ShardGrain : Grain, IShardGrain
{
    private readonly SnapshotCatalog _catalog;
    private readonly ShoalOptions _options;
    private readonly ILogger<ShardGrain> _logger;
    private readonly IShardSearchInterceptor _interceptor;
    private readonly SemaphoreSlim _loadLock = new(1, 1);
    private string _index = "";
    private int _shard;
    private int _replica;
    private ShardView _view = ShardView.Empty;

    /// <summary>Created by Orleans.</summary>
    public ShardGrain(SnapshotCatalog catalog, IOptions<ShoalOptions> options, IShardSearchInterceptor interceptor, ILogger<ShardGrain> logger)
    {
        _catalog = catalog;
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
    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        string key = this.GetPrimaryKeyString();
        if (!TryParseKey(key, out _index, out _shard, out _replica))
            throw new ArgumentException($"Shard grain key '{key}' is not '{{index}}/{{shard}}/{{replica}}'.");
        var manifest = await _catalog.GetLatestManifestAsync(_index, cancellationToken);
        if (manifest is not null) await LoadAsync(manifest, cancellationToken);
    }

    /// <inheritdoc />
    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        _view.Retire();
        _view = ShardView.Empty;
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public async Task LoadVersionAsync(long version)
    {
        if (version <= _view.Version) return;
        var manifest = await _catalog.GetManifestAsync(_index, version)
            ?? throw new InvalidOperationException($"Index '{_index}' has no published version {version} in {_catalog.Store.Description}.");
        await LoadAsync(manifest, CancellationToken.None);
    }

    private async Task LoadAsync(IndexManifest manifest, CancellationToken cancellationToken)
    {
        await _loadLock.WaitAsync(cancellationToken);
        try
        {
            if (manifest.Version <= _view.Version) return;
            if (_shard >= manifest.ShardCount)
            {
                SwapTo(new ShardView(manifest.Version, []));
                return;
            }
            var leases = new List<SegmentLease>();
            try
            {
                foreach (var segment in manifest.Shards[_shard].Segments)
                {
                    string path = await _catalog.MaterializeAsync(segment, _options.CacheDirectory, cancellationToken);
                    // Opening verifies section checksums: a sequential read, so keep it off the turn.
                    var opened = await Task.Run(() => TextSegment.Open(path), cancellationToken);
                    leases.Add(new SegmentLease(opened, manifest.Version));
                }
            }
            catch
            {
                foreach (var l in leases) l.Retire();
                throw;
            }
            SwapTo(new ShardView(manifest.Version, [.. leases]));
            long docs = 0;
            foreach (var l in leases) docs += l.Segment.DocCount;
            LogLoaded(_logger, _index, _shard, manifest.Version, docs);
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
        old.Retire();
    }

    /// <inheritdoc />
    public async Task<ShardSearchResult> SearchTextAsync(ShardTextQuery query, CancellationToken cancellationToken = default)
    {
        if (query.Version > _view.Version) await LoadVersionAsync(query.Version);
        await _interceptor.BeforeSearchAsync(_index, _shard, cancellationToken);
        // A concurrent swap may retire the view between reading and acquiring it; then read again.
        ShardView view;
        SegmentLease[]? acquired;
        while (!(view = _view).TryAcquireAll(out acquired)) { }
        try
        {
            var hits = acquired.Length == 0
                ? []
                : await Task.Run(() => Search(acquired, query, _options.SnippetLength, cancellationToken), cancellationToken);
            return new ShardSearchResult { Shard = _shard, Version = view.Version, Hits = hits };
        }
        finally
        {
            foreach (var lease in acquired) lease.Release();
        }
    }

    private static Hit[] Search(SegmentLease[] segments, ShardTextQuery query, int snippetLength, CancellationToken cancellationToken)
    {
        var textQuery = new TextQuery(query.Terms, query.Weights);
        var perSegment = new List<IReadOnlyList<SearchHit>>(segments.Length);
        foreach (var lease in segments)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var seg = lease.Segment;
            var top = seg.Search(textQuery, query.K);
            var hits = new SearchHit[top.Length];
            for (int i = 0; i < top.Length; i++)
            {
                int d = top[i].DocId;
                hits[i] = query.IncludeStored
                    ? new SearchHit(seg.GetId(d), top[i].Score, NullIfEmpty(seg.GetTitle(d)), Snippet(seg.GetText(d), snippetLength))
                    : new SearchHit(seg.GetId(d), top[i].Score);
            }
            perSegment.Add(hits);
        }
        var merged = perSegment.Count == 1 ? perSegment[0] : TopKMerge.Merge(perSegment, query.K);
        var result = new Hit[merged.Count];
        for (int i = 0; i < result.Length; i++)
            result[i] = new Hit { Id = merged[i].Id, Score = merged[i].Score, Title = merged[i].Title, Snippet = merged[i].Snippet };
        return result;
    }

    private static string? NullIfEmpty(string s) => s.Length == 0 ? null : s;

    /// <summary>The first <paramref name="length"/> characters of a text, cut at a word boundary.</summary>
    internal static string Snippet(string text, int length)
    {
        if (text.Length <= length) return text;
        int cut = text.LastIndexOf(' ', length);
        if (cut < length / 2) cut = length;
        return string.Concat(text.AsSpan(0, cut).TrimEnd(), "…");
    }

    /// <inheritdoc />
    public Task<ShardInfo> GetInfoAsync()
    {
        var view = _view;
        return Task.FromResult(new ShardInfo
        {
            Index = _index,
            Shard = _shard,
            Replica = _replica,
            Version = view.Version,
            DocCount = view.Segments.Sum(s => (long)s.Segment.DocCount),
            SegmentBytes = view.Segments.Sum(s => s.Segment.SizeBytes),
            Silo = RuntimeIdentity,
        });
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Shard {Index}/{Shard} serves version {Version} ({Docs} documents)")]
    private static partial void LogLoaded(ILogger logger, string index, int shard, long version, long docs);

    /// <summary>The segments of one version; immutable once built.</summary>
    private sealed record ShardView(long Version, SegmentLease[] Segments)
    {
        public static ShardView Empty { get; } = new(0, []);

        public bool TryAcquireAll(out SegmentLease[] acquired)
        {
            acquired = new SegmentLease[Segments.Length];
            for (int i = 0; i < Segments.Length; i++)
            {
                if (Segments[i].TryAcquire())
                {
                    acquired[i] = Segments[i];
                    continue;
                }
                for (int j = 0; j < i; j++) acquired[j].Release();
                return false;
            }
            return true;
        }

        public void Retire()
        {
            foreach (var s in Segments) s.Retire();
        }
    }
}
