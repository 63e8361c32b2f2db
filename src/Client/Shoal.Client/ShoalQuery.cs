namespace Shoal.Client;

/// <summary>
/// A search made with the typed builder, so that a query the gateway would refuse for its shape
/// cannot be written: each channel appears at most once, a sparse vector is token weights or
/// term ids with weights of the same length (never both), exact search takes no approximate
/// knobs, HNSW's <c>ef</c> goes only with approximate dense search, fusion exists only on a
/// <see cref="HybridQuery"/> of two or three channels, and fusion weights name only its channels.
/// Values are checked when a clause is made, against the same limits the gateway applies
/// (<see cref="ShoalLimits"/>): non-empty text of at most 16,384 characters, depths 1..1000,
/// finite non-negative sparse weights, no repeated term id, at most 4096 sparse entries, a query
/// term cut up to 65,536 and a heap factor in (0, 1000], finite vectors. A bad value throws an
/// <see cref="ArgumentException"/> (or <see cref="ArgumentOutOfRangeException"/>) at the line that made it.
/// Checks that need the index (vocabulary, dimensions, whether it has an encoder) stay with the gateway.
/// <code>
/// var query = ShoalQuery.Hybrid(
///         Bm25Clause.For("what causes tides"),
///         DenseClause.Vector(embedding, DenseSearch.Hnsw(ef: 64)))
///     .FusedBy(Fusion.Rrf()) with { K = 10 };
/// var results = await client.SearchAsync("docs", query);
/// </code>
/// </summary>
public abstract record ShoalQuery
{
    private readonly int _k = 10;
    private readonly int? _deadlineMs;

    private protected ShoalQuery()
    {
    }

    /// <summary>Hits to return (1..<see cref="ShoalLimits.MaxK"/>, default 10).</summary>
    public int K
    {
        get => _k;
        init
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(value, ShoalLimits.MaxK);
            _k = value;
        }
    }

    /// <summary>Deadline in milliseconds (1..<see cref="ShoalLimits.MaxDeadlineMs"/>); shards that miss it are reported in the coverage. Null uses the server's.</summary>
    public int? DeadlineMs
    {
        get => _deadlineMs;
        init
        {
            if (value is { } ms)
            {
                ArgumentOutOfRangeException.ThrowIfLessThan(ms, 1);
                ArgumentOutOfRangeException.ThrowIfGreaterThan(ms, ShoalLimits.MaxDeadlineMs);
            }
            _deadlineMs = value;
        }
    }

    /// <summary>Return title and snippet with each hit (default true).</summary>
    public bool IncludeStored { get; init; } = true;

    /// <summary>Text to every channel of the index that takes it (bm25, and sparse/dense channels with an encoder), fused when several do.</summary>
    public static TextQuery Text(string text) => new(CheckText(text, nameof(text)));

    /// <summary>The bm25 channel alone.</summary>
    public static ChannelQuery Bm25(string text, int? k = null) => new(Bm25Clause.For(text, k));

    /// <summary>The bm25 channel alone.</summary>
    public static ChannelQuery Bm25(Bm25Clause clause) => new(clause ?? throw new ArgumentNullException(nameof(clause)));

    /// <summary>The learned-sparse channel alone.</summary>
    public static ChannelQuery Sparse(SparseClause clause) => new(clause ?? throw new ArgumentNullException(nameof(clause)));

    /// <summary>The dense channel alone.</summary>
    public static ChannelQuery Dense(DenseClause clause) => new(clause ?? throw new ArgumentNullException(nameof(clause)));

    /// <summary>bm25 and sparse, fused (reciprocal rank fusion unless <see cref="HybridQuery.FusedBy"/> says otherwise).</summary>
    public static HybridQuery Hybrid(Bm25Clause bm25, SparseClause sparse) => new(Required(bm25), Required(sparse), null);

    /// <summary>bm25 and dense, fused.</summary>
    public static HybridQuery Hybrid(Bm25Clause bm25, DenseClause dense) => new(Required(bm25), null, Required(dense));

    /// <summary>sparse and dense, fused.</summary>
    public static HybridQuery Hybrid(SparseClause sparse, DenseClause dense) => new(null, Required(sparse), Required(dense));

    /// <summary>All three channels, fused.</summary>
    public static HybridQuery Hybrid(Bm25Clause bm25, SparseClause sparse, DenseClause dense) => new(Required(bm25), Required(sparse), Required(dense));

    /// <summary>The request body this query sends.</summary>
    public abstract SearchQuery ToSearchQuery();

    /// <summary>The settings shared by every query, on a new request body.</summary>
    private protected SearchQuery Base(string? text = null) => new(text, K, DeadlineMs, IncludeStored);

    private static T Required<T>(T clause) where T : class => clause ?? throw new ArgumentNullException(typeof(T).Name);

    internal static string CheckText(string text, string paramName)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(text, paramName);
        if (text.Length > ShoalLimits.MaxTextLength)
            throw new ArgumentException($"The text is {text.Length} characters; the gateway's limit is {ShoalLimits.MaxTextLength}.", paramName);
        return text;
    }

    internal static int? CheckDepth(int? k, string paramName)
    {
        if (k is { } depth && depth is < 1 or > ShoalLimits.MaxK)
            throw new ArgumentOutOfRangeException(paramName, depth, $"A channel's depth k must be between 1 and {ShoalLimits.MaxK}.");
        return k;
    }
}

