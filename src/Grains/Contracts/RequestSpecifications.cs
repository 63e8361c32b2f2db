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
    /// <summary>
    /// The indexing job that runs an ingest into <paramref name="index"/>: the same sources and
    /// settings; a malformed line stops it (an ingest never skips input silently).
    /// </summary>
    public static IndexJobRequest ToJobRequest(this IngestRequest request, string index)
    {
        ArgumentNullException.ThrowIfNull(request);
        return new IndexJobRequest
        {
            Index = index,
            Source = request.CorpusPath ?? "",
            Format = request.Format,
            Shards = request.Shards,
            Replicas = request.Replicas,
            K1 = request.K1,
            B = request.B,
            Bm25 = request.Bm25,
            OnMalformed = "stop",
            SparseVectors = request.SparseVectorsPath,
            SparseVocabulary = request.SparseVocabularyPath,
            SparsePostingsPerTerm = request.SparsePostingsPerTerm,
            SparseEncoder = request.SparseEncoder,
            DenseVectors = request.DenseVectorsPath,
            DenseDims = request.DenseDims,
            DenseMetric = request.DenseMetric,
            DenseStorage = request.DenseStorage,
            DenseIndex = request.DenseIndex,
            HnswM = request.HnswM,
            HnswEfConstruction = request.HnswEfConstruction,
            DenseEncoder = request.DenseEncoder,
            StrictPlacement = request.StrictPlacement,
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
            Text = request.Bm25 ?? !string.IsNullOrWhiteSpace(request.Source),
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
