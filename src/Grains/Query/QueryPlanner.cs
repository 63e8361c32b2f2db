using System.Runtime.InteropServices;
using Shoal.Engine.Analysis;
using Shoal.Engine.Search;
using Shoal.Engine.Snapshots;
using Shoal.Engine.Sparse;
using Shoal.Engine.Text;
using Shoal.Grains.Contracts;
using Shoal.Grains.Hosting;

namespace Shoal.Grains.Query;

/// <summary>One channel of a planned query: its name, depth and fusion weight.</summary>
internal sealed record PlannedChannel(string Name, int K, double Weight);

/// <summary>A validated, resolved query: the channels that take part and what every shard is asked.</summary>
internal sealed record QueryPlan(IReadOnlyList<PlannedChannel> Channels, ShardQuery ShardQuery, string Fusion, int RankConstant)
{
    /// <summary>True when some channel has a query left (a text of stopwords only leaves none).</summary>
    public bool HasWork => ShardQuery.Bm25 is not null || ShardQuery.Sparse is not null || ShardQuery.Dense is not null;

    /// <summary>More than one channel: their rankings are fused.</summary>
    public bool Fused => Channels.Count > 1;
}

/// <summary>A request that cannot run against this index; the message says why.</summary>
internal sealed class QueryException(string message) : Exception(message);

/// <summary>
/// Plans a search, apart from the coordinator grain's Orleans glue: validates the request's common
/// fields, decides which channels take part with what depth and weight and how they are fused,
/// analyses the text once, gets sparse and dense query vectors (checked against the served
/// version's vocabulary and dimensions, or from the channel's encoder) and builds the
/// <see cref="ShardQuery"/> every shard is asked. Plain class: no grain state, testable alone.
/// </summary>
internal sealed class QueryPlanner(ShoalOptions options, ITextEncoderClient encoder)
{
    private readonly ShoalOptions _options = options;
    private readonly ITextEncoderClient _encoder = encoder;

    /// <summary>Null when the request's common fields are valid, else what is wrong with them.</summary>
    public static string? Validate(SearchRequest request, int maxK)
    {
        if (SnapshotCatalog.ValidateIndexName(request.Index) is { } nameError) return nameError;
        if (request.Text is not null && string.IsNullOrWhiteSpace(request.Text)) return "'text' must be a non-empty string.";
        foreach (var (field, text) in new[] { ("text", request.Text), ("bm25.text", request.Bm25?.Text), ("sparse.text", request.Sparse?.Text), ("dense.text", request.Dense?.Text) })
            if (text is not null && text.Length > SearchCoordinator.MaxTextLength) return $"'{field}' is {text.Length} characters; the limit is {SearchCoordinator.MaxTextLength}.";
        if (request.K < 1 || request.K > maxK) return $"'k' must be between 1 and {maxK} (got {request.K}).";
        if (request.DeadlineMs is { } d && (d < 1 || d > SearchCoordinator.MaxDeadline.TotalMilliseconds))
            return $"'deadlineMs' must be between 1 and {SearchCoordinator.MaxDeadline.TotalMilliseconds} (got {d}).";
        foreach (var (field, k) in new[] { ("bm25.k", request.Bm25?.K), ("sparse.k", request.Sparse?.K), ("dense.k", request.Dense?.K) })
            if (k is { } ck && (ck < 1 || ck > maxK)) return $"'{field}' must be between 1 and {maxK} (got {ck}).";
        if (request.Text is null && request.Channels is not null) return "'channels' says where 'text' goes, but the request has no 'text'.";
        if (request.Text is null && request.Bm25?.Text is null && request.Sparse?.HasQuery != true && request.Dense?.HasQuery != true)
            return "Give 'text', or a channel query: 'sparse' with a vector or 'dense' with a vector.";
        return null;
    }

