namespace Shoal.Engine.Dense;

/// <summary>How a dense segment scores a query against a document vector. Higher scores rank first.</summary>
public enum DenseMetric
{
    /// <summary>Inner product of the query and the document vector exactly as given.</summary>
    Dot = 0,

    /// <summary>
    /// Cosine similarity: document vectors are L2-normalised when the segment is built and the
    /// query is L2-normalised at search time, then the inner product is taken. A zero vector
    /// (document or query) is kept as zero and scores 0 against everything.
    /// </summary>
    Cosine = 1,
}
