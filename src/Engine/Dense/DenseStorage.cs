namespace Shoal.Engine.Dense;

/// <summary>How a dense segment stores its vectors. Queries are always float32.</summary>
/// <remarks>
/// <para>Bytes per vector of <c>d</c> dimensions, not counting ids or the HNSW graph:</para>
/// <list type="table">
/// <listheader><term>storage</term><description>segment bytes; bytes a flat scan reads; scores</description></listheader>
/// <item><term><see cref="Float32"/></term><description><c>4d</c>; <c>4d</c>; exact. With a graph and
/// <see cref="DenseBuildOptions.Int8Navigation"/> add an int8 navigation copy of <c>d + 4</c>.</description></item>
/// <item><term><see cref="Float16"/></term><description><c>2d</c> (<c>6d</c> with
/// <see cref="DenseBuildOptions.StoreOriginals"/>); <c>2d</c>; binary16 scores, or exact with originals.</description></item>
/// <item><term><see cref="Int8"/> (default: with originals)</term><description><c>5d + 4</c>; <c>d + 4</c>;
/// exact float32 scores of <c>ceil(k * oversample)</c> candidates ranked by their int8 scores. With a graph this is
/// exactly the size of <see cref="Float32"/> with its navigation copy, and graph searches run the same way.</description></item>
/// <item><term><see cref="Int8"/> without originals</term><description><c>d + 4</c>; <c>d + 4</c>; int8 scores
/// (error bound below).</description></item>
/// </list>
/// <para>The originals are a separate section of the memory-mapped segment that only rescoring touches
/// (<c>ceil(k * oversample)</c> rows per query, at least 16 when oversampling), so the operating system can
/// keep them on disk while the int8 rows, which every scan and graph search reads, stay in memory: the
/// resident working set is a quarter of float32 at about 1.25 times float32 on disk. Opening a segment with
/// checksum verification reads the whole file once.</para>
/// </remarks>
public enum DenseStorage
{
    /// <summary>IEEE float32, 4 bytes per dimension: scores are exact (up to float32 summation).</summary>
    Float32 = 0,

    /// <summary>
    /// IEEE binary16, 2 bytes per dimension, rounded to nearest. Relative error per component is at
    /// most 2^-11; components smaller than 2^-14 (about 6.1e-5) in magnitude are stored as zero, and a
    /// component larger than 65504 in magnitude is refused when the segment is built. Recall@10 against
    /// float32 exact search is 0.999 on clustered 128-d data without originals; with
    /// <see cref="DenseBuildOptions.StoreOriginals"/> the binary16 rows only preselect candidates that
    /// are rescored in float32, as for <see cref="Int8"/>.
    /// </summary>
    Float16 = 1,

    /// <summary>
    /// <para>Symmetric scalar quantisation per vector, 1 byte per dimension plus one float32 scale per
    /// vector: <c>s = max|x_j| / 127</c>, <c>c_j = round(x_j / s)</c> in [-127, 127], and the vector is
    /// read back as <c>s * c_j</c>. Each component is off by at most <c>s / 2</c>, so an int8 score is off
    /// by at most <c>(max|x_j| / 254) * ||q||_1</c> for a query <c>q</c>; treating the rounding errors as
    /// independent and uniform, its standard deviation is <c>s / sqrt(12) * ||q||_2</c> (for a normalised
    /// 384-d vector with <c>max|x_j|</c> near 0.15 that is about 3.4e-4, and the worst case 0.0093).</para>
    /// <para>Alone, that error swaps near-tied neighbours: recall@10 against float32 exact search is
    /// 0.974 to 0.988 on clustered data (100 to 200 near-tied documents per cluster). Per-dimension ranges
    /// or centring do no better there (0.93 to 0.985 measured), so by default the segment also keeps the
    /// float32 originals (<see cref="DenseBuildOptions.StoreOriginals"/>): searches rank by the int8 codes,
    /// rescore the best <c>ceil(k * oversample)</c> candidates (<see cref="DenseBuildOptions.Oversample"/>,
    /// default 4, at least 16) with the originals, and return exact float32 scores, bit-identical to a
    /// <see cref="Float32"/> segment's. Recall@10 is then 1.000 on the same data.</para>
    /// </summary>
    Int8 = 2,
}
