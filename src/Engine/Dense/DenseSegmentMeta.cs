using System.Runtime.InteropServices;

namespace Shoal.Engine.Dense;

/// <summary>Fixed metadata of a dense segment, stored as section <see cref="DenseSections.Meta"/>.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 8)]
internal struct DenseSegmentMeta
{
    public int Count;
    public int Dims;
    public int Metric;          // DenseMetric
    public int Storage;         // DenseStorage
    public int HasAnn;          // 1 when the Links0/Levels/Upper* sections hold an HNSW graph
    public int M;               // links per node on layers >= 1
    public int MaxM0;           // links per node on layer 0 (2M)
    public int EfConstruction;
    public int Seed;
    public int MaxLevel;        // top layer of the graph (-1 when empty)
    public int EntryPoint;      // doc id where searches start (-1 when empty)
    public int HasNavigation;   // 1 when NavCodes/NavScales hold an int8 copy for graph traversal
    public long UpperLinkCount; // i32 elements in UpperLinks
}
