namespace Shoal.Engine.Dense;

/// <summary>How a dense segment stores its vectors. Queries are always float32.</summary>
public enum DenseStorage
{
    /// <summary>IEEE float32, 4 bytes per dimension: scores are exact (up to float32 summation).</summary>
    Float32 = 0,

    /// <summary>
    /// IEEE binary16, 2 bytes per dimension, rounded to nearest. Relative error per component is at
    /// most 2^-11; components smaller than 2^-14 (about 6.1e-5) in magnitude are stored as zero, and a
    /// component larger than 65504 in magnitude is refused when the segment is built.
    /// </summary>
    Float16 = 1,

    /// <summary>
    /// Symmetric scalar quantisation per vector, 1 byte per dimension plus one float32 scale per
    /// vector: <c>s = max|x_j| / 127</c>, <c>c_j = round(x_j / s)</c> in [-127, 127], and the vector is
    /// read back as <c>s * c_j</c>. Each component is off by at most <c>s / 2</c>, so a score is off by
    /// at most <c>(max|x_j| / 254) * ||q||_1</c> for a query <c>q</c>.
    /// </summary>
    Int8 = 2,
}
