using System.IO.Compression;
using System.Text;
using Shoal.Engine.Analysis;
using Shoal.Engine.Ingest;
using Shoal.Engine.Routing;
using Shoal.Engine.Sparse;

namespace Shoal.Engine.Indexing;

/// <summary>
/// An analysed text document as spilled by a chunk: stored fields, BM25 length and distinct terms
/// with their frequencies (in first-occurrence order). <paramref name="Line"/> orders records of
/// the same id: the highest line wins.
/// </summary>
public sealed record TextSpillRecord(long Line, string Id, string? Title, string Text, int Length, string[] Terms, int[] Frequencies);

/// <summary>
/// Spill files: the per-shard output of one chunk of an indexing job, kept until the job builds
/// its segments. A spill is a gzip stream of length-prefixed binary records of one channel, with a
/// header and an end marker (a truncated spill is detected, not half-read). Object names are
/// fixed by (channel, shard, chunk), so a chunk run again after a failure overwrites its own
/// spills and never adds a second copy of a document.
/// </summary>
public static class IndexSpill
{
    private static readonly byte[] Magic = "SHOALSPL"u8.ToArray();
    private const byte FormatVersion = 1;
    private const byte RecordMarker = 1;
    private const byte EndMarker = 0;

    /// <summary>Store key of the spill of <paramref name="chunk"/> for <paramref name="shard"/> of a channel, under <paramref name="prefix"/> (no trailing slash).</summary>
    public static string ChunkKey(string prefix, string channel, int shard, long chunk) =>
        $"{ShardPrefix(prefix, channel, shard)}chunk-{chunk:D8}.spill";

    /// <summary>Key prefix of every spill of one shard of a channel.</summary>
    public static string ShardPrefix(string prefix, string channel, int shard) => $"{prefix}/{channel}/shard-{shard:D4}/";

    /// <summary>The chunk number of a spill key written by <see cref="ChunkKey"/>, or -1.</summary>
    public static long ChunkOf(string key)
    {
        int slash = key.LastIndexOf('/');
        var name = key.AsSpan(slash + 1);
        if (!name.StartsWith("chunk-") || !name.EndsWith(".spill")) return -1;
        return long.TryParse(name["chunk-".Length..^".spill".Length], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long c) ? c : -1;
    }

    /// <summary>
    /// Analyses a chunk's documents in parallel and groups them by shard (<see cref="ShardRouter"/>):
    /// title and text form one field, as in <see cref="IndexVersionBuilder"/>.
    /// </summary>
    public static List<TextSpillRecord>[] AnalyzeText(IReadOnlyList<NumberedDocument> documents, int shards, ITextAnalyzer analyzer, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(documents);
        ArgumentNullException.ThrowIfNull(analyzer);
        ArgumentOutOfRangeException.ThrowIfLessThan(shards, 1);
        var records = new TextSpillRecord[documents.Count];
        Parallel.For(0, documents.Count, new ParallelOptions { CancellationToken = cancellationToken }, () => (Tokens: new List<string>(256), Counts: new Dictionary<string, int>(StringComparer.Ordinal)), (i, _, scratch) =>
        {
            var (line, doc) = documents[i];
            scratch.Tokens.Clear();
            scratch.Counts.Clear();
            if (!string.IsNullOrEmpty(doc.Title)) analyzer.Analyze(doc.Title, scratch.Tokens);
            analyzer.Analyze(doc.Text, scratch.Tokens);
            foreach (var t in scratch.Tokens) scratch.Counts[t] = scratch.Counts.TryGetValue(t, out int c) ? c + 1 : 1;
            var terms = new string[scratch.Counts.Count];
            var freqs = new int[scratch.Counts.Count];
            int j = 0;
            foreach (var (t, f) in scratch.Counts) { terms[j] = t; freqs[j] = f; j++; }
            records[i] = new TextSpillRecord(line, doc.Id, doc.Title, doc.Text, scratch.Tokens.Count, terms, freqs);
            return scratch;
        }, static _ => { });
        return GroupByShard(records, shards, r => r.Id);
    }

    /// <summary>Groups records by the shard of their id, keeping their order.</summary>
    public static List<T>[] GroupByShard<T>(IEnumerable<T> records, int shards, Func<T, string> idOf)
    {
        var result = new List<T>[shards];
        for (int s = 0; s < shards; s++) result[s] = [];
        foreach (var r in records) result[ShardRouter.ShardOf(idOf(r), shards)].Add(r);
        return result;
    }

    /// <summary>Writes text records to a spill file.</summary>
    public static void WriteText(string path, IEnumerable<TextSpillRecord> records) => Write(path, SpillKind.Text, records, static (w, r) =>
    {
        w.Write(r.Line);
        w.Write(r.Id);
        w.Write(r.Title is not null);
        if (r.Title is not null) w.Write(r.Title);
        w.Write(r.Text);
        w.Write7BitEncodedInt(r.Length);
        w.Write7BitEncodedInt(r.Terms.Length);
        for (int i = 0; i < r.Terms.Length; i++)
        {
            w.Write(r.Terms[i]);
            w.Write7BitEncodedInt(r.Frequencies[i]);
        }
    });

