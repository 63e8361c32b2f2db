using System.Buffers.Binary;
using System.IO.Hashing;
using System.Runtime.InteropServices;

namespace Shoal.Engine.Segments;

/// <summary>
/// Writes a segment container: sections are streamed to disk one after another (each hashed
/// as it is written), then the directory and footer. The file is written under a temporary
/// name and renamed into place on <see cref="Complete"/>, so a reader never sees half a file.
/// </summary>
public sealed class SegmentFileWriter : IDisposable
{
    private readonly string _path;
    private readonly string _tempPath;
    private readonly FileStream _stream;
    private readonly SegmentKind _kind;
    private readonly List<(uint Id, long Offset, long Length, ulong Hash)> _sections = [];
    private readonly HashSet<uint> _ids = [];
    private XxHash3? _current;
    private uint _currentId;
    private long _currentStart;
    private bool _completed;

    /// <summary>Starts a new segment file at <paramref name="path"/>.</summary>
    public SegmentFileWriter(string path, SegmentKind kind)
    {
        _path = Path.GetFullPath(path);
        _tempPath = _path + ".tmp";
        _kind = kind;
        Directory.CreateDirectory(Path.GetDirectoryName(_path)!);
        _stream = new FileStream(_tempPath, FileMode.Create, FileAccess.ReadWrite, FileShare.None, 1 << 20);
        _stream.Write(new byte[SegmentFormat.HeaderSize]);
    }

    /// <summary>Begins a section; its bytes follow through the <c>Write</c> methods.</summary>
    public void BeginSection(uint id)
    {
        if (_current is not null) throw new InvalidOperationException($"Section {_currentId} is still open.");
        if (!_ids.Add(id)) throw new InvalidOperationException($"Section {id} was already written.");
        Pad(SegmentFormat.SectionAlignment);
        _current = new XxHash3();
        _currentId = id;
        _currentStart = _stream.Position;
    }

    /// <summary>Appends raw bytes to the open section.</summary>
    public void Write(ReadOnlySpan<byte> bytes)
    {
        if (_current is null) throw new InvalidOperationException("No section is open.");
        _current.Append(bytes);
        _stream.Write(bytes);
    }

    /// <summary>Appends unmanaged values (little-endian machines only, as the reader maps them directly).</summary>
    public void Write<T>(ReadOnlySpan<T> values) where T : unmanaged => Write(MemoryMarshal.AsBytes(values));

    /// <summary>Appends one unmanaged value.</summary>
    public void WriteValue<T>(T value) where T : unmanaged => Write(MemoryMarshal.AsBytes(new ReadOnlySpan<T>(in value)));

    /// <summary>Closes the open section.</summary>
    public void EndSection()
    {
        if (_current is null) throw new InvalidOperationException("No section is open.");
        _sections.Add((_currentId, _currentStart, _stream.Position - _currentStart, _current.GetCurrentHashAsUInt64()));
        _current = null;
    }

    /// <summary>Writes one whole section from a span.</summary>
    public void WriteSection<T>(uint id, ReadOnlySpan<T> values) where T : unmanaged
    {
        BeginSection(id);
        Write(values);
        EndSection();
    }

    /// <summary>Writes the directory, header and footer, flushes to disk and renames the file into place.</summary>
    public void Complete()
    {
        if (_current is not null) throw new InvalidOperationException($"Section {_currentId} is still open.");
        Pad(8);
        long directoryOffset = _stream.Position;
        var directory = new byte[_sections.Count * SegmentFormat.DirectoryEntrySize];
        for (int i = 0; i < _sections.Count; i++)
        {
            var e = directory.AsSpan(i * SegmentFormat.DirectoryEntrySize, SegmentFormat.DirectoryEntrySize);
            BinaryPrimitives.WriteUInt32LittleEndian(e, _sections[i].Id);
            BinaryPrimitives.WriteInt64LittleEndian(e[8..], _sections[i].Offset);
            BinaryPrimitives.WriteInt64LittleEndian(e[16..], _sections[i].Length);
            BinaryPrimitives.WriteUInt64LittleEndian(e[24..], _sections[i].Hash);
        }
        _stream.Write(directory);

        Span<byte> header = stackalloc byte[SegmentFormat.HeaderSize];
        BinaryPrimitives.WriteUInt64LittleEndian(header, SegmentFormat.HeaderMagic);
        BinaryPrimitives.WriteUInt32LittleEndian(header[8..], SegmentFormat.CurrentVersion);
        BinaryPrimitives.WriteUInt32LittleEndian(header[12..], (uint)_kind);
        BinaryPrimitives.WriteUInt32LittleEndian(header[16..], (uint)_sections.Count);
        BinaryPrimitives.WriteUInt32LittleEndian(header[20..], 0);
        BinaryPrimitives.WriteInt64LittleEndian(header[24..], directoryOffset);

        var metaHash = new XxHash3();
        metaHash.Append(header);
        metaHash.Append(directory);
        Span<byte> footer = stackalloc byte[SegmentFormat.FooterSize];
        BinaryPrimitives.WriteUInt64LittleEndian(footer, metaHash.GetCurrentHashAsUInt64());
        BinaryPrimitives.WriteUInt64LittleEndian(footer[8..], SegmentFormat.FooterMagic);
        _stream.Write(footer);

        _stream.Position = 0;
        _stream.Write(header);
        _stream.Flush(flushToDisk: true);
        _stream.Dispose();
        File.Move(_tempPath, _path, overwrite: true);
        _completed = true;
    }

    private void Pad(int alignment)
    {
        long rem = _stream.Position % alignment;
        if (rem != 0) _stream.Write(new byte[alignment - rem]);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_completed) return;
        _stream.Dispose();
        try { File.Delete(_tempPath); } catch (IOException) { }
    }
}
