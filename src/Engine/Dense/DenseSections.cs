namespace Shoal.Engine.Dense;

/// <summary>Section ids of a dense segment (<see cref="Segments.SegmentKind.Dense"/>).</summary>
/// <remarks>
/// Documents are numbered in ordinal order of their external ids. Rows are stored back to back,
/// <c>dims * elementSize</c> bytes each; the section starts 64-byte aligned.
/// </remarks>
internal static class DenseSections
{
    public const uint Meta = 1;          // DenseSegmentMeta
    public const uint Vectors = 2;       // count rows: f32 | binary16 | i8 codes
    public const uint Scales = 3;        // f32[count], int8 storage only: row = scale * codes
    public const uint IdBytes = 4;       // UTF-8 external ids in doc order (= ordinal id order)
    public const uint IdOffsets = 5;     // i64[count + 1] into IdBytes
    public const uint Links0 = 6;        // i32[count * (2M + 1)]: per node a neighbour count, then up to 2M neighbours (layer 0)
    public const uint Levels = 7;        // u8[count]: top HNSW layer of each node
    public const uint UpperOffsets = 8;  // i32[count]: start in UpperLinks of the node's layer-1 list, -1 when its level is 0
    public const uint UpperLinks = 9;    // i32[]: per node with level L > 0, L lists of (count, M neighbours) for layers 1..L
    public const uint NavCodes = 10;     // i8[count * dims]: int8 copy of the rows that HNSW searches traverse (fp32/fp16 storage)
    public const uint NavScales = 11;    // f32[count]: scales of NavCodes
    public const uint Originals = 12;    // f32[count * dims]: full-precision rows of fp16/int8 storage, read only to rescore candidates
    public const uint Rescore = 13;      // DenseRescoreMeta (absent in segments written before it existed)
}