    /// <summary>Reads the text records of a spill file, in written order.</summary>
    /// <exception cref="InvalidDataException">Not a text spill, or truncated.</exception>
    /// <remarks>
    /// A term's string is shared by every record of the file that holds the term (a pool per read),
    /// so a shard's build keeps one copy of each distinct term per spill rather than one per
    /// occurrence: at 1M passages per shard that was most of the build's memory.
    /// </remarks>
    public static IEnumerable<TextSpillRecord> ReadText(string path)
    {
        var pool = new Dictionary<string, string>(StringComparer.Ordinal);
        return Read(path, SpillKind.Text, r =>
        {
            long line = r.ReadInt64();
            string id = r.ReadString();
            string? title = r.ReadBoolean() ? r.ReadString() : null;
            string text = r.ReadString();
            int length = r.Read7BitEncodedInt();
            int n = r.Read7BitEncodedInt();
            var terms = new string[n];
            var freqs = new int[n];
            for (int i = 0; i < n; i++)
            {
                string term = r.ReadString();
                if (!pool.TryGetValue(term, out string? shared)) pool.Add(term, shared = term);
                terms[i] = shared;
                freqs[i] = r.Read7BitEncodedInt();
            }
            return new TextSpillRecord(line, id, title, text, length, terms, freqs);
        });
    }

    /// <summary>Writes sparse records to a spill file.</summary>
    public static void WriteSparse(string path, IEnumerable<SparseSpillRecord> records) => Write(path, SpillKind.Sparse, records, static (w, r) =>
    {
        w.Write(r.Line);
        w.Write(r.Id);
        w.Write(r.Text is not null);
        if (r.Text is not null) w.Write(r.Text);
        w.Write7BitEncodedInt(r.Terms.Length);
        for (int i = 0; i < r.Terms.Length; i++)
        {
            w.Write7BitEncodedInt(r.Terms[i]);
            w.Write(r.Weights[i]);
        }
    });

    /// <summary>Reads the sparse records of a spill file, in written order.</summary>
    public static IEnumerable<SparseSpillRecord> ReadSparse(string path) => Read(path, SpillKind.Sparse, static r =>
    {
        long line = r.ReadInt64();
        string id = r.ReadString();
        string? text = r.ReadBoolean() ? r.ReadString() : null;
        int n = r.Read7BitEncodedInt();
        var terms = new int[n];
        var weights = new float[n];
        for (int i = 0; i < n; i++)
        {
            terms[i] = r.Read7BitEncodedInt();
            weights[i] = r.ReadSingle();
        }
        return new SparseSpillRecord(line, id, text, terms, weights);
    });

    /// <summary>Writes dense records to a spill file.</summary>
    public static void WriteDense(string path, IEnumerable<DenseSpillRecord> records) => Write(path, SpillKind.Dense, records, static (w, r) =>
    {
        w.Write(r.Line);
        w.Write(r.Id);
        w.Write7BitEncodedInt(r.Vector.Length);
        foreach (float x in r.Vector) w.Write(x);
    });

    /// <summary>Reads the dense records of a spill file, in written order.</summary>
    public static IEnumerable<DenseSpillRecord> ReadDense(string path) => Read(path, SpillKind.Dense, static r =>
    {
        long line = r.ReadInt64();
        string id = r.ReadString();
        var v = new float[r.Read7BitEncodedInt()];
        for (int i = 0; i < v.Length; i++) v[i] = r.ReadSingle();
        return new DenseSpillRecord(line, id, v);
    });

    /// <summary>A sparse spill record as a <see cref="SparseDocument"/>.</summary>
    public static SparseDocument ToDocument(SparseSpillRecord r) => new(r.Id, r.Text, new SparseVector(r.Terms, r.Weights));

    private enum SpillKind : byte { Text = 1, Sparse = 2, Dense = 3 }

    private static void Write<T>(string path, SpillKind kind, IEnumerable<T> records, Action<BinaryWriter, T> write)
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!);
        using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
        using (var gzip = new GZipStream(file, CompressionLevel.Fastest, leaveOpen: true))
        using (var w = new BinaryWriter(gzip, Encoding.UTF8, leaveOpen: true))
        {
            w.Write(Magic);
            w.Write(FormatVersion);
            w.Write((byte)kind);
            foreach (var r in records)
            {
                w.Write(RecordMarker);
                write(w, r);
            }
            w.Write(EndMarker);
        }
        file.Flush(flushToDisk: true);
    }

    private static IEnumerable<T> Read<T>(string path, SpillKind kind, Func<BinaryReader, T> read)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        using var gzip = new GZipStream(file, CompressionMode.Decompress);
        using var r = new BinaryReader(new BufferedStream(gzip, 1 << 16), Encoding.UTF8);
        T Next(out bool end)
        {
            try
            {
                byte marker = r.ReadByte();
                end = marker == EndMarker;
                if (end) return default!;
                if (marker != RecordMarker) throw new InvalidDataException($"bad record marker {marker}");
                return read(r);
            }
            catch (EndOfStreamException e)
            {
                throw new InvalidDataException($"Spill '{path}' is truncated.", e);
            }
        }
        try
        {
            var magic = r.ReadBytes(Magic.Length);
            if (!magic.AsSpan().SequenceEqual(Magic) || r.ReadByte() != FormatVersion)
                throw new InvalidDataException($"'{path}' is not a spill file of format {FormatVersion}.");
            byte k = r.ReadByte();
            if (k != (byte)kind) throw new InvalidDataException($"Spill '{path}' holds {(SpillKind)k} records, not {kind}.");
        }
        catch (EndOfStreamException e)
        {
            throw new InvalidDataException($"Spill '{path}' is truncated.", e);
        }
        while (true)
        {
            var record = Next(out bool end);
            if (end) yield break;
            yield return record;
        }
    }
}
