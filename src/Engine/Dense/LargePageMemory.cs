using System.Runtime.InteropServices;

namespace Shoal.Engine.Dense;

/// <summary>
/// Native buffers for the large, randomly accessed arrays of a build (vectors, int8 copy, links).
/// On Linux they are 2 MiB-aligned and advised as transparent huge pages (<c>madvise(MADV_HUGEPAGE)</c>,
/// effective when THP is in "madvise" or "always" mode): random row accesses then miss the TLB far less,
/// which under a hypervisor's nested paging roughly halves the cost of an HNSW insertion. Elsewhere, or
/// when the advice is refused, they are ordinary aligned allocations.
/// </summary>
internal static unsafe partial class LargePageMemory
{
    private const nuint HugePage = 2 << 20;
    private const int MadvHugePage = 14;

    /// <summary>Allocates <paramref name="bytes"/> (at least 1), uninitialised.</summary>
    public static void* Alloc(long bytes)
    {
        nuint size = (nuint)Math.Max(1, bytes);
        if (!OperatingSystem.IsLinux() || size < HugePage) return NativeMemory.AlignedAlloc(size, 64);
        nuint rounded = (size + HugePage - 1) & ~(HugePage - 1);
        void* p = NativeMemory.AlignedAlloc(rounded, HugePage);
        try { _ = Madvise(p, rounded, MadvHugePage); }
        catch (DllNotFoundException) { }
        catch (EntryPointNotFoundException) { }
        return p;
    }

    /// <summary>Frees a buffer from <see cref="Alloc"/> (null is ignored).</summary>
    public static void Free(void* p)
    {
        if (p is not null) NativeMemory.AlignedFree(p);
    }

    [LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int Madvise(void* address, nuint length, int advice);
}
