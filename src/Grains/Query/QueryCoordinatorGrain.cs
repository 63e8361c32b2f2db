using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans;
using Orleans.Concurrency;
using Polly;
using Polly.Hedging;
using Shoal.Engine.Analysis;
using Shoal.Engine.Search;
using Shoal.Engine.Snapshots;
using Shoal.Engine.Text;
using Shoal.Grains.Contracts;
using Shoal.Grains.Hosting;
using Shoal.Grains.Shards;

namespace Shoal.Grains.Query;

/// <summary>
/// Scatter/gather: validates a search, analyses its text once, sends the analysed query to
/// every shard with a deadline, and merges the local top-k lists with a k-way merge. Shards
/// that fail or miss the deadline are reported in <see cref="Coverage"/>: a partial answer is
/// always flagged. Stateless, so Orleans scales activations with load on every silo.
/// </summary>
[StatelessWorker]
public sealed partial class QueryCoordinatorGrain : Grain, IQueryCoordinatorGrain
{
    /// <summary>Longest query text accepted, in characters.</summary>
    public const int MaxTextLength = 16_384;

    /// <summary>Longest per-request deadline accepted.</summary>
    public static readonly TimeSpan MaxDeadline = TimeSpan.FromMinutes(1);

    private static readonly ResiliencePropertyKey<Func<int, CancellationToken, Task<ShardSearchResult>>> ReplicaCall = new("shoal.replica-call");
    private readonly ShoalOptions _options;
    private readonly ILogger<QueryCoordinatorGrain> _logger;
    private readonly Dictionary<int, ResiliencePipeline<ShardSearchResult>> _hedging = [];

    /// <summary>Created by Orleans.</summary>
    public QueryCoordinatorGrain(IOptions<ShoalOptions> options, ILogger<QueryCoordinatorGrain> logger)
    {
        _options = options.Value;
        _logger = logger;
    }

    /// <summary>Null when the request is valid, else what is wrong with it.</summary>
    public static string? Validate(SearchRequest request, int maxK)
    {
        if (SnapshotCatalog.ValidateIndexName(request.Index) is { } nameError) return nameError;
        if (string.IsNullOrWhiteSpace(request.Text)) return "'text' must be a non-empty string.";
        if (request.Text.Length > MaxTextLength) return $"'text' is {request.Text.Length} characters; the limit is {MaxTextLength}.";
        if (request.K < 1 || request.K > maxK) return $"'k' must be between 1 and {maxK} (got {request.K}).";
        if (request.DeadlineMs is { } d && (d < 1 || d > MaxDeadline.TotalMilliseconds))
            return $"'deadlineMs' must be between 1 and {MaxDeadline.TotalMilliseconds} (got {d}).";
        return null;
    }

