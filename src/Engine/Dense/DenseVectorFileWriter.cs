using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;

namespace Shoal.Engine.Dense;

/// <summary>
/// Streams a <see cref="DenseVectorFile"/>: the header and ids are written at construction, rows
/// are appended in order, and <see cref="Complete"/> checks the row count and renames the file
/// into place (it is written as <c>path.tmp</c> until then).
/// </summary>
public sealed class DenseVectorFileWriter : IDisposable
{
    private readonly string _path;
    private readonly string _tempPath;
    private readonly FileStream _stream;
    private readonly int _dims;
    private readonly long _count;
    private long _rows;
    private bool _completed;

    /// <summary>Starts a file of <c>ids.Count</c> rows of <paramref name="dims"/> dimensions.</summary>
    public DenseVectorFileWriter(string path, IReadOnlyList<string> ids, int dims)
    {
        ArgumentNullException.ThrowIfNull(ids);
        ArgumentOutOfRangeException.ThrowIfLessThan(dims, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(dims, 65536);
        _path = Path.GetFullPath(path);
        _tempPath = _path + ".tmp";
        _dims = dims;
        _count = ids.Count;
        string? dir = Path.GetDirectoryName(_path);
        if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
        _stream = new FileStream(_tempPath, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        try
        {
            var idBlock = new MemoryStream();
            Span<byte> len = stackalloc byte[4];
            foreach (string id in ids)
            {
                if (string.IsNullOrEmpty(id)) throw new ArgumentException("Ids must be non-empty.", nameof(ids));
                byte[] bytes = Encoding.UTF8.GetBytes(id);
                BinaryPrimitives.WriteUInt32LittleEndian(len, (uint)bytes.Length);
                idBlock.Write(len);
                idBlock.Write(bytes);
            }
            long idsLength = idBlock.Length;
            long rowsOffset = (DenseVectorFile.HeaderSize + idsLength + DenseVectorFile.RowAlignment - 1) / DenseVectorFile.RowAlignment * DenseVectorFile.RowAlignment;
            Span<byte> header = stackalloc byte[DenseVectorFile.HeaderSize];
            header.Clear();
            BinaryPrimitives.WriteUInt64LittleEndian(header, DenseVectorFile.Magic);
            BinaryPrimitives.WriteUInt32LittleEndian(header[8..], DenseVectorFile.Version);
            BinaryPrimitives.WriteUInt32LittleEndian(header[12..], (uint)dims);
            BinaryPrimitives.WriteUInt64LittleEndian(header[16..], (ulong)_count);
            BinaryPrimitives.WriteUInt64LittleEndian(header[24..], DenseVectorFile.HeaderSize);
            BinaryPrimitives.WriteUInt64LittleEndian(header[32..], (ulong)idsLength);
            BinaryPrimitives.WriteUInt64LittleEndian(header[40..], (ulong)rowsOffset);
            _stream.Write(header);
            idBlock.Position = 0;
            idBlock.CopyTo(_stream);
            _stream.Write(new byte[rowsOffset - DenseVectorFile.HeaderSize - idsLength]);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Rows appended so far.</summary>
    public long RowsWritten => _rows;

    /// <summary>Appends whole rows (a multiple of dims floats); every component must be finite.</summary>
    public void Append(ReadOnlySpan<float> rows)
    {
        if (rows.Length % _dims != 0) throw new ArgumentException($"{rows.Length} floats is not a whole number of {_dims}-dimensional rows.", nameof(rows));
        long n = rows.Length / _dims;
        if (_rows + n > _count) throw new InvalidOperationException($"More rows than the {_count} ids.");
        if (!DenseKernels.AllFinite(rows, out int bad))
            throw new ArgumentException($"Row {_rows + bad / _dims} has a non-finite component at dimension {bad % _dims}.", nameof(rows));
        const int Chunk = 1 << 28;
        var bytes = MemoryMarshal.AsBytes(rows);
        for (int done = 0; done < bytes.Length; done += Chunk)
            _stream.Write(bytes.Slice(done, Math.Min(Chunk, bytes.Length - done)));
        _rows += n;
    }

    /// <summary>Checks that every row was written, flushes and moves the file into place.</summary>
    public void Complete()
    {
        if (_rows != _count) throw new InvalidOperationException($"{_rows} rows written for {_count} ids.");
        _stream.Flush(flushToDisk: true);
        _stream.Dispose();
        File.Move(_tempPath, _path, overwrite: true);
        _completed = true;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_completed) return;
        _stream.Dispose();
        try { File.Delete(_tempPath); } catch (IOException) { }
    }
}
