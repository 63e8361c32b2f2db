using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans;
using Orleans.Runtime;
using Shoal.Grains.Contracts;
using Shoal.Grains.Diagnostics;
using Shoal.Grains.Hosting;
using Shoal.Grains.Shards;

namespace Shoal.Grains.Query;

/// <summary>
/// Scatter/gather: validates a search, analyses its text once, sends the analysed query to
/// every shard with a deadline, and merges the local top-k lists with a k-way merge. Shards
/// that fail or miss the deadline are reported in <see cref="Coverage"/>: a partial answer is
/// always flagged. One per silo and safe for concurrent searches (its state is the silo's shared
/// caches): <see cref="QueryCoordinatorGrain"/> runs it for searches that arrive as grain calls,
/// and a gateway in the silo's own process calls it directly, which spares each search a grain
/// message to the coordinator and the thread switches that come with it.
/// </summary>
public sealed partial class SearchCoordinator
{
    /// <summary>Longest query text accepted, in characters.</summary>
    public const int MaxTextLength = 16_384;

    /// <summary>Longest per-request deadline accepted.</summary>
    public static readonly TimeSpan MaxDeadline = TimeSpan.FromMinutes(1);

    /// <summary>Most entries in a sparse query vector.</summary>
    public const int MaxSparseTerms = 4096;

    /// <summary>Largest approximate sparse search query term cut accepted (a vocabulary has at most 65,536 terms).</summary>
    public const int MaxQueryTermCut = 65_536;

    /// <summary>Largest approximate sparse search heap factor accepted.</summary>
    public const double MaxHeapFactor = 1000;

    /// <summary>Largest reciprocal rank fusion rank constant accepted.</summary>
    public const int MaxRankConstant = 100_000;

    /// <summary>Hits taken from each channel of a fused query when the request does not say (at least k).</summary>
    public const int DefaultFusionDepth = 100;

    private readonly ShoalOptions _options;
    private readonly ILogger<SearchCoordinator> _logger;
    private readonly IGrainFactory _grains;
    private readonly SiloAddress _silo;
    private readonly IndexVersionCache _versions;
    private readonly QueryPlanner _planner;
    private readonly ShardLocations _locations;
    private readonly LocalShards _localShards;

    /// <summary>Created by the silo's service container (one per silo).</summary>
    public SearchCoordinator(IOptions<ShoalOptions> options, IndexVersionCache versions, ShardLocations locations, LocalShards localShards, ITextEncoderClient encoder,
        IGrainFactory grains, ILocalSiloDetails silo, ILogger<SearchCoordinator> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(silo);
        _grains = grains;
        _silo = silo.SiloAddress;
        _localShards = localShards;
        _versions = versions;
        _locations = locations;
        _options = options.Value;
        _planner = new QueryPlanner(_options, encoder);
        _logger = logger;
    }

    /// <summary>A gateway in this silo's process may call this coordinator directly (<see cref="ShoalOptions.DirectLocalSearch"/>).</summary>
    public bool DirectCalls => _options.DirectLocalSearch;

    /// <summary>Null when the request's common fields are valid, else what is wrong with them.</summary>
    public static string? Validate(SearchRequest request, int maxK) => QueryPlanner.Validate(request, maxK);

    /// <summary>Runs one search; every outcome, invalid requests included, is an answer (never thrown) but for cancellation.</summary>
    public async Task<SearchResponse> SearchAsync(SearchRequest request, CancellationToken cancellationToken = default)
    {
        using var activity = ShoalTelemetry.Source.StartActivity("shoal.search");
        activity?.SetTag("shoal.index", request.Index);
        var response = await SearchCoreAsync(request, cancellationToken);
        SearchMetrics.Record(response, activity);
        return response;
    }

