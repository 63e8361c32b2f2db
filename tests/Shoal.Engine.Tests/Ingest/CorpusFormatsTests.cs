using Shoal.Engine.Ingest;
using Xunit;

using Shoal.Engine.Tests;

namespace Shoal.Engine.Tests.Ingest;

public sealed class CorpusFormatsTests : IDisposable
{
    private const string BeirLine = "{\"_id\": \"d1\", \"title\": \"t\", \"text\": \"x\"}\n";
    private const string MsMarcoLine = "{\"pid\": \"msmarco_passage_00_0\", \"passage\": \"x\", \"docid\": \"msmarco_doc_00_0\"}\n";

    private readonly TempFiles _files = new();

    public void Dispose() => _files.Dispose();

    [Fact]
    public void DetectsByExtensionAndFirstRecord()
    {
        Assert.Equal(CorpusFormat.BeirJsonl, CorpusFormats.Detect(_files.Write("corpus.jsonl", "\n" + BeirLine)));
        Assert.Equal(CorpusFormat.BeirJsonl, CorpusFormats.Detect(_files.Write("corpus.json", BeirLine)));
        Assert.Equal(CorpusFormat.BeirJsonl, CorpusFormats.Detect(_files.WriteGzip("corpus.jsonl.gz", BeirLine)));
        Assert.Equal(CorpusFormat.MsMarcoV2Jsonl, CorpusFormats.Detect(_files.Write("msmarco_passage_00.jsonl", MsMarcoLine)));
        Assert.Equal(CorpusFormat.MsMarcoV2Jsonl, CorpusFormats.Detect(_files.WriteGzip("msmarco_passage_00.JSONL.GZ", MsMarcoLine)));
        Assert.Equal(CorpusFormat.MsMarcoV2Jsonl, CorpusFormats.Detect(_files.Write("passage-only.jsonl", "{\"passage\": \"x\", \"id\": \"1\"}\n")));
        Assert.Equal(CorpusFormat.Tsv, CorpusFormats.Detect(_files.Write("collection.tsv", "1\tx\n")));
        Assert.Equal(CorpusFormat.Tsv, CorpusFormats.Detect(_files.WriteGzip("collection.txt.gz", "1\tx\n")));
    }

    [Fact]
    public void NestedPidDoesNotMeanMsMarco()
    {
        string path = _files.Write("nested.jsonl", "{\"_id\": \"d1\", \"metadata\": {\"pid\": 1, \"passage\": \"p\"}, \"text\": \"x\"}\n");
        Assert.Equal(CorpusFormat.BeirJsonl, CorpusFormats.Detect(path));
    }

    [Fact]
    public void InvalidOrEmptyJsonDefaultsToBeir()
    {
        Assert.Equal(CorpusFormat.BeirJsonl, CorpusFormats.Detect(_files.Write("broken.jsonl", "{not json\n")));
        Assert.Equal(CorpusFormat.BeirJsonl, CorpusFormats.Detect(_files.Write("empty.jsonl", string.Empty)));
    }

    [Fact]
    public void UnknownExtensionIsAClearError()
    {
        string path = _files.Write("corpus.csv", "1,x\n");
        ArgumentException ex = Assert.Throws<ArgumentException>(() => CorpusFormats.Detect(path));
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        Assert.Contains(".jsonl", ex.Message, StringComparison.Ordinal);
        Assert.Contains("msmarco-v2", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MissingFileThrowsFileNotFound()
    {
        Assert.Throws<FileNotFoundException>(() => CorpusFormats.Detect(_files.PathOf("nope.jsonl")));
    }

    [Theory]
    [InlineData("beir", CorpusFormat.BeirJsonl)]
    [InlineData("BEIR", CorpusFormat.BeirJsonl)]
    [InlineData("tsv", CorpusFormat.Tsv)]
    [InlineData(" Tsv ", CorpusFormat.Tsv)]
    [InlineData("msmarco-v2", CorpusFormat.MsMarcoV2Jsonl)]
    [InlineData("MSMARCO-V2", CorpusFormat.MsMarcoV2Jsonl)]
    [InlineData("MsMarcoV2Jsonl", CorpusFormat.MsMarcoV2Jsonl)]
    public void ParsesNamesCaseInsensitively(string name, CorpusFormat expected)
    {
        Assert.Equal(expected, CorpusFormats.Parse(name));
    }

    [Fact]
    public void UnknownNameListsValidNames()
    {
        ArgumentException ex = Assert.Throws<ArgumentException>(() => CorpusFormats.Parse("csv"));
        Assert.Contains("'csv'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("beir, tsv, msmarco-v2", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void NamesRoundTrip()
    {
        foreach (CorpusFormat format in Enum.GetValues<CorpusFormat>())
        {
            Assert.Equal(format, CorpusFormats.Parse(CorpusFormats.Name(format)));
        }
    }
}
