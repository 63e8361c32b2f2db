namespace Shoal.Engine.Dense;

/// <summary>
/// Parameters of the HNSW graph (Malkov and Yashunin, 2016) built into a dense segment.
/// </summary>
/// <param name="M">
/// Links per node on the upper layers; the bottom layer keeps up to <c>2 * M</c>. Larger values
/// raise recall at a given <c>ef</c> and cost memory (<c>(2M + 1) * 4</c> bytes per vector) and build time.
/// Must be in [2, 256].
/// </param>
/// <param name="EfConstruction">
/// Size of the candidate list while inserting a node (the <c>ef</c> of the construction search).
/// Must be at least 1; values below <paramref name="M"/> are raised to <paramref name="M"/>.
/// </param>
/// <param name="Seed">Seed of the level assignment and of the insertion order.</param>
public sealed record HnswParameters(int M = HnswParameters.DefaultM, int EfConstruction = HnswParameters.DefaultEfConstruction, int Seed = 42)
{
    /// <summary>The default <c>M</c>.</summary>
    public const int DefaultM = 16;

    /// <summary>The default <c>EfConstruction</c>.</summary>
    public const int DefaultEfConstruction = 200;

    /// <summary>The query-time <c>ef</c> used when a caller does not choose one.</summary>
    public const int DefaultEfSearch = 64;

    internal void Validate()
    {
        if (M < 2 || M > 256) throw new ArgumentOutOfRangeException(nameof(M), M, "HNSW M must be in [2, 256].");
        if (EfConstruction < 1) throw new ArgumentOutOfRangeException(nameof(EfConstruction), EfConstruction, "HNSW EfConstruction must be at least 1.");
    }
}