    /// <summary>
    /// Resolves <paramref name="request"/> against the served version's <paramref name="schema"/>
    /// (and sparse <paramref name="vocabulary"/>): where the text goes, each channel's depth and
    /// weight, the fusion, and each channel's query as every shard is asked it.
    /// </summary>
    /// <exception cref="QueryException">The request cannot run against this index.</exception>
    public async Task<QueryPlan> PlanAsync(SearchRequest request, IndexSchema schema, SparseVocabulary? vocabulary, CancellationToken cancellationToken)
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
        int DepthOf(int? k) => k ?? (fused ? Math.Min(_options.MaxK, Math.Max(request.K, SearchCoordinator.DefaultFusionDepth)) : request.K);

        // Fusion.
        string method = request.Fusion?.Method ?? "rrf";
        if (method is not ("rrf" or "weighted")) throw new QueryException($"'fusion.method' must be 'rrf' or 'weighted' (got '{method}').");
        int rankConstant = request.Fusion?.RankConstant ?? Fusion.DefaultRrfK;
        if (rankConstant < 1 || rankConstant > SearchCoordinator.MaxRankConstant) throw new QueryException($"'fusion.rankConstant' must be between 1 and {SearchCoordinator.MaxRankConstant} (got {rankConstant}).");
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
            if (cut < 1 || cut > SearchCoordinator.MaxQueryTermCut) throw new QueryException($"'sparse.queryTermCut' must be between 1 and {SearchCoordinator.MaxQueryTermCut} (got {cut}).");
            if (!double.IsFinite(heap) || heap <= 0 || heap > SearchCoordinator.MaxHeapFactor) throw new QueryException($"'sparse.heapFactor' must be in (0, {SearchCoordinator.MaxHeapFactor}] (got {heap}).");
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
                if (tokens.Length > SearchCoordinator.MaxSparseTerms) throw new QueryException($"'sparse.vector' has {tokens.Length} entries; the limit is {SearchCoordinator.MaxSparseTerms}.");
                var pairs = new KeyValuePair<string, float>[tokens.Length];
                for (int i = 0; i < tokens.Length; i++) pairs[i] = new(tokens[i], weights[i]);
                return vocabulary.Encode(pairs);
            }
            if (spec.TermIds is { } ids)
            {
                var weights = spec.Weights ?? throw new QueryException("'sparse.termIds' needs 'sparse.weights'.");
                if (weights.Length != ids.Length) throw new QueryException($"'sparse' has {ids.Length} term ids but {weights.Length} weights.");
                if (ids.Length > SearchCoordinator.MaxSparseTerms) throw new QueryException($"'sparse.termIds' has {ids.Length} entries; the limit is {SearchCoordinator.MaxSparseTerms}.");
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
        // The vector stays packed (float32 little-endian) from the HTTP body to the shard: a request's
        // vector is checked in place and sent as it came; an encoder's is packed once.
        byte[] packed;
        if (spec.Vector is { } given)
        {
            if (given.Length != schema.Dims * sizeof(float))
                throw new QueryException($"'dense.vector' has {given.Length / sizeof(float)} dimensions; index '{request.Index}' has {schema.Dims}.");
            packed = given;
        }
        else
        {
            string encoder = schema.Encoder ?? throw new QueryException($"The dense channel of index '{request.Index}' has no encoder, so it cannot take text; send a 'vector'.");
            float[] encoded = (await _encoder.EncodeDenseAsync(encoder, [spec.Text ?? request.Text!], Shoal.Encoders.TextRole.Query, cancellationToken))[0];
            if (encoded.Length != schema.Dims)
                throw new QueryException($"Encoder '{encoder}' gives {encoded.Length} dimensions; index '{request.Index}' has {schema.Dims}.");
            packed = MemoryMarshal.AsBytes(encoded.AsSpan()).ToArray();
        }
        var vector = MemoryMarshal.Cast<byte, float>(packed.AsSpan());
        bool zero = true;
        for (int i = 0; i < vector.Length; i++)
        {
            if (!float.IsFinite(vector[i])) throw new QueryException($"'dense.vector' has a non-finite value at dimension {i}.");
            zero &= vector[i] == 0;
        }
        if (zero && schema.Metric == "cosine") throw new QueryException("'dense.vector' is all zeros, which has no cosine similarity.");
        return packed;
    }
}
