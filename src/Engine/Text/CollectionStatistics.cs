namespace Shoal.Engine.Text;

/// <summary>
/// Collection-global BM25 statistics of one index version: every shard scores with these, so a
/// document's score does not depend on how the corpus is split into shards.
/// </summary>
/// <param name="DocCount">Documents in the whole index.</param>
/// <param name="TotalLength">Sum of analysed document lengths over the whole index.</param>
public sealed record CollectionStatistics(long DocCount, long TotalLength)
{
    /// <summary>Average analysed document length (1 for an empty collection, to keep BM25 finite).</summary>
    public double AvgDocLength => DocCount == 0 ? 1.0 : (double)TotalLength / DocCount;
}
