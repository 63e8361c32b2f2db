using System.Buffers.Binary;
using System.IO.Hashing;
using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;

namespace Shoal.Engine.Segments;

/// <summary>
/// A read-only, memory-mapped segment container. Opening validates the header, footer and
/// directory (and by default every section checksum); a file that fails any check is refused
/// with a <see cref="CorruptSegmentException"/> naming it. Sections are exposed as spans over
/// the mapping, so a segment larger than the managed heap costs only address space.
/// </summary>
public sealed unsafe class SegmentFile : IDisposable
{
    private readonly MemoryMappedFile _map;
    private readonly MemoryMappedViewAccessor _view;
    private readonly byte* _base;
    private readonly Dictionary<uint, (long Offset, long Length, ulong Hash)> _sections;
    private int _disposed;

    private SegmentFile(string path, MemoryMappedFile map, MemoryMappedViewAccessor view, byte* basePtr, long length,
        SegmentKind kind, Dictionary<uint, (long, long, ulong)> sections)
    {
        FilePath = path;
        _map = map;
        _view = view;
        _base = basePtr;
        Length = length;
        Kind = kind;
        _sections = sections;
    }

    /// <summary>The file this segment was opened from.</summary>
    public string FilePath { get; }

    /// <summary>Size of the file in bytes.</summary>
    public long Length { get; }

    /// <summary>The segment kind from the header.</summary>
    public SegmentKind Kind { get; }

