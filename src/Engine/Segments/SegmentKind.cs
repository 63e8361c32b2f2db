namespace Shoal.Engine.Segments;

/// <summary>What a segment file holds; stored in the header so a reader refuses a file of the wrong kind.</summary>
public enum SegmentKind : uint
{
    /// <summary>A BM25 inverted index over analysed text, with stored fields.</summary>
    Text = 1,

    /// <summary>A learned-sparse (SPLADE-style) index: quantised postings, forward index and Seismic blocks.</summary>
    Sparse = 2,

    /// <summary>A dense-vector segment: vectors (fp32, fp16 or int8) with an optional HNSW graph.</summary>
    Dense = 3,
}
