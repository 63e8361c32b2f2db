namespace Shoal.Engine.Dense;

/// <summary>How <see cref="DenseSegmentWriter"/> builds a dense segment.</summary>
/// <param name="Dims">Dimensions of every vector (1 to 65,536).</param>
/// <param name="Metric">Scoring function; <see cref="DenseMetric.Cosine"/> normalises documents at build time.</param>
/// <param name="Storage">Vector encoding in the segment.</param>
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
    /// are rescored with the stored vectors, so returned scores are exact. The builder uses the same copy
    /// for its searches. Default true; ignored for <see cref="DenseStorage.Int8"/>, whose rows are already int8.
    /// </summary>
    public bool Int8Navigation { get; init; } = true;

    /// <summary>The graph parameters actually used (<see cref="Hnsw"/> or the defaults).</summary>
    public HnswParameters EffectiveHnsw => Hnsw ?? new HnswParameters();

    /// <summary>The thread count actually used: <see cref="Threads"/>, or the processor count when 0.</summary>
    public int EffectiveThreads => Threads > 0 ? Threads : Environment.ProcessorCount;

    internal void Validate()
    {
        if (Dims < 1 || Dims > 65536) throw new ArgumentOutOfRangeException(nameof(Dims), Dims, "Dims must be in [1, 65536].");
        if (!Enum.IsDefined(Metric)) throw new ArgumentOutOfRangeException(nameof(Metric), Metric, "Unknown dense metric.");
        if (!Enum.IsDefined(Storage)) throw new ArgumentOutOfRangeException(nameof(Storage), Storage, "Unknown dense storage.");
        if (Threads < 0) throw new ArgumentOutOfRangeException(nameof(Threads), Threads, "Threads must be 0 (all cores) or positive.");
        EffectiveHnsw.Validate();
    }
}