    /// <summary>
    /// Opens and validates <paramref name="path"/>. With <paramref name="verifyChecksums"/> every
    /// section is hashed and compared with the directory (a sequential read of the file).
    /// </summary>
    public static SegmentFile Open(string path, SegmentKind expectedKind, bool verifyChecksums = true)
    {
        path = Path.GetFullPath(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"Segment file '{path}' does not exist.", path);
        long length = new FileInfo(path).Length;
        if (length < SegmentFormat.HeaderSize + SegmentFormat.FooterSize)
            throw new CorruptSegmentException(path, $"file is {length} bytes, shorter than a header and footer (truncated?)");

        var map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        MemoryMappedViewAccessor? view = null;
        bool acquired = false;
        try
        {
            view = map.CreateViewAccessor(0, length, MemoryMappedFileAccess.Read);
            byte* ptr = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref ptr);
            acquired = true;
            ptr += view.PointerOffset;
            var (kind, sections) = Validate(path, ptr, length, expectedKind, verifyChecksums);
            return new SegmentFile(path, map, view, ptr, length, kind, sections);
        }
        catch
        {
            if (acquired) view!.SafeMemoryMappedViewHandle.ReleasePointer();
            view?.Dispose();
            map.Dispose();
            throw;
        }
    }

    private static (SegmentKind, Dictionary<uint, (long, long, ulong)>) Validate(
        string path, byte* ptr, long length, SegmentKind expectedKind, bool verifyChecksums)
    {
        var header = new ReadOnlySpan<byte>(ptr, SegmentFormat.HeaderSize);
        if (BinaryPrimitives.ReadUInt64LittleEndian(header) != SegmentFormat.HeaderMagic)
            throw new CorruptSegmentException(path, "bad header magic (not a Shoal segment)");
        uint version = BinaryPrimitives.ReadUInt32LittleEndian(header[8..]);
        if (version != SegmentFormat.CurrentVersion)
            throw new CorruptSegmentException(path, $"format version {version} is not supported (this build reads {SegmentFormat.CurrentVersion})");
        var kind = (SegmentKind)BinaryPrimitives.ReadUInt32LittleEndian(header[12..]);
        if (kind != expectedKind)
            throw new CorruptSegmentException(path, $"segment kind {kind} where {expectedKind} was expected");
        uint count = BinaryPrimitives.ReadUInt32LittleEndian(header[16..]);
        long directoryOffset = BinaryPrimitives.ReadInt64LittleEndian(header[24..]);

        var footer = new ReadOnlySpan<byte>(ptr + length - SegmentFormat.FooterSize, SegmentFormat.FooterSize);
        if (BinaryPrimitives.ReadUInt64LittleEndian(footer[8..]) != SegmentFormat.FooterMagic)
            throw new CorruptSegmentException(path, "footer magic missing (file truncated or not fully written)");
        long directoryLength = (long)count * SegmentFormat.DirectoryEntrySize;
        if (count > 4096 || directoryOffset < SegmentFormat.HeaderSize ||
            directoryOffset + directoryLength != length - SegmentFormat.FooterSize)
            throw new CorruptSegmentException(path, "section directory lies outside the file (truncated?)");

        var directory = new ReadOnlySpan<byte>(ptr + directoryOffset, (int)directoryLength);
        var metaHash = new XxHash3();
        metaHash.Append(header);
        metaHash.Append(directory);
        if (metaHash.GetCurrentHashAsUInt64() != BinaryPrimitives.ReadUInt64LittleEndian(footer))
            throw new CorruptSegmentException(path, "header/directory checksum mismatch");

        var sections = new Dictionary<uint, (long, long, ulong)>((int)count);
        for (int i = 0; i < count; i++)
        {
            var e = directory.Slice(i * SegmentFormat.DirectoryEntrySize, SegmentFormat.DirectoryEntrySize);
            uint id = BinaryPrimitives.ReadUInt32LittleEndian(e);
            long offset = BinaryPrimitives.ReadInt64LittleEndian(e[8..]);
            long len = BinaryPrimitives.ReadInt64LittleEndian(e[16..]);
            ulong hash = BinaryPrimitives.ReadUInt64LittleEndian(e[24..]);
            if (offset < SegmentFormat.HeaderSize || len < 0 || offset > directoryOffset || len > directoryOffset - offset)
                throw new CorruptSegmentException(path, $"section {id} [{offset}, +{len}) lies outside the file");
            if (verifyChecksums && HashRange(ptr + offset, len) != hash)
                throw new CorruptSegmentException(path, $"section {id} checksum mismatch (corrupt data)");
            sections[id] = (offset, len, hash);
        }
        return (kind, sections);
    }

    private static ulong HashRange(byte* start, long length)
    {
        var hash = new XxHash3();
        const int Chunk = 1 << 30;
        for (long done = 0; done < length; done += Chunk)
            hash.Append(new ReadOnlySpan<byte>(start + done, (int)Math.Min(Chunk, length - done)));
        return hash.GetCurrentHashAsUInt64();
    }

    /// <summary>True when the directory has a section with this id.</summary>
    public bool HasSection(uint id) => _sections.ContainsKey(id);

    /// <summary>Pointer to the start of a section and its length in bytes.</summary>
    public byte* SectionPointer(uint id, out long length)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        if (!_sections.TryGetValue(id, out var s))
            throw new CorruptSegmentException(FilePath, $"required section {id} is missing");
        length = s.Length;
        return _base + s.Offset;
    }

    /// <summary>A section viewed as a span of <typeparamref name="T"/>; its length must be a whole number of elements.</summary>
    public ReadOnlySpan<T> Section<T>(uint id) where T : unmanaged
    {
        byte* p = SectionPointer(id, out long length);
        if (length % sizeof(T) != 0)
            throw new CorruptSegmentException(FilePath, $"section {id} length {length} is not a multiple of {sizeof(T)}");
        long count = length / sizeof(T);
        if (count > int.MaxValue) throw new CorruptSegmentException(FilePath, $"section {id} is larger than a span can address");
        return new ReadOnlySpan<T>(p, (int)count);
    }

    /// <summary>Reads one unmanaged struct that fills a whole section.</summary>
    public T ReadStruct<T>(uint id) where T : unmanaged
    {
        byte* p = SectionPointer(id, out long length);
        if (length != sizeof(T)) throw new CorruptSegmentException(FilePath, $"section {id} has {length} bytes, expected {sizeof(T)}");
        return MemoryMarshal.Read<T>(new ReadOnlySpan<byte>(p, sizeof(T)));
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _map.Dispose();
    }
}