/// <summary>Text to every channel of the index that takes text; made by <see cref="ShoalQuery.Text"/>.</summary>
public sealed record TextQuery : ShoalQuery
{
    internal TextQuery(string text) => Query = text;

    /// <summary>The text.</summary>
    public string Query { get; }

    /// <inheritdoc />
    public override SearchQuery ToSearchQuery() => Base(Query);
}

/// <summary>One channel's query; made by <see cref="ShoalQuery.Bm25(string, int?)"/>, <see cref="ShoalQuery.Sparse"/> or <see cref="ShoalQuery.Dense"/>.</summary>
public sealed record ChannelQuery : ShoalQuery
{
    internal ChannelQuery(ChannelClause clause) => Clause = clause;

    /// <summary>The channel's clause.</summary>
    public ChannelClause Clause { get; }

    /// <inheritdoc />
    public override SearchQuery ToSearchQuery() => Clause.AddTo(Base());
}

/// <summary>Two or three channels fused into one ranking; made by a <see cref="ShoalQuery.Hybrid(Bm25Clause, SparseClause)"/> overload.</summary>
public sealed record HybridQuery : ShoalQuery
{
    internal HybridQuery(Bm25Clause? bm25, SparseClause? sparse, DenseClause? dense)
    {
        Bm25Channel = bm25;
        SparseChannel = sparse;
        DenseChannel = dense;
    }

    /// <summary>The bm25 clause, if the query has one.</summary>
    public Bm25Clause? Bm25Channel { get; }

    /// <summary>The sparse clause, if the query has one.</summary>
    public SparseClause? SparseChannel { get; }

    /// <summary>The dense clause, if the query has one.</summary>
    public DenseClause? DenseChannel { get; }

    /// <summary>How the channels are fused (default reciprocal rank fusion, rank constant 60).</summary>
    public Fusion Fusion { get; private init; } = Fusion.Rrf();

    /// <summary>This query fused by <paramref name="fusion"/>.</summary>
    public HybridQuery FusedBy(Fusion fusion)
    {
        ArgumentNullException.ThrowIfNull(fusion);
        return this with { Fusion = fusion };
    }

    /// <inheritdoc />
    public override SearchQuery ToSearchQuery()
    {
        var query = Base();
        if (Bm25Channel is not null) query = Bm25Channel.AddTo(query);
        if (SparseChannel is not null) query = SparseChannel.AddTo(query);
        if (DenseChannel is not null) query = DenseChannel.AddTo(query);
        return query with { Fusion = Fusion.ToOptions(Bm25Channel is not null, SparseChannel is not null, DenseChannel is not null) };
    }
}

/// <summary>One channel's part of a query: <see cref="Bm25Clause"/>, <see cref="SparseClause"/> or <see cref="DenseClause"/>.</summary>
public abstract record ChannelClause
{
    private protected ChannelClause()
    {
    }

