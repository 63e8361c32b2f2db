using System.Buffers.Binary;
using System.IO.Hashing;
using Shoal.Engine.Dense;
using Shoal.Engine.Segments;
using Shoal.Engine.Sparse;
using Shoal.Engine.Tests.Text;
using Shoal.Engine.Text;

namespace Shoal.Engine.Tests.Robustness;

/// <summary>
/// Segment files (text, sparse, dense) as read back from the snapshot store: every mutant is either
/// refused with a <see cref="CorruptSegmentException"/> or opens and answers searches. Resealed
/// mutants have their section checksums and header/directory checksum recomputed, so they get past
/// the checksums and test the structural checks that guard the raw-pointer reads.
/// </summary>
public sealed class SegmentMutationTests : IDisposable
{
    private static readonly string[] SegmentQueryWords = ["w0", "w1", "w2", "w7", "w30"];
    private readonly TempFiles _files = new();

    public void Dispose() => _files.Dispose();

    private string TextSegmentPath()
    {
        var builder = new TextIndexBuilder(1, Bm25Parameters.Default, WhitespaceAnalyzer.Instance);
        builder.AddRange(SyntheticCorpus.Documents(60, 40, seed: 5));
        return builder.Build(_ => Path.Combine(_files.Directory, "text")).Shards[0].SegmentPath;
    }

    private string SparseSegmentPath()
    {
        var docs = Sparse.SyntheticSparseCorpus.Documents(40, seed: 3, vocab: 200, meanLength: 8);
        string path = _files.PathOf("sparse.seg");
        SparseSegmentWriter.Write(path, docs, new SparseBuildOptions(SparseBuildOptions.ComputeMaxWeight(docs)));
        return path;
    }

    private string DenseSegmentPath()
    {
        string[] ids = [.. Enumerable.Range(0, 30).Select(i => $"v{i}")];
        var rng = new Random(2);
        float[] rows = [.. Enumerable.Range(0, 30 * 8).Select(_ => (float)rng.NextDouble() - 0.5f)];
        string path = _files.PathOf("dense.seg");
        DenseSegmentWriter.Write(path, ids, rows, new DenseBuildOptions(8, DenseMetric.Dot, DenseStorage.Float32, new HnswParameters(4, 20, 7), Threads: 1));
        return path;
    }

    /// <summary>Opens <paramref name="bytes"/> as the given kind and, when it opens, searches it.</summary>
    private void OpensAndSearchesOrIsCorrupt(SegmentKind kind, byte[] bytes, string what)
    {
        string path = _files.WriteBytes("mutant.seg", bytes);
        var ex = Record.Exception(() =>
        {
            switch (kind)
            {
                case SegmentKind.Text:
                    using (var seg = TextSegment.Open(path))
                    {
                        foreach (var hit in seg.Search(TextQuery.FromTokens(SegmentQueryWords), 10)) _ = seg.GetId(hit.DocId) + seg.GetText(hit.DocId);
                        _ = seg.FindDocument("d5");
                    }
                    break;
                case SegmentKind.Sparse:
                    using (var seg = SparseSegment.Open(path))
                        foreach (var hit in seg.SearchExact(new SparseVector([1, 5, 9], [1f, 0.5f, 2f]), 10)) _ = seg.GetId(hit.DocId);
                    break;
                default:
                    using (var seg = DenseSegment.Open(path))
                        foreach (var hit in seg.SearchExact(new float[8], 5)) _ = seg.GetId(hit.DocId);
                    break;
            }
        });
        Assert.True(ex is null or CorruptSegmentException, $"{kind} {what}: {ex}");
    }

    [Theory]
    [InlineData(SegmentKind.Text)]
    [InlineData(SegmentKind.Sparse)]
    [InlineData(SegmentKind.Dense)]
    public void Mutants_are_refused_as_corrupt_or_still_answer(SegmentKind kind)
    {
        string valid = kind switch { SegmentKind.Text => TextSegmentPath(), SegmentKind.Sparse => SparseSegmentPath(), _ => DenseSegmentPath() };
        byte[] bytes = File.ReadAllBytes(valid);
        for (int seed = 0; seed < 80; seed++)
            OpensAndSearchesOrIsCorrupt(kind, Mutations.Mutate(bytes, seed), $"seed {seed}");
    }