    private async Task<SearchResponse> SearchCoreAsync(SearchRequest request, CancellationToken cancellationToken, bool refreshed = false)
    {
        var clock = Stopwatch.StartNew();
        if (Validate(request, _options.MaxK) is { } error) return Invalid(request, error);

        long stage = Stopwatch.GetTimestamp();
        IndexInfo? info;
        try
        {
            info = await GetIndexInfoAsync(request.Index, cancellationToken);
            stage = Stage(request.Index, "index", stage);
        }
        catch (IndexUnreachableException e)
        {
            return new SearchResponse { Status = SearchStatus.Unavailable, Error = e.Message, Index = request.Index };
        }
        if (info is null || info.Version == 0)
        {
            string why = info is null
                ? $"Index '{request.Index}' does not exist."
                : $"Index '{request.Index}' has no published version yet (build {info.Ingest?.State}).";
            return new SearchResponse { Status = SearchStatus.IndexNotFound, Error = why, Index = request.Index };
        }

        QueryPlan plan;
        try
        {
            var entry = await _versions.GetAsync(request.Index, info.Version, cancellationToken);
            plan = await _planner.PlanAsync(request, entry.Manifest.Schema, entry.Vocabulary, cancellationToken);
            stage = Stage(request.Index, "plan", stage);
        }
        catch (QueryException e)
        {
            return Invalid(request, e.Message);
        }
        catch (Exception e) when (PooledTextEncoderClient.IsUnavailable(e))
        {
            return new SearchResponse { Status = SearchStatus.Unavailable, Error = e.Message, Index = request.Index };
        }

        var deadline = request.DeadlineMs is { } ms ? TimeSpan.FromMilliseconds(ms) : _options.DefaultDeadline;
        if (!plan.HasWork)
        {
            // Nothing left to search (e.g. a text of stopwords only): every shard would answer "no match".
            return Response(request, info, plan, [], new Coverage { Shards = info.ShardCount, Answered = info.ShardCount }, clock);
        }

        bool fused = plan.Fused;
        var shardQuery = plan.ShardQuery with { Version = info.Version, IncludeStored = request.IncludeStored && !fused };
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(deadline);
        var calls = new Task<ShardSearchResult>[info.ShardCount];
        int replicas = Math.Max(1, info.Replicas);
        var (firsts, silos) = FirstReplicas(request.Index, calls.Length, replicas);
        var batched = BatchBySilo(request.Index, firsts, silos, shardQuery, cts.Token);
        // Off a grain's turn (a gateway in this process), the last shard's direct search runs on this thread, which would otherwise only wait.
        bool offGrain = TaskScheduler.Current == TaskScheduler.Default;
        for (int s = 0; s < calls.Length; s++)
        {
            int shard = s, first = firsts[s];
            var batch = batched?[s];
            bool inline = offGrain && s == calls.Length - 1;
            calls[s] = CallShardAsync(request.Index, replicas, (attempt, ct) => RetryTransientAsync(retry => attempt == 0 && !retry && batch is { } b
                ? FromBatchAsync(b.Outcomes, b.Position)
                : SearchReplica(request.Index, shard, (first + attempt) % replicas, shardQuery, direct: !retry, inline: inline && attempt == 0 && !retry, ct), ct), cts.Token);
        }

        try
        {
            await Task.WhenAll(calls).WaitAsync(deadline, cancellationToken);
        }
#pragma warning disable CA1031 // failed and late shards are reported per shard as coverage below, never thrown
        catch (Exception) when (!cancellationToken.IsCancellationRequested)
#pragma warning restore CA1031
        {
            // Deadline passed or some shard failed: answer with what arrived, and say so below.
        }
        cancellationToken.ThrowIfCancellationRequested();
        stage = Stage(request.Index, "scatter", stage);
        await cts.CancelAsync();

        var gather = new ResultMerger(plan, calls.Length);
        var missing = new List<int>();
        var reasons = new List<string>();
        long answeredVersion = info.Version, newestVersion = info.Version;
        for (int s = 0; s < calls.Length; s++)
        {
            if (calls[s].IsCompletedSuccessfully)
            {
                var result = await calls[s]; // completed (checked above): no wait
                _locations.Remember(request.Index, result);
                answeredVersion = Math.Min(answeredVersion, result.Version);
                newestVersion = Math.Max(newestVersion, result.Version);
                gather.Add(s, result);
            }
            else
            {
                missing.Add(s);
                if (calls[s].IsFaulted)
                {
                    var cause = calls[s].Exception!.GetBaseException();
                    LogShardFailed(_logger, cause, request.Index, s);
                    reasons.Add(cause switch
                    {
                        OperationCanceledException => $"shard {s}: cancelled at the deadline ({deadline.TotalMilliseconds:0} ms)",
                        ShardBatchFailureException => $"shard {s}: failed ({cause.Message})",
                        _ => $"shard {s}: failed ({cause.GetType().Name}: {cause.Message})",
                    });
                }
                else
                {
                    reasons.Add($"shard {s}: no answer within the deadline ({deadline.TotalMilliseconds:0} ms)");
                    _ = calls[s].ContinueWith(static t => _ = t.Exception, TaskScheduler.Default); // observe late faults
                }
            }
        }

        if (newestVersion > info.Version && !refreshed)
        {
            // A shard serves a version published after the description this silo remembered (its
            // shard count or channels may differ): search again with the index grain's description.
            _versions.Invalidate(request.Index);
            _locations.Forget(request.Index);
            return await SearchCoreAsync(request, cancellationToken, refreshed: true);
        }

        var result2 = gather.Merge(request.K);
        stage = Stage(request.Index, "merge", stage);
        if (fused && request.IncludeStored && result2.Length > 0)
        {
            result2 = await FetchStoredAsync(request.Index, info.Version, replicas, result2, gather.ShardOf!, deadline - clock.Elapsed, cancellationToken);
            Stage(request.Index, "fetch", stage);
        }

        var coverage = new Coverage
        {
            Shards = calls.Length,
            Answered = calls.Length - missing.Count,
            Partial = missing.Count > 0,
            Missing = [.. missing],
            Reasons = [.. reasons],
        };
        // A shard that cannot restore the newest version keeps serving the one it has: say which answered.
        return Response(request, info with { Version = answeredVersion }, plan, result2, coverage, clock);
    }