    /// <summary>Hits this channel contributes before fusion; null uses the server's default (max(k, 100) when fused).</summary>
    public int? K { get; private protected init; }

    internal abstract SearchQuery AddTo(SearchQuery query);
}

/// <summary>The bm25 channel's text.</summary>
public sealed record Bm25Clause : ChannelClause
{
    private Bm25Clause(string text) => Text = text;

    /// <summary>The query text.</summary>
    public string Text { get; }

    /// <summary>bm25 over <paramref name="text"/>, contributing <paramref name="k"/> hits.</summary>
    public static Bm25Clause For(string text, int? k = null) =>
        new(ShoalQuery.CheckText(text, nameof(text))) { K = ShoalQuery.CheckDepth(k, nameof(k)) };

    internal override SearchQuery AddTo(SearchQuery query) => query with { Bm25 = new Bm25Query(Text, K) };
}

/// <summary>How the sparse channel searches: <see cref="Exact"/> top-k, or <see cref="Approximate"/> (Seismic-style, with its knobs).</summary>
public sealed record SparseSearch
{
    private SparseSearch(bool exact, int? queryTermCut, double? heapFactor)
    {
        IsExact = exact;
        QueryTermCut = queryTermCut;
        HeapFactor = heapFactor;
    }

    /// <summary>Exact block-max top-k.</summary>
    public static SparseSearch Exact { get; } = new(true, null, null);

    /// <summary>Approximate search: <paramref name="queryTermCut"/> query terms whose blocks are visited (1..<see cref="ShoalLimits.MaxQueryTermCut"/>, server default 16), <paramref name="heapFactor"/> block pruning slack (in (0, <see cref="ShoalLimits.MaxHeapFactor"/>], default 1.75; larger is slower and more exact).</summary>
    /// <exception cref="ArgumentOutOfRangeException">A value outside those ranges, or a heap factor that is not finite.</exception>
    public static SparseSearch Approximate(int? queryTermCut = null, double? heapFactor = null)
    {
        if (queryTermCut is { } cut && cut is < 1 or > ShoalLimits.MaxQueryTermCut)
            throw new ArgumentOutOfRangeException(nameof(queryTermCut), cut, $"queryTermCut must be between 1 and {ShoalLimits.MaxQueryTermCut}.");
        if (heapFactor is { } heap && (!double.IsFinite(heap) || heap <= 0 || heap > ShoalLimits.MaxHeapFactor))
            throw new ArgumentOutOfRangeException(nameof(heapFactor), heap, $"heapFactor must be a finite number in (0, {ShoalLimits.MaxHeapFactor}].");
        return new(false, queryTermCut, heapFactor);
    }

    /// <summary>True for exact search.</summary>
    public bool IsExact { get; }

    /// <summary>Approximate search's query term cut.</summary>
    public int? QueryTermCut { get; }

    /// <summary>Approximate search's heap factor.</summary>
    public double? HeapFactor { get; }
}

/// <summary>The learned-sparse channel's query: token weights, term ids with weights, or text for the index's sparse encoder.</summary>
public sealed record SparseClause : ChannelClause
{
    private SparseClause(SparseQuery query) => Query = query;

    /// <summary>The channel's part of the request body.</summary>
    public SparseQuery Query { get; }

    /// <summary>Token weights over the index vocabulary (e.g. SPLADE's output): 1..<see cref="ShoalLimits.MaxSparseTerms"/> tokens, weights finite and &gt;= 0 (a zero weight is dropped by the gateway).</summary>
    /// <exception cref="ArgumentException">No tokens, too many, an empty token, or a weight that is negative or not finite.</exception>
    public static SparseClause Tokens(IReadOnlyDictionary<string, float> weights, SparseSearch? search = null, int? k = null)
    {
        ArgumentNullException.ThrowIfNull(weights);
        if (weights.Count == 0) throw new ArgumentException("A sparse query needs at least one token.", nameof(weights));
        if (weights.Count > ShoalLimits.MaxSparseTerms)
            throw new ArgumentException($"A sparse query has {weights.Count} tokens; the gateway's limit is {ShoalLimits.MaxSparseTerms}.", nameof(weights));
        foreach (var (token, weight) in weights)
        {
            ArgumentException.ThrowIfNullOrEmpty(token, nameof(weights));
            if (!float.IsFinite(weight) || weight < 0)
                throw new ArgumentException($"The weight of token '{token}' is {weight}; weights must be finite and >= 0.", nameof(weights));
        }
        return Make(new SparseQuery { Vector = new Dictionary<string, float>(weights, StringComparer.Ordinal) }, search, k);
    }

