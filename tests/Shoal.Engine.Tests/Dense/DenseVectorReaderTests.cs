using System.IO.Compression;
using System.Text;
using Shoal.Engine.Dense;
using Shoal.Engine.Ingest;

namespace Shoal.Engine.Tests.Dense;

public sealed class DenseVectorReaderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("shoal-densevec-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string WriteText(string name, string text)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void Reads_the_Anserini_sample_documents_and_topics()
    {
        string docs = TestData.Require("anserini-sample-vectors/cosdpr-distil.sample100.json");
        var all = DenseVectorReader.Read(docs, 768).ToList();
        Assert.Equal(100, all.Count);
        Assert.Equal("0", all[0].Id);
        Assert.All(all, v => Assert.Equal(768, v.Vector.Length));
        Assert.Equal(-0.00862905103713274f, all[0].Vector[0]);
        Assert.Equal(100, all.Select(v => v.Id).Distinct().Count());

        string topics = TestData.Require("anserini-sample-vectors/sample-topics.msmarco-passage-dev-cosdpr-distil.jsonl");
        var queries = DenseVectorReader.Read(topics, null).ToList();
        Assert.Equal(2, queries.Count);
        Assert.Equal("1048585", queries[0].Id);
        Assert.All(queries, q => Assert.Equal(768, q.Vector.Length));
    }

    [Fact]
    public void Reads_id_variants_numbers_blank_lines_and_gzip()
    {
        string text = "{\"id\":\"a\",\"vector\":[1,2,3]}\n\n{\"_id\":\"b\",\"extra\":{\"x\":[1]},\"vector\":[4.5,-1e-3,0]}\r\n{\"docid\":7,\"vector\":[0,0,1]}";
        string plain = WriteText("v.jsonl", text);
        string gz = Path.Combine(_dir, "v.data"); // no .gz suffix: detected by magic bytes
        using (var f = File.Create(gz))
        using (var z = new GZipStream(f, CompressionLevel.Fastest))
            z.Write(Encoding.UTF8.GetBytes(text));
        foreach (string path in new[] { plain, gz })
        {
            var all = DenseVectorReader.Read(path, 3).ToList();
            Assert.Equal(new[] { "a", "b", "7" }, all.Select(v => v.Id));
            Assert.Equal(new[] { 4.5f, -1e-3f, 0f }, all[1].Vector);
        }
    }

    [Fact]
    public void Binary_format_round_trips_plain_and_gzipped()
    {
        string[] ids = ["x", "ü-ñ", "a b"];
        float[] rows = [1, 2, 3, 4, -5, 6.25f, 7, 8, 9];
        string path = Path.Combine(_dir, "v.bin");
        DenseVectorFile.Write(path, ids, rows, 3);
        Assert.True(DenseVectorFile.IsBinary(path));
        var all = DenseVectorReader.Read(path, 3).ToList();
        Assert.Equal(ids, all.Select(v => v.Id));
        Assert.Equal(rows, all.SelectMany(v => v.Vector));

        using (var mapped = MappedDenseVectors.Open(path))
        {
            Assert.Equal(3, mapped.Count);
            Assert.Equal(3, mapped.Dims);
            Assert.Equal(ids, mapped.ReadIds());
            Assert.Equal(rows, mapped.Rows.ToArray());
            mapped.Validate();
        }

        string gz = Path.Combine(_dir, "v.bin.gz");
        using (var f = File.Create(gz))
        using (var z = new GZipStream(f, CompressionLevel.Fastest))
            z.Write(File.ReadAllBytes(path));
        Assert.Equal(rows, DenseVectorReader.Read(gz, null).SelectMany(v => v.Vector));
    }

    [Fact]
    public void Wrong_dimension_is_refused_naming_file_and_line()
    {
        string path = WriteText("d.jsonl", "{\"id\":\"a\",\"vector\":[1,2,3]}\n{\"id\":\"b\",\"vector\":[1,2]}\n");
        var e = Assert.Throws<DenseVectorException>(() => DenseVectorReader.Read(path, null).ToList());
        Assert.Contains(path, e.Message);
        Assert.Contains("line 2", e.Message);
        Assert.Contains("2 dimensions, expected 3", e.Message);
        Assert.Equal(2, e.Record);

        var e2 = Assert.Throws<DenseVectorException>(() => DenseVectorReader.Read(path, 4).ToList());
        Assert.Contains("line 1", e2.Message);
    }

    [Theory]
    [InlineData("{\"id\":\"a\",\"vector\":[1,NaN,3]}", "NaN")]
    [InlineData("{\"id\":\"a\",\"vector\":[1,Infinity,3]}", "Infinity")]
    [InlineData("{\"id\":\"a\",\"vector\":[1,-Infinity,3]}", "Infinity")]
    [InlineData("{\"id\":\"a\",\"vector\":[1,\"NaN\",3]}", "NaN")]
    [InlineData("{\"id\":\"a\",\"vector\":[1,1e39,3]}", "float32 range")]
    [InlineData("{\"id\":\"a\",\"vector\":[1,1e400,3]}", "float32 range")]
    [InlineData("{\"id\":\"a\",\"vector\":[1,true,3]}", "component 1 is not a number")]
    [InlineData("{\"vector\":[1,2,3]}", "missing or empty id")]
    [InlineData("{\"id\":\"a\"}", "missing \"vector\"")]
    [InlineData("{\"id\":\"a\",\"vector\":[1,2", "malformed JSON")]
    [InlineData("[1,2,3]", "expected a JSON object")]
    public void Invalid_records_are_refused_naming_file_and_line(string badLine, string expected)
    {
        string path = WriteText("bad.jsonl", "{\"id\":\"ok\",\"vector\":[1,2,3]}\n" + badLine + "\n");
        var e = Assert.Throws<DenseVectorException>(() => DenseVectorReader.Read(path, 3).ToList());
        Assert.IsAssignableFrom<FormatException>(e);
        Assert.Contains(path, e.Message);
        Assert.Contains("line 2", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Binary_with_nan_or_truncation_is_refused_naming_file_and_record()
    {
        string path = Path.Combine(_dir, "n.bin");
        DenseVectorFile.Write(path, ["a", "b"], [1, 2, 3, 4], 2);
        byte[] bytes = File.ReadAllBytes(path);
        BitConverter.GetBytes(float.NaN).CopyTo(bytes, bytes.Length - 4); // last component of record 2
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<DenseVectorException>(() => DenseVectorReader.Read(path, 2).ToList());
        Assert.Contains(path, e.Message);
        Assert.Contains("record 2", e.Message);
        Assert.Contains("NaN", e.Message);

        using (var mapped = MappedDenseVectors.Open(path))
            Assert.Contains("record 2", Assert.Throws<DenseVectorException>(mapped.Validate).Message);

        var d = Assert.Throws<DenseVectorException>(() => DenseVectorReader.Read(path, 3).ToList());
        Assert.Contains("2 dimensions, expected 3", d.Message);

        File.WriteAllBytes(path, bytes[..^3]);
        var t = Assert.Throws<DenseVectorException>(() => DenseVectorReader.Read(path, 2).ToList());
        Assert.Contains(path, t.Message);
        Assert.Throws<DenseVectorException>(() => MappedDenseVectors.Open(path));

    }

    [Fact]
    public void Missing_file_is_reported_immediately()
    {
        string path = Path.Combine(_dir, "nope.jsonl");
        var e = Assert.Throws<FileNotFoundException>(() => DenseVectorReader.Read(path, null));
        Assert.Contains(path, e.Message);
    }
}