    /// <summary>
    /// The fetch phase of a fused query: asks the shards holding the final hits for their titles
    /// and snippets. A shard that fails or runs out of time leaves its hits without stored fields.
    /// </summary>
    private async Task<Hit[]> FetchStoredAsync(string index, long version, int replicas, Hit[] hits, Dictionary<string, int> shardOf,
        TimeSpan remaining, CancellationToken cancellationToken)
    {
        if (remaining <= TimeSpan.Zero) return hits;
        var byShard = hits.Where(h => shardOf.ContainsKey(h.Id)).GroupBy(h => shardOf[h.Id]);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(remaining);
        var fetches = byShard.Select(g => _grains.GetGrain<IShardGrain>(ShardGrain.KeyOf(index, g.Key, Random.Shared.Next(replicas)))
            .FetchAsync(new ShardFetchRequest { Version = version, Ids = [.. g.Select(h => h.Id)] }, cts.Token)).ToArray();
        try
        {
            await Task.WhenAll(fetches).WaitAsync(remaining, cancellationToken);
        }
#pragma warning disable CA1031 // a failed fetch leaves those hits without title and snippet; the search answer stands
        catch (Exception) when (!cancellationToken.IsCancellationRequested)
#pragma warning restore CA1031
        {
        }
        var stored = new Dictionary<string, Hit>(StringComparer.Ordinal);
        foreach (var f in fetches)
        {
            if (f.IsCompletedSuccessfully)
                foreach (var h in await f) stored[h.Id] = h; // completed (checked above): no wait
            else
                _ = f.ContinueWith(static t => _ = t.Exception, TaskScheduler.Default);
        }
        return [.. hits.Select(h => stored.TryGetValue(h.Id, out var s) ? h with { Title = s.Title, Snippet = s.Snippet } : h)];
    }

    /// <summary>Records the time since <paramref name="started"/> as coordinator stage <paramref name="name"/> of a search of <paramref name="index"/>; returns now.</summary>
    private static long Stage(string index, string name, long started)
    {
        long now = Stopwatch.GetTimestamp();
        ShoalTelemetry.QueryStageDuration.Record(Stopwatch.GetElapsedTime(started, now).TotalMilliseconds,
            new KeyValuePair<string, object?>("index", index), new KeyValuePair<string, object?>("stage", name));
        return now;
    }

    private static SearchResponse Invalid(SearchRequest request, string error) =>
        new() { Status = SearchStatus.Invalid, Error = error, Index = request.Index };

