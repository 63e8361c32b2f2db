using Shoal.Engine.Sparse;
using Shoal.Engine.Text;

namespace Shoal.Engine.Search;

/// <summary>What one shard is asked: one or more channels, each with its own k.</summary>
public sealed record ShardSearchRequest
{
    /// <summary>The BM25 channel, or null.</summary>
    public TextChannelQuery? Bm25 { get; init; }

    /// <summary>The learned-sparse channel, or null.</summary>
    public SparseChannelQuery? Sparse { get; init; }

    /// <summary>The dense channel, or null.</summary>
    public DenseChannelQuery? Dense { get; init; }

    /// <summary>Return title and snippet with each hit.</summary>
    public bool IncludeStored { get; init; }

    /// <summary>Characters of text in a snippet (cut at a word boundary).</summary>
    public int SnippetLength { get; init; } = 300;

    /// <summary>
    /// Search the channels of a hybrid request at the same time (one on the caller's thread, the others
    /// on the thread pool); false runs them one after another. Either way the hits are the same.
    /// </summary>
    public bool Concurrent { get; init; } = true;

    /// <summary>Channels asked.</summary>
    public int ChannelCount => (Bm25 is null ? 0 : 1) + (Sparse is null ? 0 : 1) + (Dense is null ? 0 : 1);
}

/// <summary>An analysed BM25 query and the hits wanted.</summary>
public sealed record TextChannelQuery(TextQuery Query, int K);

/// <summary>
/// A learned-sparse query (term ids of the index vocabulary) and the hits wanted: exact top-k (block-max
/// MaxScore) or Seismic approximate search with <paramref name="Parameters"/>.
/// </summary>
public sealed record SparseChannelQuery(SparseVector Vector, int K, bool Exact, SeismicSearchParameters Parameters);

/// <summary>
/// A dense query and the hits wanted: an exact flat scan (batched with concurrent queries) or an HNSW search
/// with beam width <paramref name="Ef"/> (0: the default). A segment without a graph always scans.
/// </summary>
public sealed record DenseChannelQuery(float[] Vector, int K, bool Exact, int Ef = 0);

/// <summary>A shard's local top-k per channel asked (null for channels not asked), with the time each channel took.</summary>
public sealed record ShardTopK
{
    /// <summary>BM25 hits, best first.</summary>
    public SearchHit[]? Bm25 { get; init; }

    /// <summary>Learned-sparse hits, best first.</summary>
    public SearchHit[]? Sparse { get; init; }

    /// <summary>Dense hits, best first.</summary>
    public SearchHit[]? Dense { get; init; }

    /// <summary>Time the BM25 channel took.</summary>
    public TimeSpan Bm25Elapsed { get; init; }

    /// <summary>Time the sparse channel took.</summary>
    public TimeSpan SparseElapsed { get; init; }

    /// <summary>Time the dense channel took.</summary>
    public TimeSpan DenseElapsed { get; init; }
}
