using Shoal.Engine.Analysis;
using Shoal.Engine.Dense;
using Shoal.Engine.Snapshots;
using Shoal.Engine.Sparse;
using Shoal.Engine.Text;

namespace Shoal.Engine.Updates;

/// <summary>
/// What documents of a live buffer are scored against: the served version's collection
/// statistics and channel settings, so that a buffered document scores as it would inside a
/// segment of that version. A merge recomputes the statistics over the updated collection.
/// </summary>
public sealed class DeltaScoring
{
    private readonly TextSegment? _text;

    private DeltaScoring(IndexSchema schema, CollectionStatistics statistics, TextSegment? text)
    {
        Schema = schema;
        Statistics = statistics;
        _text = text;
        if (schema.Text is { } t)
        {
            Bm25 = new Bm25Parameters(t.K1, t.B, t.LuceneLengthNorm);
            Analyzer = EnglishAnalyzer.Instance;
        }
        if (schema.Sparse is { } sp) SparseMaxWeight = sp.MaxWeight;
        if (schema.Dense is { } d)
        {
            DenseDims = d.Dims;
            DenseMetric = d.Metric == "cosine" ? Dense.DenseMetric.Cosine : Dense.DenseMetric.Dot;
        }
    }

    /// <summary>
    /// The scoring of <paramref name="manifest"/>'s version for one shard, whose bm25 segment
    /// (<paramref name="text"/>, or null) gives the global document frequencies of terms; a term it
    /// lacks counts as occurring in one document.
    /// </summary>
    public static DeltaScoring Create(IndexManifest manifest, TextSegment? text)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        return new DeltaScoring(manifest.Schema, new CollectionStatistics(manifest.DocCount, manifest.TotalLength), text);
    }

    /// <summary>The served version's schema.</summary>
    public IndexSchema Schema { get; }

    /// <summary>Documents and total analysed length of the served version.</summary>
    public CollectionStatistics Statistics { get; }

    /// <summary>BM25 parameters, or null without a bm25 channel.</summary>
    public Bm25Parameters? Bm25 { get; }

    /// <summary>The text analyzer, or null without a bm25 channel.</summary>
    public ITextAnalyzer? Analyzer { get; }

    /// <summary>The sparse quantisation scale (largest weight of the version), or null without a sparse channel.</summary>
    public float? SparseMaxWeight { get; }

    /// <summary>Dense dimensions, or null without a dense channel.</summary>
    public int? DenseDims { get; }

    /// <summary>The dense metric.</summary>
    public DenseMetric DenseMetric { get; }

    /// <summary>The document frequency used for <paramref name="term"/>'s idf: the version's, at least 1.</summary>
    public long DocFrequency(string term) => Math.Max(1, _text?.GlobalDocFrequency(term) ?? 0);

    /// <summary>The factor that turns Σ q·level into a sparse score (MaxWeight / 255, in double).</summary>
    public double SparseScale => SparseMaxWeight is > 0 and { } max ? SparseLevels.Scale(max) : 1.0;

    /// <summary>
    /// A sparse weight in level units, as the segment stores it: its u8 level when the weight is
    /// within the version's largest weight; above it (unrepresentable until a merge recomputes the
    /// scale) the exact weight divided by the scale, so the score is the exact weight's.
    /// </summary>
    public double SparseLevel(float weight)
    {
        float max = SparseMaxWeight ?? 0;
        if (max <= 0) return weight;
        return weight <= max ? SparseLevels.Quantize(weight, max) : weight / SparseScale;
    }
}