    [Fact]
    public void Resealed_mutants_of_a_text_segment_are_refused_by_its_structural_checks_or_still_answer()
    {
        byte[] bytes = File.ReadAllBytes(TextSegmentPath());
        var sections = Directory(bytes);
        int n = 0;
        foreach (var (id, offset, length) in sections)
        {
            if (length == 0) continue;
            for (int seed = 0; seed < 25; seed++, n++)
            {
                var rng = new Random(seed * 31 + (int)id);
                var mutant = (byte[])bytes.Clone();
                long at = offset + rng.NextInt64(length);
                if (rng.Next(2) == 0 && length >= 4)
                {
                    long field = offset + (rng.NextInt64(length - 3) & ~3L);
                    BinaryPrimitives.WriteUInt32LittleEndian(mutant.AsSpan((int)field), Mutations.HugeLengths[rng.Next(Mutations.HugeLengths.Length)] ^ (uint)rng.Next(2));
                }
                else
                {
                    mutant[at] ^= (byte)(1 << rng.Next(8));
                }
                OpensAndSearchesOrIsCorrupt(SegmentKind.Text, Reseal(mutant), $"section {id} seed {seed}");
            }
        }
        Assert.True(n > 100);
    }

    [Fact]
    public void A_section_length_that_overflows_the_file_is_refused_even_with_valid_checksums()
    {
        byte[] bytes = File.ReadAllBytes(TextSegmentPath());
        long directory = BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(24));
        // Entry 0: offset stays, length becomes huge enough that offset + length wraps negative.
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan((int)directory + 16), long.MaxValue - 10);
        var path = _files.WriteBytes("overflow.seg", Reseal(bytes, sectionHashes: false));
        var ex = Assert.Throws<CorruptSegmentException>(() => TextSegment.Open(path, verifyChecksums: false));
        Assert.Contains("outside the file", ex.Message, StringComparison.Ordinal);
    }

    /// <summary>The section directory: (id, offset, length) per entry.</summary>
    private static List<(uint Id, long Offset, long Length)> Directory(byte[] file)
    {
        uint count = BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(16));
        long directory = BinaryPrimitives.ReadInt64LittleEndian(file.AsSpan(24));
        var list = new List<(uint, long, long)>();
        for (int i = 0; i < count; i++)
        {
            var e = file.AsSpan((int)directory + i * SegmentFormat.DirectoryEntrySize);
            list.Add((BinaryPrimitives.ReadUInt32LittleEndian(e), BinaryPrimitives.ReadInt64LittleEndian(e[8..]), BinaryPrimitives.ReadInt64LittleEndian(e[16..])));
        }
        return list;
    }

    /// <summary>Recomputes every section checksum (when the section lies in the file) and the header/directory checksum.</summary>
    private static byte[] Reseal(byte[] file, bool sectionHashes = true)
    {
        uint count = BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(16));
        long directory = BinaryPrimitives.ReadInt64LittleEndian(file.AsSpan(24));
        if (sectionHashes)
        {
            for (int i = 0; i < count; i++)
            {
                var e = file.AsSpan((int)directory + i * SegmentFormat.DirectoryEntrySize);
                long offset = BinaryPrimitives.ReadInt64LittleEndian(e[8..]);
                long length = BinaryPrimitives.ReadInt64LittleEndian(e[16..]);
                if (offset >= 0 && length >= 0 && offset <= file.Length && length <= file.Length - offset)
                    BinaryPrimitives.WriteUInt64LittleEndian(e[24..], XxHash3.HashToUInt64(file.AsSpan((int)offset, (int)length)));
            }
        }
        var meta = new XxHash3();
        meta.Append(file.AsSpan(0, SegmentFormat.HeaderSize));
        meta.Append(file.AsSpan((int)directory, (int)count * SegmentFormat.DirectoryEntrySize));
        BinaryPrimitives.WriteUInt64LittleEndian(file.AsSpan(file.Length - SegmentFormat.FooterSize), meta.GetCurrentHashAsUInt64());
        return file;
    }
}
