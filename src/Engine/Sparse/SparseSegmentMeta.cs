using System.Runtime.InteropServices;

namespace Shoal.Engine.Sparse;

/// <summary>Fixed metadata of a sparse segment, stored as section <see cref="SparseSections.Meta"/>.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 8)]
internal struct SparseSegmentMeta
{
    public int LayoutVersion;
    public int DocCount;
    public long PostingCount;
    public int VocabSize;
    public int RangeShift;
    public float MaxWeight;
    public int RangeEntryCount;
    public long SeismicPostingCount;
    public long SummaryEntryCount;
    public int BlockCount;
    public int PostingsPerTerm;
    public double CentroidFraction;
    public double SummaryEnergy;
    public int SummaryMaxTerms;
    public int MaxBlockSize;
    public int ClusteringTerms;
    public int Seed;
}
