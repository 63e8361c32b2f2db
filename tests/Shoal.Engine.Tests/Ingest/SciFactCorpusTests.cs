using Shoal.Engine.Ingest;
using Xunit;

namespace Shoal.Engine.Tests.Ingest;

/// <summary>Reads the real BEIR SciFact corpus under ../shared/data (always present in CI).</summary>
public sealed class SciFactCorpusTests
{
    [Fact]
    public void ReadsAll5183SciFactDocuments()
    {
        string path = TestData.Require("scifact/corpus.jsonl");
        Assert.Equal(CorpusFormat.BeirJsonl, CorpusFormats.Detect(path));

        int count = 0;
        int titled = 0;
        SourceDocument? first = null;
        var ids = new HashSet<string>(StringComparer.Ordinal);
        foreach (SourceDocument document in CorpusReader.Read(path, CorpusFormat.BeirJsonl))
        {
            first ??= document;
            count++;
            if (!string.IsNullOrWhiteSpace(document.Title))
            {
                titled++;
            }

            Assert.True(ids.Add(document.Id), $"duplicate id {document.Id}");
            Assert.False(string.IsNullOrWhiteSpace(document.Text), $"document {document.Id} has no text");
        }

        Assert.Equal(5183, count);
        Assert.NotNull(first);
        Assert.Equal("4983", first.Id);
        Assert.StartsWith("Microstructural development of human newborn cerebral white matter", first.Title, StringComparison.Ordinal);
        Assert.StartsWith("Alterations of the architecture of cerebral white matter", first.Text, StringComparison.Ordinal);
        Assert.True(titled >= count * 0.95, $"only {titled} of {count} documents have a title");
    }
}
