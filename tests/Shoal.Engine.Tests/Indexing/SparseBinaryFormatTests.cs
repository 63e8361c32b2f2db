using System.Buffers;
using System.Buffers.Binary;
using System.IO.Compression;
using Shoal.Engine.Indexing;
using Shoal.Engine.Ingest;
using Shoal.Engine.Sparse;

namespace Shoal.Engine.Tests.Indexing;

/// <summary>SHOALSPV, the binary learned-sparse source of indexing jobs: round trip, chunked reading with exact resume, record rules and damage.</summary>
public sealed class SparseBinaryFormatTests : IDisposable
{
    private readonly TempFiles _files = new();

    private static SparseVocabulary Vocabulary { get; } = SparseVocabulary.Load(TestData.Require("tokenizers/bert-base-uncased-vocab.txt"));

    public void Dispose() => _files.Dispose();

    private static List<SparseDocument> RealDocuments() =>
        [.. SparseCorpusReader.Read(TestData.Require("seismic-toy-splade/documents.jsonl"), Vocabulary)];

    private static List<SparseSpillRecord> ReadAll(SparseBinaryChunkReader reader, int chunk)
    {
        var all = new List<SparseSpillRecord>();
        while (!reader.EndOfInput)
        {
            var c = reader.ReadChunk(chunk);
            Assert.Empty(c.Malformed);
            all.AddRange(c.Records);
        }
        return all;
    }

