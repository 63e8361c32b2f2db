using System.Globalization;
using System.Text;
using Shoal.Engine.Indexing;
using Shoal.Engine.Ingest;
using Shoal.Engine.Snapshots;
using Shoal.Engine.Sparse;
using Shoal.Grains.Contracts;
using Shoal.Grains.Jobs;

namespace Shoal.Integration.Tests.Jobs;

/// <summary>Jobs over SHOALSPV, the binary learned-sparse source (the scale benchmark's path at small N).</summary>
public sealed partial class JobTests
{
    [Fact]
    public async Task A_job_over_a_binary_sparse_source_builds_the_same_segments_as_one_over_the_same_vectors_as_json_lines()
    {
        string dir = Directory.CreateDirectory(Path.Combine(fixture.Data, "spv")).FullName;
        var vocabulary = Vocabulary.Value;
        var docs = SparseCorpusReader.Read(Paths.Shared("seismic-toy-splade", "documents.jsonl"), vocabulary).ToList();
        var random = new Random(18);
        for (int i = 0; i < 480; i++)
        {
            var terms = new SortedSet<int>();
            while (terms.Count < 5 + i % 40) terms.Add(random.Next(vocabulary.Count));
            docs.Add(new SparseDocument($"b{i}", null, new SparseVector([.. terms], [.. terms.Select(_ => (float)(0.05 + random.NextDouble() * 3))])));
        }
        string binary = Path.Combine(dir, "docs.shoalspv");
        SparseBinaryFormat.Write(binary, docs, vocabulary.Count);
        var json = new StringBuilder();
        foreach (var d in docs)
        {
            json.Append(CultureInfo.InvariantCulture, $"{{\"id\": \"{d.Id}\", ");
            if (d.Text is not null) json.Append(CultureInfo.InvariantCulture, $"\"contents\": {System.Text.Json.JsonSerializer.Serialize(d.Text)}, ");
            json.Append("\"vector\": {");
            json.AppendJoin(", ", d.Vector.Terms.Select((t, k) => string.Create(CultureInfo.InvariantCulture, $"{System.Text.Json.JsonSerializer.Serialize(vocabulary.TokenOf(t))}: {d.Vector.Weights[k]:R}")));
            json.Append("}}\n");
        }
        string jsonPath = Write("spv/docs.jsonl", json.ToString());

        await Job("spv-bin").SubmitAsync(new IndexJobRequest { Index = "spv-bin", SparseVectors = binary, Shards = 2, ChunkLines = 64, OnMalformed = "stop" });
        await Job("spv-json").SubmitAsync(new IndexJobRequest { Index = "spv-json", SparseVectors = jsonPath, Shards = 2, ChunkLines = 64, OnMalformed = "stop" });
        var bin = await JobWaits.FinishedAsync(fixture.Cluster, "spv-bin");
        var fromJson = await JobWaits.FinishedAsync(fixture.Cluster, "spv-json");
        Assert.True(bin.State == IndexJobState.Succeeded, bin.Error);
        Assert.True(fromJson.State == IndexJobState.Succeeded, fromJson.Error);
        Assert.Equal("shoalspv", Assert.Single(bin.Sources).Format);
        Assert.Equal("anserini", Assert.Single(fromJson.Sources).Format);
        Assert.Equal(docs.Count, bin.DocumentsIndexed);
        Assert.Equal(docs.Count, bin.LinesRead);
        Assert.Equal(docs.Count / 64 + 1, bin.Chunks);
        Assert.Equal(new FileInfo(binary).Length, bin.BytesRead);

        var catalog = new SnapshotCatalog(Store);
        var a = (await catalog.GetManifestAsync("spv-bin", bin.Version!.Value))!;
        var b = (await catalog.GetManifestAsync("spv-json", fromJson.Version!.Value))!;
        Assert.Equal(b.Shards.Select(s => s.DocCount), a.Shards.Select(s => s.DocCount));
        Assert.Equal(b.Shards.SelectMany(s => s.Segments).Select(g => (g.Channel, g.Xxh3)), a.Shards.SelectMany(s => s.Segments).Select(g => (g.Channel, g.Xxh3)));

        foreach (var query in new[] { docs[3].Vector, docs[25].Vector })
        {
            foreach (bool exact in new[] { true, false })
            {
                var spec = new SparseQuerySpec { TermIds = query.Terms, Weights = query.Weights, Exact = exact };
                var x = await Coordinator.SearchAsync(new SearchRequest { Index = "spv-bin", K = 5, IncludeStored = false, Sparse = spec });
                var y = await Coordinator.SearchAsync(new SearchRequest { Index = "spv-json", K = 5, IncludeStored = false, Sparse = spec });
                Assert.Equal(SearchStatus.Ok, x.Status);
                Assert.Equal(5, x.Hits.Length);
                Assert.Equal(y.Hits.Select(h => (h.Id, h.Score)), x.Hits.Select(h => (h.Id, h.Score)));
            }
        }
    }

    [Fact]
    public async Task A_malformed_record_of_a_binary_sparse_source_stops_the_job_naming_the_record()
    {
        var vocabulary = Vocabulary.Value;
        var docs = new List<SparseDocument>
        {
            new("r1", null, new SparseVector([1, 5], [1f, 2f])),
            new("r2", null, new SparseVector([5, 1], [1f, 2f])),
            new("r3", null, new SparseVector([2], [1f])),
        };
        string path = Path.Combine(fixture.Data, "spv-bad.shoalspv");
        SparseBinaryFormat.Write(path, docs, vocabulary.Count);
        await Job("spv-bad").SubmitAsync(new IndexJobRequest { Index = "spv-bad", SparseVectors = path, Shards = 1, OnMalformed = "stop" });
        var done = await JobWaits.FinishedAsync(fixture.Cluster, "spv-bad");
        Assert.Equal(IndexJobState.Failed, done.State);
        Assert.Contains("Malformed record 2 of sparse vectors", done.Error);
        Assert.Contains("not ascending", done.Error);
    }
}