    /// <summary>Term ids of the index vocabulary with their weights (parallel lists of one length, 1..<see cref="ShoalLimits.MaxSparseTerms"/> entries): ids non-negative and distinct, weights finite and &gt;= 0 (a zero weight is dropped by the gateway).</summary>
    /// <exception cref="ArgumentException">The lists differ in length, are empty or too long, an id is negative or repeated, or a weight is negative or not finite.</exception>
    public static SparseClause TermIds(IReadOnlyList<int> termIds, IReadOnlyList<float> weights, SparseSearch? search = null, int? k = null)
    {
        ArgumentNullException.ThrowIfNull(termIds);
        ArgumentNullException.ThrowIfNull(weights);
        if (termIds.Count == 0) throw new ArgumentException("A sparse query needs at least one term.", nameof(termIds));
        if (termIds.Count != weights.Count)
            throw new ArgumentException($"termIds has {termIds.Count} entries but weights has {weights.Count}; they are parallel lists.", nameof(weights));
        if (termIds.Count > ShoalLimits.MaxSparseTerms)
            throw new ArgumentException($"A sparse query has {termIds.Count} term ids; the gateway's limit is {ShoalLimits.MaxSparseTerms}.", nameof(termIds));
        var seen = new HashSet<int>();
        for (int i = 0; i < termIds.Count; i++)
        {
            if (termIds[i] < 0) throw new ArgumentException($"termIds[{i}] is negative.", nameof(termIds));
            if (!seen.Add(termIds[i])) throw new ArgumentException($"Term id {termIds[i]} occurs more than once (termIds[{i}]).", nameof(termIds));
            if (!float.IsFinite(weights[i]) || weights[i] < 0)
                throw new ArgumentException($"weights[{i}] is {weights[i]}; weights must be finite and >= 0.", nameof(weights));
        }
        return Make(new SparseQuery { TermIds = [.. termIds], Weights = [.. weights] }, search, k);
    }

    /// <summary>Text for the index's sparse encoder (the index must have one).</summary>
    public static SparseClause Encode(string text, SparseSearch? search = null, int? k = null) =>
        Make(new SparseQuery { Text = ShoalQuery.CheckText(text, nameof(text)) }, search, k);

    private static SparseClause Make(SparseQuery query, SparseSearch? search, int? k)
    {
        if (search is not null)
            query = query with { Exact = search.IsExact, QueryTermCut = search.QueryTermCut, HeapFactor = search.HeapFactor };
        return new SparseClause(query with { K = ShoalQuery.CheckDepth(k, nameof(k)) }) { K = k };
    }

    internal override SearchQuery AddTo(SearchQuery query) => query with { Sparse = Query };
}

/// <summary>How the dense channel searches: <see cref="Exact"/> (a flat scan) or <see cref="Hnsw"/> (the graph, with its <c>ef</c>).</summary>
public sealed record DenseSearch
{
    private DenseSearch(bool exact, int? ef)
    {
        IsExact = exact;
        Ef = ef;
    }

    /// <summary>Exact top-k by a scan of every vector.</summary>
    public static DenseSearch Exact { get; } = new(true, null);

    /// <summary>Approximate search on the HNSW graph; <paramref name="ef"/> is the beam width (recall knob; null uses the server's).</summary>
    public static DenseSearch Hnsw(int? ef = null)
    {
        if (ef is { } beam) ArgumentOutOfRangeException.ThrowIfLessThan(beam, 1, nameof(ef));
        return new(false, ef);
    }

    /// <summary>True for exact search.</summary>
    public bool IsExact { get; }

    /// <summary>HNSW beam width.</summary>
    public int? Ef { get; }
}

