namespace Shoal.Engine.Segments;

/// <summary>What a segment file holds; stored in the header so a reader refuses a file of the wrong kind.</summary>
public enum SegmentKind : uint
{
    /// <summary>A BM25 inverted index over analysed text, with stored fields.</summary>
    Text = 1,
}
