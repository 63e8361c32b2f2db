namespace Shoal.Engine.Dense;

/// <summary>Where the time of one <see cref="DenseSegmentWriter"/> build went.</summary>
/// <param name="Prepare">Sorting ids, copying, checking, normalising and encoding the vectors.</param>
/// <param name="Graph">Building the HNSW graph (zero without one).</param>
/// <param name="Write">Writing the file, including the flush to disk.</param>
/// <param name="Bytes">Size of the segment file.</param>
public sealed record DenseBuildStatistics(TimeSpan Prepare, TimeSpan Graph, TimeSpan Write, long Bytes)
{
    /// <summary>Total build time.</summary>
    public TimeSpan Total => Prepare + Graph + Write;
}
