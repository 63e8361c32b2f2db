using System.Runtime.InteropServices;

namespace Shoal.Engine.Dense;

/// <summary>
/// Rescoring metadata of a dense segment, stored as section <see cref="DenseSections.Rescore"/>. A segment
/// without the section (written before it existed) has no originals and the default oversample factor.
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 4)]
internal struct DenseRescoreMeta
{
    public float Oversample;    // default oversample factor of rescoring searches (>= 1)
    public int HasOriginals;    // 1 when section Originals holds the float32 rows
}