    [Fact]
    public void Real_splade_vectors_written_as_binary_read_back_equal_to_their_json_lines()
    {
        var expected = RealDocuments();
        string path = _files.PathOf("docs.shoalspv");
        SparseBinaryFormat.Write(path, expected, Vocabulary.Count);

        Assert.True(SparseBinaryFormat.IsBinary(path));
        Assert.False(SparseBinaryFormat.IsBinary(TestData.Require("seismic-toy-splade/documents.jsonl")));
        using var reader = SparseBinaryChunkReader.Open(path, Vocabulary);
        var actual = ReadAll(reader, 7);
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].Id, actual[i].Id);
            Assert.Equal(expected[i].Text, actual[i].Text);
            Assert.Equal(expected[i].Vector.Terms, actual[i].Terms);
            Assert.Equal(expected[i].Vector.Weights, actual[i].Weights);
            Assert.Equal(i + 1, actual[i].Line);
        }
        Assert.Equal(expected.Count, reader.LinesDone);
        Assert.Equal(reader.Length, reader.BytesRead);
    }

    [Fact]
    public void A_reader_opened_at_a_checkpoint_reads_what_a_reader_that_got_there_reads_next_also_through_gzip()
    {
        var docs = RealDocuments();
        string plain = _files.PathOf("docs.shoalspv");
        SparseBinaryFormat.Write(plain, docs, Vocabulary.Count);
        string gzip = _files.PathOf("docs.shoalspv.gz");
        using (var input = File.OpenRead(plain))
        using (var output = File.Create(gzip))
        using (var z = new GZipStream(output, CompressionLevel.Fastest))
            input.CopyTo(z);
        Assert.True(SparseBinaryFormat.IsBinary(gzip));

        foreach (string path in new[] { plain, gzip })
        {
            using var straight = SparseBinaryChunkReader.Open(path, Vocabulary);
            var first = straight.ReadChunk(5);
            Assert.Equal(5, first.Lines);
            Assert.False(first.EndOfInput);
            var next = straight.ReadChunk(4);

            using var resumed = SparseBinaryChunkReader.Open(path, Vocabulary, recordsDone: 5);
            var again = resumed.ReadChunk(4);
            Assert.Equal(6, again.FirstLine);
            Assert.Equal(next.Records.Select(r => (r.Line, r.Id)), again.Records.Select(r => (r.Line, r.Id)));
            Assert.Equal(next.Records.Select(r => r.Weights.Sum()), again.Records.Select(r => r.Weights.Sum()));

            var rest = ReadAll(resumed, 1000);
            Assert.Equal(docs.Count - 9, rest.Count);
            Assert.True(resumed.EndOfInput);
        }

        var error = Assert.Throws<InvalidDataException>(() => SparseBinaryChunkReader.Open(plain, Vocabulary, recordsDone: docs.Count + 1));
        Assert.Contains("checkpoint", error.Message);
    }

    [Fact]
    public void Records_that_break_the_vector_rules_are_reported_with_their_number_and_zero_weights_are_dropped()
    {
        var output = new ArrayBufferWriter<byte>();
        output.Write(SparseBinaryFormat.Header(Vocabulary.Count));
        SparseBinaryFormat.WriteRecord(output, "good", "some text", [3, 10, 20], [1f, 0f, 2f]);
        SparseBinaryFormat.WriteRecord(output, "outside", null, [Vocabulary.Count], [1f]);
        SparseBinaryFormat.WriteRecord(output, "unsorted", null, [10, 3], [1f, 1f]);
        SparseBinaryFormat.WriteRecord(output, "repeated", null, [4, 4], [1f, 1f]);
        SparseBinaryFormat.WriteRecord(output, "negative", null, [4], [-1f]);
        SparseBinaryFormat.WriteRecord(output, "nan", null, [4], [float.NaN]);
        SparseBinaryFormat.WriteRecord(output, " ", null, [4], [1f]);
        SparseBinaryFormat.WriteRecord(output, "empty", null, [], []);
        string path = _files.WriteBytes("rules.shoalspv", output.WrittenSpan.ToArray());

        using var reader = SparseBinaryChunkReader.Open(path, Vocabulary);
        var chunk = reader.ReadChunk(100);
        Assert.True(chunk.EndOfInput);
        Assert.Equal(8, chunk.Lines);
        Assert.Equal(["good", "empty"], chunk.Records.Select(r => r.Id));
        Assert.Equal([3, 20], chunk.Records[0].Terms);
        Assert.Equal([1f, 2f], chunk.Records[0].Weights);
        Assert.Equal("some text", chunk.Records[0].Text);
        Assert.Null(chunk.Records[1].Text);
        Assert.Equal([2L, 3, 4, 5, 6, 7], chunk.Malformed.Select(m => m.Line));
        Assert.Contains("outside the vocabulary", chunk.Malformed[0].Reason);
        Assert.Contains("not ascending", chunk.Malformed[1].Reason);
        Assert.Contains("more than once", chunk.Malformed[2].Reason);
        Assert.Contains("negative weight", chunk.Malformed[3].Reason);
        Assert.Contains("non-finite", chunk.Malformed[4].Reason);
        Assert.Contains("empty document id", chunk.Malformed[5].Reason);
    }

    [Fact]
    public void A_truncated_file_a_record_that_does_not_add_up_and_another_vocabulary_are_refused()
    {
        var output = new ArrayBufferWriter<byte>();
        output.Write(SparseBinaryFormat.Header(Vocabulary.Count));
        SparseBinaryFormat.WriteRecord(output, "a", null, [1, 2], [1f, 2f]);
        SparseBinaryFormat.WriteRecord(output, "b", null, [1, 2], [1f, 2f]);
        var bytes = output.WrittenSpan.ToArray();

        string truncated = _files.WriteBytes("truncated.shoalspv", bytes[..^3]);
        using (var reader = SparseBinaryChunkReader.Open(truncated, Vocabulary))
            Assert.Contains("record 2", Assert.Throws<InvalidDataException>(() => reader.ReadChunk(10)).Message);

        var bad = (byte[])bytes.Clone();
        BinaryPrimitives.WriteUInt32LittleEndian(bad.AsSpan(SparseBinaryFormat.HeaderSize), 13);
        string inconsistent = _files.WriteBytes("inconsistent.shoalspv", bad);
        using (var reader = SparseBinaryChunkReader.Open(inconsistent, Vocabulary))
            Assert.Contains("record 1", Assert.Throws<InvalidDataException>(() => reader.ReadChunk(10)).Message);

        var other = (byte[])bytes.Clone();
        SparseBinaryFormat.Header(Vocabulary.Count + 1).CopyTo(other, 0);
        string otherVocabulary = _files.WriteBytes("other.shoalspv", other);
        Assert.Contains("vocabulary", Assert.Throws<InvalidDataException>(() => SparseBinaryChunkReader.Open(otherVocabulary, Vocabulary)).Message);

        string json = _files.Write("docs.jsonl", """{"id": "a", "vector": {"apple": 1}}""");
        Assert.Throws<InvalidDataException>(() => SparseBinaryChunkReader.Open(json, Vocabulary));
    }

    [Fact]
    public void A_spill_build_from_the_binary_source_equals_one_from_the_json_lines()
    {
        var docs = RealDocuments();
        string binary = _files.PathOf("docs.shoalspv");
        SparseBinaryFormat.Write(binary, docs, Vocabulary.Count);
        using var json = SparseChunkReader.Open(TestData.Require("seismic-toy-splade/documents.jsonl"), Vocabulary);
        using var bin = SparseBinaryChunkReader.Open(binary, Vocabulary);
        var fromJson = new List<SparseSpillRecord>();
        while (!json.EndOfInput) fromJson.AddRange(json.ReadChunk(10).Records);
        var fromBinary = ReadAll(bin, 10);

        string a = _files.PathOf("a.spill"), b = _files.PathOf("b.spill");
        IndexSpill.WriteSparse(a, fromJson);
        IndexSpill.WriteSparse(b, fromBinary);
        var x = IndexSpill.ReadSparse(a).ToList();
        var y = IndexSpill.ReadSparse(b).ToList();
        Assert.Equal(x.Count, y.Count);
        for (int i = 0; i < x.Count; i++)
        {
            Assert.Equal(x[i].Id, y[i].Id);
            Assert.Equal(x[i].Line, y[i].Line);
            Assert.Equal(x[i].Terms, y[i].Terms);
            Assert.Equal(x[i].Weights, y[i].Weights);
        }
    }
}
