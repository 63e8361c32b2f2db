using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace Shoal.Engine.Sparse;

/// <summary>
/// How a sparse segment is built: the index-wide quantisation scale and the Seismic knobs.
/// </summary>
/// <remarks>
/// <para><b>Quantisation.</b> Every document weight <c>w</c> is stored as a level
/// <c>round(w / MaxWeight * 255)</c> (to even), clamped to [1, 255], standing for
/// <c>ŵ = level * MaxWeight / 255</c>. For <c>w &gt;= MaxWeight / 510</c> the error is
/// <c>|w - ŵ| &lt;= MaxWeight / 510</c>; smaller positive weights are rounded up to level 1 rather than
/// dropped (error below <c>MaxWeight / 255</c>). <see cref="MaxWeight"/> must be the largest weight over
/// the <i>whole index</i> (all shards), computed by the caller (e.g. <see cref="ComputeMaxWeight"/>
/// over every shard's documents), so that the stored levels, and therefore scores, do not depend on how
/// the corpus was sharded. A document weight above it is an error.</para>
/// <para><b>Seismic</b> (Bruch et al., SIGIR 2024). Each term's posting list is statically pruned to
/// its <see cref="PostingsPerTerm"/> (λ) highest-weighted postings; those documents are clustered into
/// blocks around <c>max(1, round(λ' * CentroidFraction))</c> randomly chosen centroid documents
/// (λ' = the pruned list length); each block gets a summary vector, the component-wise maximum of its
/// documents' levels pruned to the fewest largest entries that keep <see cref="SummaryEnergy"/> (α) of
/// its L1 mass, at most <see cref="SummaryMaxTerms"/> entries. The defaults were tuned on the
/// sparse-1M benchmark (../shared/docs/BENCHMARKS.md) together with
/// <see cref="SeismicSearchParameters.Default"/> (1,000,000 documents in one segment: 7.2 index bytes per
/// posting, recall@10 0.95). λ is absolute: the Seismic part costs about vocabulary × λ entries whatever
/// the segment size, so a much smaller shard pays more bytes per posting (100,000 documents: 10 bytes a
/// posting with the defaults) and a much larger one keeps a smaller share of each list (lower recall);
/// scale λ with the shard's document count when shards differ much from a million documents.</para>
/// </remarks>
public sealed record SparseBuildOptions
{
    /// <summary>Creates options; <see cref="MaxWeight"/> must then be set.</summary>
    public SparseBuildOptions()
    {
    }

    /// <summary>Creates options with the index-wide <paramref name="maxWeight"/> and default knobs.</summary>
    [SetsRequiredMembers]
    public SparseBuildOptions(float maxWeight) => MaxWeight = maxWeight;

    /// <summary>
    /// Required. The largest document weight over the whole index (every shard), finite and &gt; 0:
    /// the quantisation scale (level 255 = MaxWeight).
    /// </summary>
    public required float MaxWeight { get; init; }

    /// <summary>λ: postings kept per term in the Seismic (approximate) lists, by weight. Default 750.</summary>
    public int PostingsPerTerm { get; init; } = 750;

    /// <summary>Centroids per pruned list as a fraction of its length (blocks ≈ λ·fraction). Default 0.0625 (blocks of ~16).</summary>
    public double CentroidFraction { get; init; } = 0.0625;

    /// <summary>α: fraction of a block summary's L1 mass that its kept entries must reach. Default 0.4.</summary>
    public double SummaryEnergy { get; init; } = 0.4;

    /// <summary>Upper bound on entries per block summary (memory cap). Default 16.</summary>
    public int SummaryMaxTerms { get; init; } = 16;

    /// <summary>Blocks larger than this after clustering are split (by weight of the list's term). Default 64.</summary>
    public int MaxBlockSize { get; init; } = 64;

    /// <summary>Entries of each document (its highest levels) used to assign it to a centroid. Default 16.</summary>
    public int ClusteringTerms { get; init; } = 16;

    /// <summary>Seed for the random choice of centroids; the same seed and input give the same file. Default 42.</summary>
    public int Seed { get; init; } = 42;

    /// <summary>Worker threads for building. Default: the processor count.</summary>
    public int Threads { get; init; } = Environment.ProcessorCount;

    /// <summary>The largest weight over a set of documents (0 when there is none): a value for <see cref="MaxWeight"/>.</summary>
    public static float ComputeMaxWeight(IEnumerable<SparseDocument> documents)
    {
        ArgumentNullException.ThrowIfNull(documents);
        float max = 0;
        foreach (var d in documents) max = Math.Max(max, d.Vector.MaxWeight());
        return max;
    }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid option.</summary>
    public void Validate()
    {
        if (!float.IsFinite(MaxWeight) || MaxWeight <= 0)
            throw new ArgumentException($"MaxWeight must be finite and > 0 (got {MaxWeight.ToString(CultureInfo.InvariantCulture)}).", nameof(MaxWeight));
        if (PostingsPerTerm < 1) throw new ArgumentException($"PostingsPerTerm must be >= 1 (got {PostingsPerTerm}).", nameof(PostingsPerTerm));
        if (!(CentroidFraction > 0 && CentroidFraction <= 1))
            throw new ArgumentException($"CentroidFraction must be in (0, 1] (got {CentroidFraction.ToString(CultureInfo.InvariantCulture)}).", nameof(CentroidFraction));
        if (!(SummaryEnergy > 0 && SummaryEnergy <= 1))
            throw new ArgumentException($"SummaryEnergy must be in (0, 1] (got {SummaryEnergy.ToString(CultureInfo.InvariantCulture)}).", nameof(SummaryEnergy));
        if (SummaryMaxTerms < 1) throw new ArgumentException($"SummaryMaxTerms must be >= 1 (got {SummaryMaxTerms}).", nameof(SummaryMaxTerms));
        if (MaxBlockSize < 1) throw new ArgumentException($"MaxBlockSize must be >= 1 (got {MaxBlockSize}).", nameof(MaxBlockSize));
        if (ClusteringTerms < 1 || ClusteringTerms > 256) throw new ArgumentException($"ClusteringTerms must be in [1, 256] (got {ClusteringTerms}).", nameof(ClusteringTerms));
        if (Threads < 1) throw new ArgumentException($"Threads must be >= 1 (got {Threads}).", nameof(Threads));
    }
}
