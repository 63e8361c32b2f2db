namespace Shoal.Engine.Segments;

/// <summary>
/// Constants of the Shoal segment container format (version 1).
/// </summary>
/// <remarks>
/// A segment file is little-endian and laid out as:
/// <code>
/// [0..32)    header:  magic u64 "SHOALSEG" | format version u32 | segment kind u32 |
///                     section count u32 | reserved u32 | directory offset u64
/// [32..)     sections, each starting on a 64-byte boundary (so typed spans over the
///            memory map are aligned for SIMD and for u32/u64/f32 reads)
/// directory  section count x 32 bytes: id u32 | reserved u32 | offset u64 | length u64 | xxhash3 u64
/// footer     16 bytes: xxhash3 of header+directory u64 | magic u64 "SHOALEND"
/// </code>
/// Every section carries its own XXH3-64 checksum so a reader can verify a whole file at open
/// (the default) or one section at a time. A truncated file loses its footer and is refused
/// before any section is touched.
/// </remarks>
public static class SegmentFormat
{
    /// <summary>"SHOALSEG" read as a little-endian u64.</summary>
    public const ulong HeaderMagic = 0x4745534C414F4853UL;

    /// <summary>"SHOALEND" read as a little-endian u64.</summary>
    public const ulong FooterMagic = 0x444E454C414F4853UL;

    /// <summary>The format version this build writes and reads.</summary>
    public const uint CurrentVersion = 1;

    /// <summary>Size of the fixed header.</summary>
    public const int HeaderSize = 32;

    /// <summary>Size of one directory entry.</summary>
    public const int DirectoryEntrySize = 32;

    /// <summary>Size of the footer.</summary>
    public const int FooterSize = 16;

    /// <summary>Alignment of every section's start offset.</summary>
    public const int SectionAlignment = 64;
}
