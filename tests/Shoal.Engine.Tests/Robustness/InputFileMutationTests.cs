using System.IO.Compression;
using System.Text;
using FsCheck.Xunit;
using Shoal.Engine.Dense;
using Shoal.Evaluation;
using Shoal.Engine.Ingest;
using Shoal.Engine.Sparse;

namespace Shoal.Engine.Tests.Robustness;

/// <summary>
/// Files a user hands to Shoal (corpus, sparse and dense vectors, SHOALVEC, vocabularies, topics,
/// qrels, runs): every mutant is read, or refused with a <see cref="FormatException"/> (the file
/// readers' error, naming file and line) — never another exception, a hang or a huge allocation.
/// </summary>
public sealed class InputFileMutationTests : IDisposable
{
    private readonly TempFiles _files = new();

    public void Dispose() => _files.Dispose();

    private static readonly SparseVocabulary Vocabulary = SparseVocabulary.FromTokens(["tide", "moon", "sea"]);

    private static readonly (string Name, string Content, Action<string> Read)[] Readers =
    [
        ("corpus.jsonl", "{\"_id\": \"d1\", \"title\": \"T\", \"text\": \"tides\"}\n{\"_id\": \"d2\", \"text\": \"moon\"}\n",
            p => CorpusReader.Read(p, CorpusFormat.BeirJsonl).ToList()),
        ("corpus.tsv", "d1\ttides and moon\nd2\tsea\n", p => CorpusReader.Read(p, CorpusFormat.Tsv).ToList()),
        ("sparse.jsonl", "{\"id\": \"s1\", \"vector\": {\"tide\": 1.5, \"moon\": 2}}\n{\"id\": \"s2\", \"vector\": {\"sea\": 0.5}}\n",
            p => SparseCorpusReader.Read(p, Vocabulary).ToList()),
        ("sparse-queries.jsonl", "{\"id\": \"q1\", \"vector\": {\"tide\": 1}}\n", p => SparseCorpusReader.ReadQueries(p, Vocabulary)),
        ("dense.jsonl", "{\"id\": \"a\", \"vector\": [0.5, 1, -2]}\n{\"id\": \"b\", \"vector\": [1e-3, 0, 3]}\n",
            p => DenseVectorReader.Read(p, null).ToList()),
        ("queries.jsonl", "{\"_id\": \"1\", \"text\": \"moon\"}\n{\"_id\": \"2\", \"text\": \"tides\"}\n", p => TopicReader.Load(p)),
        ("qrels.tsv", "query-id\tcorpus-id\tscore\n1\td1\t1\n2\td2\t2\n", p => Qrels.Load(p)),
        ("qrels.trec", "1 0 d1 1\n2 0 d2 0\n", p => Qrels.Load(p)),
        ("run.trec", "1 Q0 d1 1 12.5 shoal\n1 Q0 d2 2 11.25 shoal\n", p => RunFile.Load(p)),
        ("vocab.txt", "[PAD]\ntide\nmoon\n", p => SparseVocabulary.Load(p)),
    ];

    private void ReadOrFormatException(string name, byte[] content, Action<string> read, string what)
    {
        string path = _files.WriteBytes(name, content);
        var ex = Record.Exception(() => read(path));
        Assert.True(ex is null or FormatException, $"{name} {what}: {ex}");
    }

    [Fact]
    public void Mutants_of_every_input_format_are_read_or_refused_with_FormatException()
    {
        foreach (var (name, content, read) in Readers)
        {
            ReadOrFormatException(name, Encoding.UTF8.GetBytes(content), read, "valid");
            for (int seed = 0; seed < 120; seed++)
                ReadOrFormatException(name, Mutations.MutateText(content, seed), read, $"seed {seed}");
            foreach (var invalid in Mutations.InvalidUtf8)
                ReadOrFormatException(name, [.. Encoding.UTF8.GetBytes(content[..8]), .. invalid, .. Encoding.UTF8.GetBytes(content[8..])], read, "invalid UTF-8");
            ReadOrFormatException(name, Encoding.UTF8.GetBytes(Mutations.DeepJson(20_000, objects: false) + "\n"), read, "deep JSON");
        }
    }

    [Fact]
    public void Gzip_inputs_that_are_damaged_are_refused_with_FormatException()
    {
        foreach (var (name, content, read) in Readers)
        {
            using var buffer = new MemoryStream();
            using (var gz = new GZipStream(buffer, CompressionLevel.Fastest, leaveOpen: true))
                gz.Write(Encoding.UTF8.GetBytes(content));
            byte[] gzip = buffer.ToArray();
            for (int seed = 0; seed < 30; seed++)
                ReadOrFormatException(name + ".gz", Mutations.Mutate(gzip, seed), read, $"gzip seed {seed}");
        }
    }

    [Property(MaxTest = 60)]
    public void Arbitrary_bytes_are_read_or_refused_with_FormatException(byte[] content)
    {
        foreach (var (name, _, read) in Readers) ReadOrFormatException(name, content, read, "arbitrary");
    }

    private byte[] ValidShoalVec()
    {
        string path = _files.PathOf("valid.shoalvec");
        DenseVectorFile.Write(path, ["a", "bé", "c"], [1f, 2f, 3f, 4f, 5f, 6f, 7f, 8f, 9f], 3);
        return File.ReadAllBytes(path);
    }

    [Fact]
    public void Shoalvec_mutants_are_read_or_refused_with_DenseVectorException()
    {
        byte[] valid = ValidShoalVec();
        for (int seed = 0; seed < 800; seed++)
        {
            string path = _files.WriteBytes("m.shoalvec", Mutations.Mutate(valid, seed));
            var ex = Record.Exception(() => DenseVectorReader.Read(path, null).ToList());
            Assert.True(ex is null or DenseVectorException, $"seed {seed}: {ex}");
        }
    }

    [Fact]
    public void A_gzipped_shoalvec_with_a_huge_ids_length_is_refused_without_allocating_it()
    {
        byte[] valid = ValidShoalVec();
        foreach (ulong idsLength in new ulong[] { int.MaxValue, 1UL << 31, 1UL << 40, (ulong)long.MaxValue / 2 })
        {
            var header = (byte[])valid.Clone();
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(header.AsSpan(32), idsLength);
            // Rows offset after the claimed ids, aligned, so the header's own checks pass and only the data can refute it.
            ulong rows = (64 + idsLength + 63) / 64 * 64;
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(header.AsSpan(40), rows);
            using var buffer = new MemoryStream();
            using (var gz = new GZipStream(buffer, CompressionLevel.Fastest, leaveOpen: true)) gz.Write(header);
            string path = _files.WriteBytes("huge.shoalvec.gz", buffer.ToArray());
            long before = GC.GetAllocatedBytesForCurrentThread();
            Assert.Throws<DenseVectorException>(() => DenseVectorReader.Read(path, null).ToList());
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.True(allocated < 64 << 20, $"ids length {idsLength}: allocated {allocated} bytes");
        }
    }
}
