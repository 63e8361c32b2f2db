using Shoal.Engine.Indexing;
using Shoal.Grains.Jobs;

namespace Shoal.Grains.Contracts;

/// <summary>
/// The <see cref="IndexSpecification"/> of each wire request that builds an index version: the
/// requests carry the settings (with the specification's defaults); the specification validates
/// them and makes the build options.
/// </summary>
public static class RequestSpecifications
{
    /// <summary>The specification of an ingest; <paramref name="hasCorpus"/> says whether it names a text corpus (the bm25 channel's default).</summary>
    public static IndexSpecification Specification(this IngestRequest request, bool hasCorpus)
    {
        ArgumentNullException.ThrowIfNull(request);
        return new IndexSpecification
        {
            Shards = request.Shards,
            Replicas = request.Replicas,
            Text = request.Bm25 ?? hasCorpus,
            K1 = request.K1,
            B = request.B,
            Sparse = request.SparseVectorsPath is not null || request.SparseEncoder is not null,
            SparseEncoder = request.SparseEncoder,
            SparsePostingsPerTerm = request.SparsePostingsPerTerm,
            Dense = request.DenseVectorsPath is not null || request.DenseEncoder is not null,
            DenseEncoder = request.DenseEncoder,
            DenseDims = request.DenseDims,
            DenseMetric = request.DenseMetric,
            DenseStorage = request.DenseStorage,
            DenseIndex = request.DenseIndex,
            HnswM = request.HnswM,
            HnswEfConstruction = request.HnswEfConstruction,
        };
    }

    /// <summary>The specification of an indexing job: a channel for each of its sources.</summary>
    public static IndexSpecification Specification(this IndexJobRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        return new IndexSpecification
        {
            Shards = request.Shards,
            Replicas = request.Replicas,
            Text = !string.IsNullOrWhiteSpace(request.Source),
            K1 = request.K1,
            B = request.B,
            Sparse = request.SparseVectors is not null || request.SparseEncoder is not null,
            SparseEncoder = request.SparseEncoder,
            SparsePostingsPerTerm = request.SparsePostingsPerTerm,
            Dense = request.DenseVectors is not null || request.DenseEncoder is not null,
            DenseEncoder = request.DenseEncoder,
            DenseDims = request.DenseDims,
            DenseMetric = request.DenseMetric,
            DenseStorage = request.DenseStorage,
            DenseIndex = request.DenseIndex,
            HnswM = request.HnswM,
            HnswEfConstruction = request.HnswEfConstruction,
        };
    }
}