    /// <summary>
    /// Calls a replica, and once more after a short pause when the call failed in transport: the
    /// message was rejected or the connection lost because the replica's silo is stopping or
    /// moving the activation (a graceful leave, a rebalance). The second call reaches the
    /// activation wherever the directory now places it. Errors from the shard itself are not retried.
    /// </summary>
    private static async Task<ShardSearchResult> RetryTransientAsync(Func<bool, Task<ShardSearchResult>> call, CancellationToken cancellationToken)
    {
        try
        {
            return await call(false);
        }
        catch (Exception e) when (IsTransportFailure(e) && !cancellationToken.IsCancellationRequested)
        {
            await Task.Delay(TransientRetryPause, cancellationToken);
            return await call(true);
        }
    }

    /// <summary>
    /// Groups the first replica of each shard by the silo it answered from last (<paramref name="silos"/>):
    /// every remote silo holding two or more of them gets one <see cref="ISiloShardSearchGrain"/>
    /// message for all of them. Null entries (shards on this silo, of unknown place, or alone on
    /// theirs) are called directly. Null when nothing is batched.
    /// </summary>
    private (Task<ShardOutcome[]> Outcomes, int Position)?[]? BatchBySilo(string index, int[] firsts, SiloAddress?[] silos, ShardQuery query, CancellationToken cancellationToken)
    {
        int shards = firsts.Length;
        if (shards < 3) return null;
        var local = _silo;
        Dictionary<SiloAddress, List<int>>? bySilo = null;
        for (int s = 0; s < shards; s++)
        {
            if (silos[s] is not { } silo || silo.Equals(local)) continue;
            bySilo ??= [];
            if (!bySilo.TryGetValue(silo, out var list)) bySilo[silo] = list = [];
            list.Add(s);
        }
        if (bySilo is null) return null;
        (Task<ShardOutcome[]>, int)?[]? batched = null;
        foreach (var (silo, list) in bySilo)
        {
            if (list.Count < 2) continue;
            int[] ids = [.. list];
            var replicasOf = new int[ids.Length];
            for (int i = 0; i < ids.Length; i++) replicasOf[i] = firsts[ids[i]];
            var outcomes = _grains.GetGrain<ISiloShardSearchGrain>(SiloShardSearchGrain.KeyOf(silo, Random.Shared.Next(SiloShardSearchGrain.Slots)))
                .SearchAsync(index, ids, replicasOf, query, cancellationToken);
            Diagnostics.ShoalTelemetry.SiloBatches.Add(1, new KeyValuePair<string, object?>("index", index));
            batched ??= new (Task<ShardOutcome[]>, int)?[shards];
            for (int i = 0; i < ids.Length; i++) batched[ids[i]] = (outcomes, i);
        }
        return batched;
    }

    /// <summary>
    /// The replica each shard's first attempt goes to: one that answered last from this silo when
    /// there is one (a local call costs no network message: with as many replicas as silos a search
    /// stays on the silo that took it, which is how replicas add query throughput), else one
    /// chosen at random per search, which spreads the load over the replicas. Also returns the silo
    /// each chosen replica answered from last (null when not known), for <see cref="BatchBySilo"/>.
    /// </summary>
    private (int[] Firsts, SiloAddress?[] Silos) FirstReplicas(string index, int shards, int replicas)
    {
        var firsts = new int[shards];
        var silos = new SiloAddress?[shards];
        int first = Random.Shared.Next(replicas);
        var local = _silo;
        for (int s = 0; s < shards; s++)
        {
            firsts[s] = first;
            silos[s] = _locations.Get(index, s, first);
            if (_localShards.Enabled)
            {
                // A replica on this silo that serves a version is searched directly: the cheapest first attempt there is.
                for (int r = 0; r < replicas; r++)
                {
                    int candidate = (first + r) % replicas;
                    if (!_localShards.Serves(index, s, candidate)) continue;
                    firsts[s] = candidate;
                    silos[s] = local;
                    break;
                }
            }
            for (int r = 1; r < replicas && !Equals(silos[s], local); r++)
            {
                int candidate = (first + r) % replicas;
                if (_locations.Get(index, s, candidate) is { } silo && silo.Equals(local))
                {
                    firsts[s] = candidate;
                    silos[s] = silo;
                }
            }
        }
        return (firsts, silos);
    }

