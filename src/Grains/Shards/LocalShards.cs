using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Options;
using Orleans.Runtime;
using Shoal.Engine.Search;
using Shoal.Engine.Snapshots;
using Shoal.Engine.Sparse;
using Shoal.Engine.Text;
using Shoal.Grains.Contracts;
using Shoal.Grains.Hosting;

namespace Shoal.Grains.Shards;

/// <summary>
/// The shard replicas active on this silo, so that a search that starts here (a coordinator, a
/// silo batch) reads a local replica's segments directly instead of sending its grain a message:
/// a local grain call costs two hand-offs between threads (the call queued on the shard's
/// activation, the answer queued back on the caller's), and a search over six local shards paid
/// twelve of them for well under a millisecond of scoring. The replica's grain stays the owner:
/// it restores and swaps versions, applies updates, and takes every call the direct path cannot
/// answer (no version restored yet, an older version than the query names, a lease retired under
/// the caller), so a direct search reads exactly what a call to the grain would have read.
/// <c>Shoal:DirectLocalSearch=false</c> turns it off (every shard search is a grain call).
/// </summary>
public sealed class LocalShards
{
    private readonly ConcurrentDictionary<(string Index, int Shard, int Replica), LocalShard> _shards = new();

    /// <summary>Created by dependency injection (one per silo).</summary>
    public LocalShards(IOptions<ShoalOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Enabled = options.Value.DirectLocalSearch;
    }

    /// <summary>Direct local searches are on (<see cref="ShoalOptions.DirectLocalSearch"/>).</summary>
    public bool Enabled { get; }

    /// <summary>Replicas registered on this silo.</summary>
    public int Count => _shards.Count;

    /// <summary>Searches answered without a grain call since the silo started (summed from the replicas, so the hot path counts once).</summary>
    public long DirectSearches => Interlocked.Read(ref _removedSearches) + _shards.Values.Sum(s => s.Searches);

    private long _removedSearches; // direct searches of replicas no longer registered

    /// <summary>Replica activations registered since the silo started (a replica collected and activated again counts twice).</summary>
    public long Registrations => Interlocked.Read(ref _registrations);

    private long _registrations;

    internal void Add(LocalShard shard)
    {
        if (!Enabled) return;
        _shards[(shard.Index, shard.Shard, shard.Replica)] = shard;
        Interlocked.Increment(ref _registrations);
    }

    internal void Remove(LocalShard shard)
    {
        if (_shards.TryRemove(KeyValuePair.Create((shard.Index, shard.Shard, shard.Replica), shard)))
            Interlocked.Add(ref _removedSearches, shard.Searches);
    }

    /// <summary>True when replica <paramref name="replica"/> of shard <paramref name="shard"/> is active on this silo.</summary>
    public bool Holds(string index, int shard, int replica) => Enabled && _shards.ContainsKey((index, shard, replica));

    /// <summary>
    /// True when that replica is active on this silo and serves a version (not while it restores,
    /// nor after every version failed to restore): the replicas a coordinator prefers.
    /// </summary>
    public bool Serves(string index, int shard, int replica) =>
        Enabled && _shards.TryGetValue((index, shard, replica), out var local) && local.ServedVersion > 0;

    /// <summary>
    /// Searches replica <paramref name="replica"/> of shard <paramref name="shard"/> on this silo
    /// without a grain call; null when it is not here or cannot answer without its grain (the
    /// caller then calls the grain, which answers or says why not).
    /// </summary>
    public Task<ShardSearchResult>? TrySearch(string index, int shard, int replica, ShardQuery query, CancellationToken cancellationToken, bool inline = false)
    {
        if (!Enabled || !_shards.TryGetValue((index, shard, replica), out var local)) return null;
        return local.TrySearch(query, cancellationToken, inline);
    }
}

/// <summary>
/// One replica's search over what it serves (<see cref="ShardView"/>): used by its grain for the
/// calls it takes and by <see cref="LocalShards"/> for direct searches on its silo, so both read
/// and answer the same way.
/// </summary>
internal sealed class LocalShard
{
    private readonly IShardSearchInterceptor _interceptor;
    private readonly int _snippetLength;
    private ShardView? _view;
    private long _searches;

    public LocalShard(string index, int shard, int replica, SiloAddress? silo, int snippetLength, IShardSearchInterceptor interceptor)
    {
        Index = index;
        Shard = shard;
        Replica = replica;
        Silo = silo;
        _snippetLength = snippetLength;
        _interceptor = interceptor;
    }

    public string Index { get; }

    public int Shard { get; }

    public int Replica { get; }

    public SiloAddress? Silo { get; }

    /// <summary>Direct searches taken so far (the grain keeps itself active while they come).</summary>
    public long Searches => Interlocked.Read(ref _searches);

    /// <summary>The version direct searches read now (0: none).</summary>
    public long ServedVersion => Volatile.Read(ref _view)?.Version ?? 0;

