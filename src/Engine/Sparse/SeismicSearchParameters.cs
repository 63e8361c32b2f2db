using System.Globalization;

namespace Shoal.Engine.Sparse;

/// <summary>
/// Query-time knobs of Seismic approximate search (<see cref="SparseSegment.SearchApproximate"/>).
/// </summary>
/// <param name="QueryTermCut">Only the query's <c>QueryTermCut</c> highest-weighted terms have their
/// blocks visited (the whole query is still used to score documents and summaries). At least 1.</param>
/// <param name="HeapFactor">A block is skipped when the heap already holds k results and
/// <c>dot(query, summary) &lt; threshold / HeapFactor</c> (threshold = the current k-th score). Finite
/// and &gt; 0. Larger is slower and more exact. Block summaries keep only their heaviest entries
/// (<see cref="SparseBuildOptions.SummaryEnergy"/>, <see cref="SparseBuildOptions.SummaryMaxTerms"/>),
/// so a summary's dot product usually underestimates the block's best score: values above 1 compensate
/// (1.75 skips a block only when its summary reaches less than 1/1.75 of the k-th score); values below 1
/// skip more aggressively, as in the Seismic paper's range (0, 1].</param>
public sealed record SeismicSearchParameters(int QueryTermCut, double HeapFactor)
{
    /// <summary>
    /// The defaults: <c>QueryTermCut = 16</c>, <c>HeapFactor = 1.75</c>. With the default
    /// <see cref="SparseBuildOptions"/> they give recall@10 ≈ 0.95 against exact search on the sparse-1M
    /// benchmark (../shared/docs/BENCHMARKS.md; the target is at least 0.90), scoring about 2,000 of
    /// 1,000,000 documents per query.
    /// </summary>
    public static SeismicSearchParameters Default { get; } = new(16, 1.75);

    /// <summary>Throws <see cref="ArgumentException"/> when a knob is out of range.</summary>
    public void Validate()
    {
        if (QueryTermCut < 1) throw new ArgumentException($"QueryTermCut must be >= 1 (got {QueryTermCut}).", nameof(QueryTermCut));
        if (!(HeapFactor > 0) || !double.IsFinite(HeapFactor))
            throw new ArgumentException($"HeapFactor must be finite and > 0 (got {HeapFactor.ToString(CultureInfo.InvariantCulture)}).", nameof(HeapFactor));
    }
}
