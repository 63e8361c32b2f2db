using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using System.Text;

namespace Shoal.Engine.Dense;

/// <summary>
/// A <see cref="DenseVectorFile"/> opened by memory mapping: rows are read in place, without a copy,
/// so a file larger than the managed heap can be passed to <see cref="DenseSegmentWriter"/>. Opening
/// checks the header and the file length; <see cref="Validate"/> checks every component is finite.
/// </summary>
public sealed unsafe class MappedDenseVectors : IDisposable
{
    private readonly MemoryMappedFile _map;
    private readonly MemoryMappedViewAccessor _view;
    private readonly byte* _base;
    private readonly DenseVectorFile.Header _header;
    private int _disposed;

    private MappedDenseVectors(string path, MemoryMappedFile map, MemoryMappedViewAccessor view, byte* basePtr, DenseVectorFile.Header header)
    {
        FilePath = path;
        _map = map;
        _view = view;
        _base = basePtr;
        _header = header;
    }

    /// <summary>Maps <paramref name="path"/> (which must be an uncompressed SHOALVEC file).</summary>
    public static MappedDenseVectors Open(string path)
    {
        path = Path.GetFullPath(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"Vector file '{path}' does not exist.", path);
        long length = new FileInfo(path).Length;
        if (length < DenseVectorFile.HeaderSize) throw new DenseVectorException(path, 0, "file is shorter than the 64-byte header (truncated?)");
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
            var header = DenseVectorFile.ParseHeader(path, new ReadOnlySpan<byte>(ptr, DenseVectorFile.HeaderSize), length);
            return new MappedDenseVectors(path, map, view, ptr, header);
        }
        catch
        {
            if (acquired) view!.SafeMemoryMappedViewHandle.ReleasePointer();
            view?.Dispose();
            map.Dispose();
            throw;
        }
    }

    /// <summary>The mapped file.</summary>
    public string FilePath { get; }

    /// <summary>Rows in the file.</summary>
    public int Count => (int)_header.Count;

    /// <summary>Dimensions per row.</summary>
    public int Dims => _header.Dims;

    /// <summary>All rows, row-major (only when they fit one span: count x dims &lt;= int.MaxValue).</summary>
    public ReadOnlySpan<float> Rows
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed != 0, this);
            long n = _header.Count * _header.Dims;
            if (n > int.MaxValue) throw new InvalidOperationException($"{n} floats do not fit one span; use Row(i).");
            return new ReadOnlySpan<float>(_base + _header.RowsOffset, (int)n);
        }
    }

    /// <summary>Row <paramref name="i"/>.</summary>
    public ReadOnlySpan<float> Row(int i)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        ArgumentOutOfRangeException.ThrowIfNegative(i);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(i, Count);
        return new ReadOnlySpan<float>(_base + _header.RowsOffset + (long)i * _header.Dims * sizeof(float), _header.Dims);
    }

    /// <summary>Reads the ids block; throws <see cref="DenseVectorException"/> when it is damaged.</summary>
    public string[] ReadIds()
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        var ids = new string[Count];
        var block = new ReadOnlySpan<byte>(_base + _header.IdsOffset, checked((int)_header.IdsLength));
        int pos = 0;
        for (int i = 0; i < ids.Length; i++)
        {
            if (pos + 4 > block.Length) throw new DenseVectorException(FilePath, i + 1, "ids block ends early", unit: "record");
            int len = (int)BinaryPrimitives.ReadUInt32LittleEndian(block[pos..]);
            pos += 4;
            if (len <= 0 || len > block.Length - pos) throw new DenseVectorException(FilePath, i + 1, $"id length {len} is invalid", unit: "record");
            ids[i] = Encoding.UTF8.GetString(block.Slice(pos, len));
            pos += len;
        }
        return ids;
    }

    /// <summary>Throws <see cref="DenseVectorException"/> naming the first row with a NaN or infinite component.</summary>
    public void Validate()
    {
        for (int i = 0; i < Count; i++)
        {
            if (!DenseKernels.AllFinite(Row(i), out int bad))
                throw new DenseVectorException(FilePath, i + 1, $"component {bad} is NaN or infinite", unit: "record");
        }
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