    /// <inheritdoc />
    public async Task<SearchResponse> SearchAsync(SearchRequest request, CancellationToken cancellationToken = default)
    {
        var clock = Stopwatch.StartNew();
        if (Validate(request, _options.MaxK) is { } error)
            return new SearchResponse { Status = SearchStatus.Invalid, Error = error, Index = request.Index };

        var info = await GrainFactory.GetGrain<IIndexGrain>(request.Index).GetInfoAsync();
        if (info is null || info.Version == 0)
        {
            string why = info is null
                ? $"Index '{request.Index}' does not exist."
                : $"Index '{request.Index}' has no published version yet (build {info.Ingest?.State}).";
            return new SearchResponse { Status = SearchStatus.IndexNotFound, Error = why, Index = request.Index };
        }

        var query = TextQuery.FromTokens(EnglishAnalyzer.Instance.Analyze(request.Text));
        var deadline = request.DeadlineMs is { } ms ? TimeSpan.FromMilliseconds(ms) : _options.DefaultDeadline;
        if (query.IsEmpty)
        {
            // Nothing left after analysis (e.g. only stopwords): every shard would answer "no match".
            return Response(request, info, [], new Coverage { Shards = info.ShardCount, Answered = info.ShardCount }, clock);
        }

        var shardQuery = new ShardTextQuery
        {
            Terms = [.. query.Terms],
            Weights = [.. query.Weights],
            K = request.K,
            Version = info.Version,
            IncludeStored = request.IncludeStored,
        };

        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(deadline);
        var calls = new Task<ShardSearchResult>[info.ShardCount];
        int replicas = Math.Max(1, info.Replicas);
        int first = Random.Shared.Next(replicas); // spread load over replicas
        for (int s = 0; s < calls.Length; s++)
        {
            int shard = s;
            calls[s] = CallShardAsync(replicas, (attempt, ct) =>
                GrainFactory.GetGrain<IShardGrain>(ShardGrain.KeyOf(request.Index, shard, (first + attempt) % replicas)).SearchTextAsync(shardQuery, ct), cts.Token);
        }

        try
        {
            await Task.WhenAll(calls).WaitAsync(deadline, cancellationToken);
        }
        catch (Exception) when (!cancellationToken.IsCancellationRequested)
        {
            // Deadline passed or some shard failed: answer with what arrived, and say so below.
        }
        cancellationToken.ThrowIfCancellationRequested();
        await cts.CancelAsync();

        var lists = new List<IReadOnlyList<SearchHit>>(calls.Length);
        var missing = new List<int>();
        for (int s = 0; s < calls.Length; s++)
        {
            if (calls[s].IsCompletedSuccessfully)
            {
                var hits = calls[s].Result.Hits;
                var list = new SearchHit[hits.Length];
                for (int i = 0; i < hits.Length; i++) list[i] = new SearchHit(hits[i].Id, hits[i].Score, hits[i].Title, hits[i].Snippet);
                lists.Add(list);
            }
            else
            {
                missing.Add(s);
                if (calls[s].IsFaulted) LogShardFailed(_logger, calls[s].Exception!.GetBaseException(), request.Index, s);
                else _ = calls[s].ContinueWith(static t => _ = t.Exception, TaskScheduler.Default); // observe late faults
            }
        }

        var merged = TopKMerge.Merge(lists, request.K);
        var result = new Hit[merged.Count];
        for (int i = 0; i < result.Length; i++)
            result[i] = new Hit { Id = merged[i].Id, Score = merged[i].Score, Title = merged[i].Title, Snippet = merged[i].Snippet };
        var coverage = new Coverage
        {
            Shards = calls.Length,
            Answered = calls.Length - missing.Count,
            Partial = missing.Count > 0,
            Missing = [.. missing],
        };
        return Response(request, info, result, coverage, clock);
    }

    /// <summary>
    /// Calls one shard: the first replica, then (Polly hedging) the next replica when the first
    /// has not answered within <see cref="ShoalOptions.HedgeDelay"/> or has failed; the first
    /// successful answer wins and the others are cancelled.
    /// </summary>
    private async Task<ShardSearchResult> CallShardAsync(int replicas, Func<int, CancellationToken, Task<ShardSearchResult>> call, CancellationToken cancellationToken)
    {
        if (replicas == 1) return await call(0, cancellationToken);
        if (!_hedging.TryGetValue(replicas, out var pipeline))
        {
            pipeline = new ResiliencePipelineBuilder<ShardSearchResult>()
                .AddHedging(new HedgingStrategyOptions<ShardSearchResult>
                {
                    MaxHedgedAttempts = replicas - 1,
                    Delay = _options.HedgeDelay,
                    ShouldHandle = new PredicateBuilder<ShardSearchResult>().Handle<Exception>(e => e is not OperationCanceledException),
                    ActionGenerator = args =>
                    {
                        var replicaCall = args.ActionContext.Properties.GetValue(ReplicaCall, null!);
                        int attempt = args.AttemptNumber;
                        return async () =>
                        {
                            try { return Outcome.FromResult(await replicaCall(attempt, args.ActionContext.CancellationToken)); }
                            catch (Exception e) { return Outcome.FromException<ShardSearchResult>(e); }
                        };
                    },
                })
                .Build();
            _hedging[replicas] = pipeline;
        }
        var context = ResilienceContextPool.Shared.Get(cancellationToken);
        try
        {
            context.Properties.Set(ReplicaCall, call);
            return await pipeline.ExecuteAsync(static async (ctx, c) => await c(0, ctx.CancellationToken), context, call);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    private static SearchResponse Response(SearchRequest request, IndexInfo info, Hit[] hits, Coverage coverage, Stopwatch clock) => new()
    {
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
