using System.Globalization;

namespace Shoal.Evaluation;

/// <summary>
/// The result of <see cref="Evaluator.Evaluate"/>: per-query measures and their arithmetic means over
/// the evaluated queries (all means are 0 when no query was evaluated).
/// </summary>
public sealed class EvaluationReport
{
    /// <summary>Number of queries evaluated (the denominator of every mean).</summary>
    public required int Queries { get; init; }

    /// <summary>Evaluated queries the run has no results for (each scored 0 on every measure).</summary>
    public required int QueriesWithoutResults { get; init; }

    /// <summary>Mean nDCG@10.</summary>
    public required double NdcgAt10 { get; init; }

    /// <summary>Mean reciprocal rank cut at 10 (MRR@10).</summary>
    public required double MrrAt10 { get; init; }

    /// <summary>Mean Recall@100.</summary>
    public required double RecallAt100 { get; init; }

    /// <summary>Mean Recall@1000.</summary>
    public required double RecallAt1000 { get; init; }

    /// <summary>Measures of each evaluated query, keyed by query id, in evaluation order.</summary>
    public required IReadOnlyDictionary<string, QueryScores> PerQuery { get; init; }

    /// <summary>A one-line summary, e.g. <c>queries=300 nDCG@10=0.6650 MRR@10=0.6300 R@100=0.9100 R@1000=0.9800</c>.</summary>
    public override string ToString() => string.Create(
        CultureInfo.InvariantCulture,
        $"queries={Queries} nDCG@10={NdcgAt10:F4} MRR@10={MrrAt10:F4} R@100={RecallAt100:F4} R@1000={RecallAt1000:F4}");
}
