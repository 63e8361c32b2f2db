using System.Diagnostics;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans;
using Orleans.Concurrency;
using Shoal.Engine.Analysis;
using Shoal.Engine.Search;
using Shoal.Engine.Snapshots;
using Shoal.Engine.Sparse;
using Shoal.Engine.Text;
using Shoal.Grains.Contracts;
using Shoal.Grains.Diagnostics;
using Shoal.Grains.Hosting;
using Shoal.Grains.Shards;

namespace Shoal.Grains.Query;

/// <summary>
/// Scatter/gather: validates a search, analyses its text once, sends the analysed query to
/// every shard with a deadline, and merges the local top-k lists with a k-way merge. Shards
/// that fail or miss the deadline are reported in <see cref="Coverage"/>: a partial answer is
/// always flagged. Stateless, so Orleans scales activations with load on every silo; reentrant,
/// so an activation waiting on shards keeps taking new searches (a search's turns only plan and merge).
/// </summary>
[StatelessWorker]
[Reentrant]
public sealed partial class QueryCoordinatorGrain : Grain, IQueryCoordinatorGrain
{
    /// <summary>Longest query text accepted, in characters.</summary>
    public const int MaxTextLength = 16_384;

    /// <summary>Longest per-request deadline accepted.</summary>
    public static readonly TimeSpan MaxDeadline = TimeSpan.FromMinutes(1);

    /// <summary>Most entries in a sparse query vector.</summary>
    public const int MaxSparseTerms = 4096;

    /// <summary>Hits taken from each channel of a fused query when the request does not say (at least k).</summary>
    public const int DefaultFusionDepth = 100;

    private readonly ShoalOptions _options;
    private readonly ILogger<QueryCoordinatorGrain> _logger;
    private readonly IndexVersionCache _versions;
    private readonly ITextEncoderClient _encoder;

    /// <summary>Created by Orleans.</summary>
    public QueryCoordinatorGrain(IOptions<ShoalOptions> options, IndexVersionCache versions, ITextEncoderClient encoder, ILogger<QueryCoordinatorGrain> logger)
    {
        _versions = versions;
        _encoder = encoder;
        _options = options.Value;
        _logger = logger;
    }

    /// <summary>Null when the request's common fields are valid, else what is wrong with them.</summary>
    public static string? Validate(SearchRequest request, int maxK)
    {
        if (SnapshotCatalog.ValidateIndexName(request.Index) is { } nameError) return nameError;
        if (request.Text is not null && string.IsNullOrWhiteSpace(request.Text)) return "'text' must be a non-empty string.";
        foreach (var (field, text) in new[] { ("text", request.Text), ("bm25.text", request.Bm25?.Text), ("sparse.text", request.Sparse?.Text), ("dense.text", request.Dense?.Text) })
            if (text is not null && text.Length > MaxTextLength) return $"'{field}' is {text.Length} characters; the limit is {MaxTextLength}.";
        if (request.K < 1 || request.K > maxK) return $"'k' must be between 1 and {maxK} (got {request.K}).";
        if (request.DeadlineMs is { } d && (d < 1 || d > MaxDeadline.TotalMilliseconds))
            return $"'deadlineMs' must be between 1 and {MaxDeadline.TotalMilliseconds} (got {d}).";
        foreach (var (field, k) in new[] { ("bm25.k", request.Bm25?.K), ("sparse.k", request.Sparse?.K), ("dense.k", request.Dense?.K) })
            if (k is { } ck && (ck < 1 || ck > maxK)) return $"'{field}' must be between 1 and {maxK} (got {ck}).";
        if (request.Text is null && request.Channels is not null) return "'channels' says where 'text' goes, but the request has no 'text'.";
        if (request.Text is null && request.Bm25?.Text is null && request.Sparse?.HasQuery != true && request.Dense?.HasQuery != true)
            return "Give 'text', or a channel query: 'sparse' with a vector or 'dense' with a vector.";
        return null;
    }

    /// <inheritdoc />
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