    /// <summary>
    /// Searches one replica: directly when it is active on this silo (<see cref="LocalShards"/>, no
    /// grain call), else, or when the direct path cannot answer, through its grain.
    /// </summary>
    private Task<ShardSearchResult> SearchReplica(string index, int shard, int replica, ShardQuery query, bool direct, bool inline, CancellationToken cancellationToken) =>
        (direct ? _localShards.TrySearch(index, shard, replica, query, cancellationToken, inline) : null)
        ?? _grains.GetGrain<IShardGrain>(ShardGrain.KeyOf(index, shard, replica)).SearchAsync(query, cancellationToken);

    /// <summary>Shard <paramref name="position"/>'s result from a silo batch; its failure rethrown.</summary>
    private static async Task<ShardSearchResult> FromBatchAsync(Task<ShardOutcome[]> outcomes, int position)
    {
        var outcome = (await outcomes)[position];
        if (outcome.Result is { } result) return result;
        if (outcome.Cancelled) throw new OperationCanceledException(outcome.Failure);
        throw new ShardBatchFailureException(outcome.Failure ?? "no result", outcome.Transport);
    }

    private static readonly TimeSpan TransientRetryPause = TimeSpan.FromMilliseconds(25);

    /// <summary>Failures of delivery (not of the shard's own work) that a second call can get past.</summary>
    internal static bool IsTransportFailure(Exception e) =>
        e is Orleans.Runtime.OrleansMessageRejectionException or Orleans.Runtime.Messaging.ConnectionFailedException or Orleans.Networking.Shared.SocketConnectionException
            or ShardBatchFailureException { Transport: true };

    /// <summary>
    /// Calls one shard: the first replica, then the next replica when the first has not answered
    /// within <see cref="ShoalOptions.HedgeDelay"/>, and at once when it has failed; the first
    /// successful answer wins and the others are cancelled. Each attempt takes the next replica, so
    /// a hedge never goes back to one that just failed (e.g. a replica on a killed silo that the
    /// cluster has not yet declared dead, which fails every call in microseconds).
    /// </summary>
    private async Task<ShardSearchResult> CallShardAsync(string index, int replicas, Func<int, CancellationToken, Task<ShardSearchResult>> call, CancellationToken cancellationToken)
    {
        if (replicas == 1) return await call(0, cancellationToken);
        using var attempts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var running = new List<Task<ShardSearchResult>>(replicas) { call(0, attempts.Token) };
        int next = 1;
        try
        {
            while (true)
            {
                var anyDone = Task.WhenAny(running);
                if (next < replicas && await Task.WhenAny(anyDone, Task.Delay(_options.HedgeDelay, attempts.Token)) != anyDone)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    ShoalTelemetry.HedgedRequests.Add(1, new KeyValuePair<string, object?>("index", index));
                    running.Add(call(next++, attempts.Token)); // slow: hedge
                    continue;
                }
                var done = await anyDone;
                running.Remove(done);
                if (done.IsCompletedSuccessfully) return await done;
                if (next < replicas) running.Add(call(next++, attempts.Token)); // failed: the next replica at once
                else if (running.Count == 0) return await done; // every replica failed: rethrow the last failure
            }
        }
        finally
        {
            await attempts.CancelAsync();
            foreach (var loser in running)
                _ = loser.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }

    private static SearchResponse Response(SearchRequest request, IndexInfo info, QueryPlan plan, Hit[] hits, Coverage coverage, Stopwatch clock) => new()
    {
        Channels = [.. plan.Channels.Select(c => c.Name)],
        Status = SearchStatus.Ok,
        Index = request.Index,
        Version = info.Version,
        Hits = hits,
        Coverage = coverage,
        TookMs = clock.Elapsed.TotalMilliseconds,
    };

    [LoggerMessage(Level = LogLevel.Warning, Message = "Index {Index}: shard {Shard} failed a search")]
    private static partial void LogShardFailed(ILogger logger, Exception error, string index, int shard);
}
