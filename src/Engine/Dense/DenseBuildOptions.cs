namespace Shoal.Engine.Dense;

/// <summary>How <see cref="DenseSegmentWriter"/> builds a dense segment.</summary>
/// <param name="Dims">Dimensions of every vector (1 to 65,536).</param>
/// <param name="Metric">Scoring function; <see cref="DenseMetric.Cosine"/> normalises documents at build time.</param>
/// <param name="Storage">Vector encoding in the segment (see <see cref="DenseStorage"/> for the memory and accuracy
/// of each, and <see cref="StoreOriginals"/> for the float32 originals that int8 storage keeps by default).</param>
/// <param name="Hnsw">
/// Parameters of the HNSW graph; <see langword="null"/> means the defaults of <see cref="HnswParameters"/>.
/// Set <see cref="BuildAnnIndex"/> to <see langword="false"/> for a segment without a graph (exact search only).
/// </param>
/// <param name="Threads">Threads used to build the graph; 0 means all cores. With more than one thread
/// the graph depends on scheduling (recall does not, materially); with 1 it is fully deterministic.</param>
public sealed record DenseBuildOptions(
    int Dims,
    DenseMetric Metric = DenseMetric.Dot,
    DenseStorage Storage = DenseStorage.Float32,
    HnswParameters? Hnsw = null,
    int Threads = 0)
{
    /// <summary>Whether to build and store an HNSW graph (default true).</summary>
    public bool BuildAnnIndex { get; init; } = true;

    /// <summary>
    /// With a graph and <see cref="DenseStorage.Float32"/> or <see cref="DenseStorage.Float16"/> storage,
    /// also store an int8 copy of the vectors (per-vector scale, <c>dims + 4</c> bytes each) that graph
    /// searches traverse, reading a quarter (half) of the bytes per visited node; the final candidates
    /// (at least <c>k * </c><see cref="Oversample"/>) are rescored with the stored vectors (or the originals,
    /// <see cref="StoreOriginals"/>), so returned scores are exact. The builder uses the same copy
    /// for its searches. Default true; ignored for <see cref="DenseStorage.Int8"/>, whose rows are already int8
    /// (with originals they play the same part, at the same size).
    /// </summary>
    public bool Int8Navigation { get; init; } = true;

    /// <summary>The default of <see cref="Oversample"/>.</summary>
    public const float DefaultOversample = 4f;

    /// <summary>The least number of candidates a rescoring search takes when it oversamples (<c>oversample &gt; 1</c>).</summary>
    public const int MinOversampledCandidates = 16;

    /// <summary>
    /// <para>Whether a <see cref="DenseStorage.Int8"/> or <see cref="DenseStorage.Float16"/> segment also keeps the
    /// float32 originals (after normalisation for cosine) in a separate section, read only to rescore candidates:
    /// flat and graph searches rank by the compact rows, take the best <c>ceil(k * oversample)</c> (at least
    /// <see cref="MinOversampledCandidates"/> when oversampling, at most the document count), score those with the
    /// originals and return the top <c>k</c> with exact float32 scores, bit-identical to a
    /// <see cref="DenseStorage.Float32"/> segment's. The graph is then built over the originals too.</para>
    /// <para>Costs <c>4 * Dims</c> bytes per vector on disk; the originals are memory-mapped and touched only for
    /// the candidates (see <see cref="DenseStorage"/> for the full memory trade-off). <see langword="null"/> (the
    /// default) means true for <see cref="DenseStorage.Int8"/>, whose recall@10 needs it to reach 0.99, and false
    /// for <see cref="DenseStorage.Float16"/>, which reaches 0.99 without. Ignored for <see cref="DenseStorage.Float32"/>.</para>
    /// </summary>
    public bool? StoreOriginals { get; init; }

    /// <summary>Whether the segment will keep float32 originals: <see cref="StoreOriginals"/> resolved for <see cref="Storage"/>.</summary>
    public bool EffectiveStoreOriginals => Storage != DenseStorage.Float32 && (StoreOriginals ?? Storage == DenseStorage.Int8);

    /// <summary>
    /// The segment's default oversample factor (stored in it; each search may pass its own). A search that
    /// rescores takes <c>max(ceil(k * oversample), 16)</c> candidates by the compact rows (exactly <c>k</c> at 1):
    /// a flat scan of a segment with originals keeps that many, and a graph search that rescores (a segment with
    /// originals, or one with the <see cref="Int8Navigation"/> copy) uses a candidate list of at least that many,
    /// beside its <c>ef</c>. Must be finite and at least 1; default <see cref="DefaultOversample"/>. Measured on clustered
    /// data, 1.5 already restores recall@10 to 1.000 for int8 rows; tightly packed near-duplicates need more.
    /// </summary>
    public float Oversample { get; init; } = DefaultOversample;

    /// <summary>The graph parameters actually used (<see cref="Hnsw"/> or the defaults).</summary>
    public HnswParameters EffectiveHnsw => Hnsw ?? new HnswParameters();

    /// <summary>The thread count actually used: <see cref="Threads"/>, or the processor count when 0.</summary>
    public int EffectiveThreads => Threads > 0 ? Threads : Environment.ProcessorCount;

    internal void Validate()
    {
        if (Dims < 1 || Dims > 65536) throw new ArgumentOutOfRangeException(nameof(Dims), Dims, "Dims must be in [1, 65536].");
        if (!Enum.IsDefined(Metric)) throw new ArgumentOutOfRangeException(nameof(Metric), Metric, "Unknown dense metric.");
        if (!Enum.IsDefined(Storage)) throw new ArgumentOutOfRangeException(nameof(Storage), Storage, "Unknown dense storage.");
        if (!float.IsFinite(Oversample) || Oversample < 1)
            throw new ArgumentOutOfRangeException(nameof(Oversample), Oversample, "Oversample must be finite and at least 1.");
        if (Threads < 0) throw new ArgumentOutOfRangeException(nameof(Threads), Threads, "Threads must be 0 (all cores) or positive.");
        EffectiveHnsw.Validate();
    }
}