/// <summary>The dense channel's query: a vector, or text for the index's dense encoder.</summary>
public sealed record DenseClause : ChannelClause
{
    private DenseClause(DenseQuery query) => Query = query;

    /// <summary>The channel's part of the request body.</summary>
    public DenseQuery Query { get; }

    /// <summary>A query vector of the index's dimensions.</summary>
    public static DenseClause Vector(ReadOnlySpan<float> vector, DenseSearch? search = null, int? k = null)
    {
        if (vector.IsEmpty) throw new ArgumentException("A dense query vector needs at least one dimension.", nameof(vector));
        for (int i = 0; i < vector.Length; i++)
            if (!float.IsFinite(vector[i])) throw new ArgumentException($"The vector has a non-finite value at dimension {i}.", nameof(vector));
        return Make(new DenseQuery(vector.ToArray()), search, k);
    }

    /// <summary>Text for the index's dense encoder (the index must have one).</summary>
    public static DenseClause Encode(string text, DenseSearch? search = null, int? k = null) =>
        Make(new DenseQuery(Text: ShoalQuery.CheckText(text, nameof(text))), search, k);

    private static DenseClause Make(DenseQuery query, DenseSearch? search, int? k)
    {
        if (search is not null) query = query with { Exact = search.IsExact, Ef = search.Ef };
        return new DenseClause(query with { K = ShoalQuery.CheckDepth(k, nameof(k)) }) { K = k };
    }

    internal override SearchQuery AddTo(SearchQuery query) => query with { Dense = Query };
}

/// <summary>How a <see cref="HybridQuery"/>'s channels become one ranking.</summary>
public sealed record Fusion
{
    private Fusion(string method, int? rankConstant, double bm25, double sparse, double dense)
    {
        Method = method;
        RankConstant = rankConstant;
        Bm25Weight = bm25;
        SparseWeight = sparse;
        DenseWeight = dense;
    }

    /// <summary>"rrf" or "weighted".</summary>
    public string Method { get; }

    /// <summary>Reciprocal rank fusion's rank constant.</summary>
    public int? RankConstant { get; }

    /// <summary>Weight of the bm25 channel.</summary>
    public double Bm25Weight { get; }

    /// <summary>Weight of the sparse channel.</summary>
    public double SparseWeight { get; }

    /// <summary>Weight of the dense channel.</summary>
    public double DenseWeight { get; }

    /// <summary>Reciprocal rank fusion: each channel adds weight / (rankConstant + rank) (rank constant 1..<see cref="ShoalLimits.MaxRankConstant"/>, default 60; weights ≥ 0, default 1).</summary>
    public static Fusion Rrf(int rankConstant = 60, double bm25Weight = 1, double sparseWeight = 1, double denseWeight = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rankConstant, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(rankConstant, ShoalLimits.MaxRankConstant);
        return new("rrf", rankConstant, CheckWeight(bm25Weight, nameof(bm25Weight)), CheckWeight(sparseWeight, nameof(sparseWeight)), CheckWeight(denseWeight, nameof(denseWeight)));
    }

    /// <summary>Weighted sum of each channel's min-max normalised scores (weights ≥ 0, default 1).</summary>
    public static Fusion Weighted(double bm25Weight = 1, double sparseWeight = 1, double denseWeight = 1) =>
        new("weighted", null, CheckWeight(bm25Weight, nameof(bm25Weight)), CheckWeight(sparseWeight, nameof(sparseWeight)), CheckWeight(denseWeight, nameof(denseWeight)));

    private static double CheckWeight(double weight, string paramName) =>
        double.IsFinite(weight) && weight >= 0 ? weight : throw new ArgumentOutOfRangeException(paramName, weight, "A fusion weight must be finite and >= 0.");

    /// <summary>The request's fusion, with weights only for the channels the query has.</summary>
    internal FusionOptions ToOptions(bool bm25, bool sparse, bool dense)
    {
        var weights = new Dictionary<string, double>(StringComparer.Ordinal);
        if (bm25) weights["bm25"] = Bm25Weight;
        if (sparse) weights["sparse"] = SparseWeight;
        if (dense) weights["dense"] = DenseWeight;
        return new FusionOptions(Method, RankConstant, weights);
    }
}
