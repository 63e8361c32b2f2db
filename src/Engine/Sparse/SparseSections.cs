namespace Shoal.Engine.Sparse;

/// <summary>Section ids of a sparse segment (see <see cref="SparseSegmentWriter"/> for the layout).</summary>
internal static class SparseSections
{
    public const uint Meta = 1;             // SparseSegmentMeta
    public const uint IdBytes = 2;          // UTF-8 external ids in doc order (= ordinal id order)
    public const uint IdOffsets = 3;        // i64[docCount + 1]
    public const uint TextBytes = 4;        // UTF-8 stored texts in doc order
    public const uint TextOffsets = 5;      // i64[docCount + 1]
    public const uint TextPresent = 6;      // u64[(docCount + 63) / 64] bit set: doc has a (possibly empty) text
    public const uint ForwardOffsets = 7;   // i64[docCount + 1]: doc d has entries [off[d], off[d+1])
    public const uint ForwardData = 8;      // per doc at byte 3*off[d]: u16 term ids [n] ascending, then u8 levels [n]; 16 bytes padding
    public const uint TermRanges = 10;      // i32[vocabSize + 1] into RangeEntries
    public const uint RangeEntries = 11;    // SparseRangeEntry[], per term ascending by range
    public const uint PostingData = 12;     // encoded (term, range) blocks, see SparseRangeEntry; 16 bytes of padding at the end
    public const uint TermBlocks = 14;      // i32[vocabSize + 1] into the Seismic block arrays
    public const uint BlockDocStarts = 15;  // u32[blockCount + 1] into SeismicDocs
    public const uint BlockSummaryStarts = 16; // u32[blockCount + 1] into SummaryTerms / SummaryLevels
    public const uint SeismicDocs = 17;     // u32[seismic postings]: doc ids of each block, ascending within a block
    public const uint SummaryTerms = 18;    // u16[summary entries], ascending per block
    public const uint SummaryLevels = 19;   // u8[summary entries]
}
