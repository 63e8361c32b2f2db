namespace Shoal.Client;

/// <summary>
/// The gateway's fixed limits on a search request, which the typed query builder (<see cref="ShoalQuery"/>)
/// checks when a clause is made so that a query the gateway would refuse fails at the line that made it.
/// The SDK has no reference to the server's assemblies, so these mirror the server's constants
/// (<c>QueryCoordinatorGrain</c>); a test fails when the two disagree. The hit limit <see cref="MaxK"/>
/// is the server's default, which a deployment can lower or raise (<c>Shoal:MaxK</c>).
/// </summary>
public static class ShoalLimits
{
    /// <summary>Most hits a query (or one channel of it) may ask for: 1000, the server's default.</summary>
    public const int MaxK = 1000;

    /// <summary>Longest query text, in characters: 16,384.</summary>
    public const int MaxTextLength = 16_384;

    /// <summary>Longest per-request deadline, in milliseconds: 60,000 (one minute).</summary>
    public const int MaxDeadlineMs = 60_000;

    /// <summary>Most entries (tokens or term ids) in a sparse query vector: 4096.</summary>
    public const int MaxSparseTerms = 4096;

    /// <summary>Largest approximate sparse search query term cut: 65,536.</summary>
    public const int MaxQueryTermCut = 65_536;

    /// <summary>Largest approximate sparse search heap factor: 1000.</summary>
    public const double MaxHeapFactor = 1000;

    /// <summary>Largest reciprocal rank fusion rank constant: 100,000.</summary>
    public const int MaxRankConstant = 100_000;
}