    /// <summary>What direct searches read from now on; the grain sets it before it retires the lease of the view it leaves.</summary>
    public void Serve(ShardView view) => Volatile.Write(ref _view, view);

    /// <summary>A direct search, or null when the grain must answer (see <see cref="LocalShards.TrySearch"/>).</summary>
    public Task<ShardSearchResult>? TrySearch(ShardQuery query, CancellationToken cancellationToken, bool inline = false)
    {
        var view = Volatile.Read(ref _view);
        if (view is null || view.Version == 0 || query.Version > view.Version) return null;
        // A lease retired and released between the read above and here fails to acquire: the grain answers instead.
        if (!view.Lease.TryAcquire()) return null;
        Interlocked.Increment(ref _searches);
        return SearchAcquiredAsync(view, query, cancellationToken, inline);
    }

    /// <summary>Searches <paramref name="view"/>, whose lease the caller acquired; releases it.</summary>
    /// <remarks>
    /// The search runs on a thread-pool thread of its own unless <paramref name="inline"/>: a caller
    /// that is itself on the thread pool (not on a grain's turn) and has nothing else to do until
    /// this search ends (the last shard it starts) runs it on its own thread, saving a switch.
    /// </remarks>
    public async Task<ShardSearchResult> SearchAcquiredAsync(ShardView view, ShardQuery query, CancellationToken cancellationToken, bool inline = false)
    {
        try
        {
            using var activity = Diagnostics.ShoalTelemetry.Source.StartActivity("shoal.shard.search");
            activity?.SetTag("shoal.index", Index);
            activity?.SetTag("shoal.shard", Shard);
            activity?.SetTag("shoal.replica", Replica);
            activity?.SetTag("shoal.version", view.Version);
            // Off the caller's scheduler from here: nothing below touches grain state, and a coordinator's
            // direct search then finishes on the thread that scored it instead of queueing back on its turn.
            await _interceptor.BeforeSearchAsync(Index, Shard, cancellationToken).ConfigureAwait(false);
            var request = ToEngine(query);
            var top = inline
                ? await view.Lease.Searcher.SearchAsync(request, view.Delta, cancellationToken).ConfigureAwait(false)
                : await Task.Run(() => view.Lease.Searcher.SearchAsync(request, view.Delta, cancellationToken), cancellationToken).ConfigureAwait(false);
            RecordChannels(top);
            return ToWire(view.Version, top);
        }
        finally
        {
            view.Lease.Release();
        }
    }

    /// <summary>Records the time each channel asked took.</summary>
    private void RecordChannels(ShardTopK top)
    {
        if (top.Bm25 is not null) RecordChannel(IndexChannels.Text, top.Bm25Elapsed);
        if (top.Sparse is not null) RecordChannel(IndexChannels.Sparse, top.SparseElapsed);
        if (top.Dense is not null) RecordChannel(IndexChannels.Dense, top.DenseElapsed);
    }

    private void RecordChannel(string channel, TimeSpan elapsed) =>
        Diagnostics.ShoalTelemetry.ShardChannelDuration.Record(elapsed.TotalMilliseconds,
            new KeyValuePair<string, object?>("index", Index), new KeyValuePair<string, object?>("channel", channel));

    /// <summary>The engine's form of a shard query from the wire.</summary>
    private ShardSearchRequest ToEngine(ShardQuery query) => new()
    {
        Bm25 = query.Bm25 is { } b ? new TextChannelQuery(new TextQuery(b.Terms, b.Weights), b.K) : null,
        Sparse = query.Sparse is { } s
            ? new SparseChannelQuery(new SparseVector(s.Terms, s.Weights), s.K, s.Exact, new SeismicSearchParameters(s.QueryTermCut, s.HeapFactor))
            : null,
        Dense = query.Dense is { } d ? new DenseChannelQuery(MemoryMarshal.Cast<byte, float>(d.Vector).ToArray(), d.K, d.Exact, d.Ef) : null,
        IncludeStored = query.IncludeStored,
        SnippetLength = _snippetLength,
    };

    /// <summary>The wire reply for the searcher's local top-k: the one place engine hits become wire hits.</summary>
    private ShardSearchResult ToWire(long version, ShardTopK top) => new()
    {
        Shard = Shard,
        Version = version,
        Silo = Silo,
        Replica = Replica,
        Bm25 = ToWire(top.Bm25),
        Sparse = ToWire(top.Sparse),
        Dense = ToWire(top.Dense),
    };

    [return: System.Diagnostics.CodeAnalysis.NotNullIfNotNull(nameof(hits))]
    internal static Hit[]? ToWire(SearchHit[]? hits)
    {
        if (hits is null) return null;
        var wire = new Hit[hits.Length];
        for (int i = 0; i < hits.Length; i++) wire[i] = new Hit { Id = hits[i].Id, Score = hits[i].Score, Title = hits[i].Title, Snippet = hits[i].Snippet };
        return wire;
    }
}
