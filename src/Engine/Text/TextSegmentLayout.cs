using System.Runtime.InteropServices;

namespace Shoal.Engine.Text;

/// <summary>Section ids of a text (BM25) segment.</summary>
internal static class TextSections
{
    public const uint Meta = 1;          // TextSegmentMeta
    public const uint TermBytes = 2;     // UTF-8 terms, concatenated in byte order
    public const uint TermOffsets = 3;   // u32[termCount + 1] into TermBytes
    public const uint Terms = 4;         // TermEntry[termCount]
    public const uint Blocks = 5;        // PostingBlock[total blocks]
    public const uint PostingDocs = 6;   // i32[postings], ascending per term
    public const uint PostingImpacts = 7;// f32[postings], BM25 contribution with global statistics
    public const uint IdBytes = 8;       // UTF-8 external ids in doc order (= ordinal id order)
    public const uint IdOffsets = 9;     // i64[docCount + 1]
    public const uint StoredBytes = 10;  // UTF-8 title and text per document
    public const uint StoredOffsets = 11;// i64[2 * docCount + 1]: doc d's title is [2d, 2d+1), text [2d+1, 2d+2)
    public const uint DocLengths = 12;   // i32[docCount], analysed token count
}

/// <summary>Fixed metadata of a text segment, stored as section <see cref="TextSections.Meta"/>.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 8)]
internal struct TextSegmentMeta
{
    public int DocCount;
    public int TermCount;
    public long PostingCount;
    public double K1;
    public double B;
    public long GlobalDocCount;
    public long GlobalTotalLength;
    public double AvgDocLength;
    public int BlockSize;
    public int LuceneLengthNorm;
}

/// <summary>Per-term entry of a text segment (32 bytes).</summary>
[StructLayout(LayoutKind.Sequential, Pack = 4)]
internal struct TermEntry
{
    public long PostingStart;
    public int PostingCount;
    public float MaxImpact;
    public int BlockStart;
    public int BlockCount;
    public long GlobalDocFreq;
}

/// <summary>Skip metadata for a block of postings: its last doc id and its highest impact.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 4)]
internal struct PostingBlock
{
    public int LastDoc;
    public float MaxImpact;
}