        IndexInfo? info;
        try
        {
            info = await GetIndexInfoAsync(request.Index, cancellationToken);
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
            plan = await PlanAsync(request, entry.Manifest.Schema, entry.Vocabulary, cancellationToken);
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

        bool fused = plan.Channels.Count > 1;
        var shardQuery = plan.ShardQuery with { Version = info.Version, IncludeStored = request.IncludeStored && !fused };
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(deadline);
        var calls = new Task<ShardSearchResult>[info.ShardCount];
        int replicas = Math.Max(1, info.Replicas);
        int first = Random.Shared.Next(replicas); // spread load over replicas
        for (int s = 0; s < calls.Length; s++)
        {
            int shard = s;
            calls[s] = CallShardAsync(request.Index, replicas, (attempt, ct) => RetryTransientAsync(
                () => GrainFactory.GetGrain<IShardGrain>(ShardGrain.KeyOf(request.Index, shard, (first + attempt) % replicas)).SearchAsync(shardQuery, ct), ct), cts.Token);
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
        await cts.CancelAsync();

        var perChannel = new List<IReadOnlyList<SearchHit>>[plan.Channels.Count];
        for (int c = 0; c < perChannel.Length; c++) perChannel[c] = new List<IReadOnlyList<SearchHit>>(calls.Length);
        var missing = new List<int>();
        var reasons = new List<string>();
        long answeredVersion = info.Version, newestVersion = info.Version;
        var shardOf = fused ? new Dictionary<string, int>(StringComparer.Ordinal) : null;
        for (int s = 0; s < calls.Length; s++)
        {
            if (calls[s].IsCompletedSuccessfully)
            {
                var result = await calls[s]; // completed (checked above): no wait
                answeredVersion = Math.Min(answeredVersion, result.Version);
                newestVersion = Math.Max(newestVersion, result.Version);
                for (int c = 0; c < plan.Channels.Count; c++)
                {
                    var hits = result.Of(plan.Channels[c].Name) ?? [];
                    var list = new SearchHit[hits.Length];
                    for (int i = 0; i < hits.Length; i++)
                    {
                        list[i] = new SearchHit(hits[i].Id, hits[i].Score, hits[i].Title, hits[i].Snippet);
                        shardOf?.TryAdd(hits[i].Id, s);
                    }
                    perChannel[c].Add(list);
                }
            }
            else
            {
                missing.Add(s);
                if (calls[s].IsFaulted)
                {
                    var cause = calls[s].Exception!.GetBaseException();
                    LogShardFailed(_logger, cause, request.Index, s);
                    reasons.Add(cause is OperationCanceledException
                        ? $"shard {s}: cancelled at the deadline ({deadline.TotalMilliseconds:0} ms)"
                        : $"shard {s}: failed ({cause.GetType().Name}: {cause.Message})");
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
            return await SearchCoreAsync(request, cancellationToken, refreshed: true);
        }

        IReadOnlyList<SearchHit> final;
        IReadOnlyList<SearchHit>[]? channelLists = null;
        if (!fused)
        {
            final = TopKMerge.Merge(perChannel[0], request.K);
        }
        else
        {
            var lists = new IReadOnlyList<SearchHit>[plan.Channels.Count];
            var weights = new double[plan.Channels.Count];
            for (int c = 0; c < lists.Length; c++)
            {
                lists[c] = TopKMerge.Merge(perChannel[c], plan.Channels[c].K);
                weights[c] = plan.Channels[c].Weight;
            }
            final = plan.Fusion == "weighted"
                ? Fusion.WeightedSum(lists, request.K, weights)
                : Fusion.ReciprocalRank(lists, request.K, plan.RankConstant, weights);
            channelLists = lists;
        }

        var result2 = new Hit[final.Count];
        var ranks = RanksOf(final, channelLists);
        for (int i = 0; i < result2.Length; i++)
            result2[i] = new Hit { Id = final[i].Id, Score = final[i].Score, Title = final[i].Title, Snippet = final[i].Snippet, Ranks = ranks[i] };
        if (fused && request.IncludeStored && result2.Length > 0)
            result2 = await FetchStoredAsync(request.Index, info.Version, replicas, result2, shardOf!, deadline - clock.Elapsed, cancellationToken);

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
    /// Each final hit's 1-based rank in every channel's merged list (0 when that channel did not
    /// return it); a single-channel answer ranks by position.
    /// </summary>
    private static int[][] RanksOf(IReadOnlyList<SearchHit> final, IReadOnlyList<SearchHit>[]? channelLists)
    {
        var ranks = new int[final.Count][];
        if (channelLists is null)
        {
            for (int i = 0; i < ranks.Length; i++) ranks[i] = [i + 1];
            return ranks;
        }
        var positions = new Dictionary<string, int>[channelLists.Length];
        for (int c = 0; c < channelLists.Length; c++)
        {
            positions[c] = new Dictionary<string, int>(channelLists[c].Count, StringComparer.Ordinal);
            for (int r = 0; r < channelLists[c].Count; r++) positions[c].TryAdd(channelLists[c][r].Id, r + 1);
        }
        for (int i = 0; i < ranks.Length; i++)
        {
            ranks[i] = new int[channelLists.Length];
            for (int c = 0; c < channelLists.Length; c++)
                ranks[i][c] = positions[c].TryGetValue(final[i].Id, out int r) ? r : 0;
        }
        return ranks;
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
        var fetches = byShard.Select(g => GrainFactory.GetGrain<IShardGrain>(ShardGrain.KeyOf(index, g.Key, Random.Shared.Next(replicas)))
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

    /// <summary>One channel of a planned query: its name, depth and fusion weight.</summary>
    private sealed record PlannedChannel(string Name, int K, double Weight);

    /// <summary>A validated, resolved query: the channels that take part and what every shard is asked.</summary>
    private sealed record QueryPlan(IReadOnlyList<PlannedChannel> Channels, ShardQuery ShardQuery, string Fusion, int RankConstant)
    {
        public bool HasWork => ShardQuery.Bm25 is not null || ShardQuery.Sparse is not null || ShardQuery.Dense is not null;
    }

    /// <summary>A request that cannot run against this index; the message says why.</summary>
    private sealed class QueryException(string message) : Exception(message);

    private async Task<QueryPlan> PlanAsync(SearchRequest request, IndexSchema schema, SparseVocabulary? vocabulary, CancellationToken cancellationToken)
    {
        var has = schema.ChannelNames();
        string hasList = string.Join(", ", has);
        bool TakesText(string c) => c switch
        {
            IndexChannels.Text => schema.Text is not null,
            IndexChannels.Sparse => schema.Sparse?.Encoder is not null,
            IndexChannels.Dense => schema.Dense?.Encoder is not null,
            _ => false,
        };

        // Where the request's text goes.
        var textTargets = new HashSet<string>(StringComparer.Ordinal);
        if (request.Text is not null)
        {
            if (request.Channels is { } named)
            {
                if (named.Length == 0) throw new QueryException("'channels' must name at least one channel (bm25, sparse or dense).");
                foreach (var c in named)
                {
                    if (!IndexChannels.All.Contains(c)) throw new QueryException($"Unknown channel '{c}' in 'channels'; channels are bm25, sparse and dense.");
                    if (!has.Contains(c)) throw new QueryException($"Index '{request.Index}' has no {c} channel (it has: {hasList}).");
                    if (!TakesText(c)) throw new QueryException($"The {c} channel of index '{request.Index}' has no encoder, so it cannot take text; send a 'vector' in '{c}'.");
                    textTargets.Add(c);
                }
            }
            else
            {
                foreach (var c in has) if (TakesText(c)) textTargets.Add(c);
                if (textTargets.Count == 0 && request.Bm25 is null && request.Sparse?.HasQuery != true && request.Dense?.HasQuery != true)
                    throw new QueryException($"Index '{request.Index}' has no channel that takes text (it has: {hasList}, without encoders); send a vector in 'sparse' or 'dense'.");
            }
        }

        void CheckPresent(string c, bool asked)
        {
            if (asked && !has.Contains(c)) throw new QueryException($"Index '{request.Index}' has no {c} channel (it has: {hasList}).");
        }
        CheckPresent(IndexChannels.Text, request.Bm25 is not null);
        CheckPresent(IndexChannels.Sparse, request.Sparse is not null);
        CheckPresent(IndexChannels.Dense, request.Dense is not null);

        bool useBm25 = textTargets.Contains(IndexChannels.Text) || request.Bm25?.Text is not null;
        bool useSparse = textTargets.Contains(IndexChannels.Sparse) || request.Sparse?.HasQuery == true;
        bool useDense = textTargets.Contains(IndexChannels.Dense) || request.Dense?.HasQuery == true;
        if (request.Bm25 is not null && !useBm25) throw new QueryException("'bm25' has no query: give 'text'.");
        if (request.Sparse is not null && !useSparse) throw new QueryException("'sparse' has no query: give 'vector' (token weights), 'termIds' and 'weights', or 'text'.");
        if (request.Dense is not null && !useDense) throw new QueryException("'dense' has no query: give 'vector' or 'text'.");

        int count = (useBm25 ? 1 : 0) + (useSparse ? 1 : 0) + (useDense ? 1 : 0);
        bool fused = count > 1;
        int DepthOf(int? k) => k ?? (fused ? Math.Min(_options.MaxK, Math.Max(request.K, DefaultFusionDepth)) : request.K);

        // Fusion.
        string method = request.Fusion?.Method ?? "rrf";
        if (method is not ("rrf" or "weighted")) throw new QueryException($"'fusion.method' must be 'rrf' or 'weighted' (got '{method}').");
        int rankConstant = request.Fusion?.RankConstant ?? Fusion.DefaultRrfK;
        if (rankConstant < 1 || rankConstant > 100_000) throw new QueryException($"'fusion.rankConstant' must be between 1 and 100000 (got {rankConstant}).");
        var weights = request.Fusion?.Weights ?? [];
        foreach (var (c, w) in weights)
        {
            if (!IndexChannels.All.Contains(c)) throw new QueryException($"'fusion.weights' names unknown channel '{c}'.");
            if (!double.IsFinite(w) || w < 0) throw new QueryException($"'fusion.weights.{c}' must be finite and >= 0 (got {w}).");
        }
        double WeightOf(string c) => weights.TryGetValue(c, out double w) ? w : 1.0;

        var channels = new List<PlannedChannel>(3);
        var query = new ShardQuery();
        if (useBm25)
        {
            int k = DepthOf(request.Bm25?.K);
            channels.Add(new PlannedChannel(IndexChannels.Text, k, WeightOf(IndexChannels.Text)));
            var analysed = TextQuery.FromTokens(EnglishAnalyzer.Instance.Analyze(request.Bm25?.Text ?? request.Text!));
            if (!analysed.IsEmpty) query = query with { Bm25 = new ShardTextQuery { Terms = [.. analysed.Terms], Weights = [.. analysed.Weights], K = k } };
        }
        if (useSparse)
        {
            var spec = request.Sparse ?? new SparseQuerySpec();
            int k = DepthOf(spec.K);
            channels.Add(new PlannedChannel(IndexChannels.Sparse, k, WeightOf(IndexChannels.Sparse)));
            var vector = await SparseVectorOfAsync(request, spec, schema.Sparse!, vocabulary!, cancellationToken);
            int cut = spec.QueryTermCut ?? SeismicSearchParameters.Default.QueryTermCut;
            double heap = spec.HeapFactor ?? SeismicSearchParameters.Default.HeapFactor;
            if (cut < 1 || cut > 65_536) throw new QueryException($"'sparse.queryTermCut' must be between 1 and 65536 (got {cut}).");
            if (!double.IsFinite(heap) || heap <= 0 || heap > 1000) throw new QueryException($"'sparse.heapFactor' must be in (0, 1000] (got {heap}).");
            if (vector.Count > 0)
            {
                query = query with
                {
                    Sparse = new ShardSparseQuery
                    {
                        Terms = vector.Terms, Weights = vector.Weights, K = k, Exact = spec.Exact ?? false, QueryTermCut = cut, HeapFactor = heap,
                    },
                };
            }
        }
        if (useDense)
        {
            var spec = request.Dense ?? new DenseQuerySpec();
            int k = DepthOf(spec.K);
            channels.Add(new PlannedChannel(IndexChannels.Dense, k, WeightOf(IndexChannels.Dense)));
            var dense = schema.Dense!;
            int ef = spec.Ef ?? 0;
            if (spec.Ef is { } e && (e < 1 || e > _options.MaxEf)) throw new QueryException($"'dense.ef' must be between 1 and {_options.MaxEf} (got {e}).");
            byte[] packed = await DenseVectorOfAsync(request, spec, dense, cancellationToken);
            query = query with
            {
                Dense = new ShardDenseQuery { Vector = packed, K = k, Exact = (spec.Exact ?? false) || dense.Index == "flat", Ef = ef },
            };
        }
        return new QueryPlan(channels, query, method, rankConstant);
    }

    private async Task<SparseVector> SparseVectorOfAsync(SearchRequest request, SparseQuerySpec spec, SparseChannelSchema schema, SparseVocabulary vocabulary, CancellationToken cancellationToken)
    {
        int given = (spec.Tokens is not null ? 1 : 0) + (spec.TermIds is not null ? 1 : 0) + (spec.Text is not null ? 1 : 0);
        if (given > 1) throw new QueryException("'sparse' takes one of 'vector' (token weights), 'termIds' with 'weights', or 'text'.");
        try
        {
            if (spec.Tokens is { } tokens)
            {
                var weights = spec.TokenWeights ?? throw new QueryException("'sparse' token weights are missing.");
                if (weights.Length != tokens.Length) throw new QueryException($"'sparse' has {tokens.Length} tokens but {weights.Length} weights.");
                if (tokens.Length > MaxSparseTerms) throw new QueryException($"'sparse.vector' has {tokens.Length} entries; the limit is {MaxSparseTerms}.");
                var pairs = new KeyValuePair<string, float>[tokens.Length];
                for (int i = 0; i < tokens.Length; i++) pairs[i] = new(tokens[i], weights[i]);
                return vocabulary.Encode(pairs);
            }
            if (spec.TermIds is { } ids)
            {
                var weights = spec.Weights ?? throw new QueryException("'sparse.termIds' needs 'sparse.weights'.");
                if (weights.Length != ids.Length) throw new QueryException($"'sparse' has {ids.Length} term ids but {weights.Length} weights.");
                if (ids.Length > MaxSparseTerms) throw new QueryException($"'sparse.termIds' has {ids.Length} entries; the limit is {MaxSparseTerms}.");
                var pairs = new List<(int, float)>(ids.Length);
                for (int i = 0; i < ids.Length; i++)
                {
                    if (ids[i] < 0 || ids[i] >= vocabulary.Count) throw new QueryException($"Term id {ids[i]} is outside the index vocabulary (0..{vocabulary.Count - 1}).");
                    if (!float.IsFinite(weights[i]) || weights[i] < 0) throw new QueryException($"Term id {ids[i]} has weight {weights[i]}; weights must be finite and >= 0.");
                    if (weights[i] > 0) pairs.Add((ids[i], weights[i]));
                }
                return SparseVector.Create(pairs);
            }
        }
        catch (SparseVectorException e)
        {
            throw new QueryException($"Invalid sparse query vector: {e.Message}");
        }
        string encoder = schema.Encoder ?? throw new QueryException($"The sparse channel of index '{request.Index}' has no encoder, so it cannot take text; send a 'vector'.");
        return (await _encoder.EncodeSparseAsync(encoder, [spec.Text ?? request.Text!], Shoal.Encoders.TextRole.Query, cancellationToken))[0];
    }

    private async Task<byte[]> DenseVectorOfAsync(SearchRequest request, DenseQuerySpec spec, DenseChannelSchema schema, CancellationToken cancellationToken)
    {
        if (spec.Vector is not null && spec.Text is not null) throw new QueryException("'dense' takes one of 'vector' or 'text'.");
        float[] vector;
        if (spec.Vector is { } packed)
        {
            if (packed.Length != schema.Dims * sizeof(float))
                throw new QueryException($"'dense.vector' has {packed.Length / sizeof(float)} dimensions; index '{request.Index}' has {schema.Dims}.");
            vector = MemoryMarshal.Cast<byte, float>(packed).ToArray();
        }
        else
        {
            string encoder = schema.Encoder ?? throw new QueryException($"The dense channel of index '{request.Index}' has no encoder, so it cannot take text; send a 'vector'.");
            vector = (await _encoder.EncodeDenseAsync(encoder, [spec.Text ?? request.Text!], Shoal.Encoders.TextRole.Query, cancellationToken))[0];
            if (vector.Length != schema.Dims)
                throw new QueryException($"Encoder '{encoder}' gives {vector.Length} dimensions; index '{request.Index}' has {schema.Dims}.");
        }
        bool zero = true;
        for (int i = 0; i < vector.Length; i++)
        {
            if (!float.IsFinite(vector[i])) throw new QueryException($"'dense.vector' has a non-finite value at dimension {i}.");
            zero &= vector[i] == 0;
        }
        if (zero && schema.Metric == "cosine") throw new QueryException("'dense.vector' is all zeros, which has no cosine similarity.");
        return MemoryMarshal.AsBytes(vector.AsSpan()).ToArray();
    }

    private static SearchResponse Invalid(SearchRequest request, string error) =>
        new() { Status = SearchStatus.Invalid, Error = error, Index = request.Index };

    /// <summary>
    /// Calls a replica, and once more after a short pause when the call failed in transport: the
    /// message was rejected or the connection lost because the replica's silo is stopping or
    /// moving the activation (a graceful leave, a rebalance). The second call reaches the
    /// activation wherever the directory now places it. Errors from the shard itself are not retried.
    /// </summary>
    private static async Task<ShardSearchResult> RetryTransientAsync(Func<Task<ShardSearchResult>> call, CancellationToken cancellationToken)
    {
        try
        {
            return await call();
        }
        catch (Exception e) when (IsTransportFailure(e) && !cancellationToken.IsCancellationRequested)
        {
            await Task.Delay(TransientRetryPause, cancellationToken);
            return await call();
        }
    }

    private static readonly TimeSpan TransientRetryPause = TimeSpan.FromMilliseconds(25);

    /// <summary>Failures of delivery (not of the shard's own work) that a second call can get past.</summary>
    internal static bool IsTransportFailure(Exception e) =>
        e is Orleans.Runtime.OrleansMessageRejectionException or Orleans.Runtime.Messaging.ConnectionFailedException or Orleans.Networking.Shared.SocketConnectionException;

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
