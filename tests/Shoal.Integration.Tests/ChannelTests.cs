using System.Runtime.InteropServices;
using System.Text.Json;
using Shoal.Cli.Commands;
using Shoal.Engine.Dense;
using Shoal.Engine.Ingest;
using Shoal.Engine.Snapshots;
using Shoal.Engine.Sparse;
using Shoal.Grains.Contracts;

namespace Shoal.Integration.Tests;

/// <summary>
/// The sparse and dense channels and hybrid fusion through the real cluster path: ingest,
/// snapshot, shard restore, scatter/gather and merge on a two-silo cluster.
/// </summary>
public sealed class ChannelTests(TwoSiloCluster fixture) : IClassFixture<TwoSiloCluster>, IDisposable
{
    private readonly string _temp = Directory.CreateTempSubdirectory("shoal-channels-").FullName;

    public void Dispose() => TempDirectory.Delete(_temp);

    private IQueryCoordinatorGrain Coordinator => fixture.Cluster.Client.GetGrain<IQueryCoordinatorGrain>(0);

    private static SparseVocabulary Vocabulary { get; } = SparseVocabulary.Load(Paths.Shared("tokenizers", "bert-base-uncased-vocab.txt"));

    [Fact]
    public async Task Sparse_exact_search_over_three_shards_equals_brute_force_on_real_splade_vectors()
    {
        string docsPath = Paths.Shared("seismic-toy-splade", "documents.jsonl");
        var info = await fixture.IngestAsync("toy-splade", new IngestRequest { SparseVectorsPath = docsPath, Shards = 3 });
        Assert.Equal(20, info.DocCount);
        var channel = Assert.Single(info.Channels);
        Assert.Equal("sparse", channel.Name);
        Assert.Equal(30522, channel.VocabularySize);

        // Brute force: one segment over all documents with the same index-wide scale, scored exhaustively.
        var docs = SparseCorpusReader.Read(docsPath, Vocabulary).ToList();
        string single = Path.Combine(_temp, "all.seg");
        SparseSegmentWriter.Write(single, docs, new SparseBuildOptions(SparseBuildOptions.ComputeMaxWeight(docs)));
        using var reference = SparseSegment.Open(single);

        var queries = SparseCorpusReader.ReadQueries(Paths.Shared("seismic-toy-splade", "queries.jsonl"), Vocabulary);
        Assert.Equal(5, queries.Count);
        foreach (var (qid, vector) in queries)
        {
            var response = await Coordinator.SearchAsync(new SearchRequest
            {
                Index = "toy-splade", K = 10,
                Sparse = new SparseQuerySpec { TermIds = vector.Terms, Weights = vector.Weights, Exact = true },
            });
            Assert.True(response.Status == SearchStatus.Ok, response.Error);
            Assert.False(response.Coverage.Partial);
            Assert.Equal(["sparse"], response.Channels);
            var expected = reference.SearchExhaustive(vector, 10);
            Assert.Equal(expected.Select(e => reference.GetId(e.DocId)), response.Hits.Select(h => h.Id));
            Assert.Equal(expected.Select(e => e.Score), response.Hits.Select(h => h.Score));
            // Stored contents come back as the snippet.
            Assert.All(response.Hits, h => Assert.False(string.IsNullOrEmpty(h.Snippet), $"query {qid}: hit {h.Id} has no snippet"));

            // The approximate default, and a query as token weights, reach the same best document.
            var tokens = vector.Terms.Select(t => Vocabulary.TokenOf(t)).ToArray();
            var approx = await Coordinator.SearchAsync(new SearchRequest
            {
                Index = "toy-splade", K = 10,
                Sparse = new SparseQuerySpec { Tokens = tokens, TokenWeights = vector.Weights },
            });
            Assert.True(approx.Status == SearchStatus.Ok, approx.Error);
            Assert.Equal(response.Hits[0].Id, approx.Hits[0].Id);
        }
    }

    [Theory]
    [InlineData("not-a-wordpiece-token", 1.0f, "not in the vocabulary")]
    [InlineData("ny", -1.0f, "ny")]
    [InlineData("ny", float.PositiveInfinity, "ny")]
    public async Task Bad_sparse_query_vectors_are_refused_with_the_reason(string token, float weight, string expected)
    {
        await fixture.IngestAsync("toy-splade-bad", new IngestRequest { SparseVectorsPath = Paths.Shared("seismic-toy-splade", "documents.jsonl") });
        var response = await Coordinator.SearchAsync(new SearchRequest
        {
            Index = "toy-splade-bad",
            Sparse = new SparseQuerySpec { Tokens = [token], TokenWeights = [weight] },
        });
        Assert.Equal(SearchStatus.Invalid, response.Status);
        Assert.Contains(expected, response.Error);
    }

    [Fact]
    public async Task Query_limits_refuse_an_ef_over_max_ef_a_text_over_the_character_limit_and_too_many_sparse_terms()
    {
        await fixture.IngestAsync("limits-sparse", new IngestRequest { SparseVectorsPath = Paths.Shared("seismic-toy-splade", "documents.jsonl") });
        await fixture.IngestAsync("limits-dense", new IngestRequest { DenseVectorsPath = Paths.Shared("anserini-sample-vectors", "cosdpr-distil.sample100.json") });

        async Task RefusedAsync(SearchRequest request, params string[] expected)
        {
            var response = await Coordinator.SearchAsync(request);
            Assert.True(response.Status == SearchStatus.Invalid, $"{response.Status}: {response.Error}");
            foreach (var part in expected) Assert.Contains(part, response.Error, StringComparison.Ordinal);
        }

        var vector = MemoryMarshal.AsBytes(new float[768].Select((_, i) => i == 0 ? 1f : 0f).ToArray().AsSpan()).ToArray();
        int max = new Shoal.Grains.Hosting.ShoalOptions().MaxEf; // the cluster runs with the default
        await RefusedAsync(new SearchRequest { Index = "limits-dense", Dense = new DenseQuerySpec { Vector = vector, Ef = max + 1 } },
            "'dense.ef' must be between 1 and " + max, $"got {max + 1}");
        var ok = await Coordinator.SearchAsync(new SearchRequest { Index = "limits-dense", Dense = new DenseQuerySpec { Vector = vector, Ef = max } });
        Assert.True(ok.Status == SearchStatus.Ok, ok.Error);

        int chars = Shoal.Grains.Query.SearchCoordinator.MaxTextLength;
        await RefusedAsync(new SearchRequest { Index = "limits-sparse", Text = new string('a', chars + 1) },
            $"is {chars + 1} characters; the limit is {chars}");

        int terms = Shoal.Grains.Query.SearchCoordinator.MaxSparseTerms + 1;
        await RefusedAsync(new SearchRequest
        {
            Index = "limits-sparse",
            Sparse = new SparseQuerySpec { Tokens = [.. Enumerable.Range(0, terms).Select(i => $"t{i}")], TokenWeights = [.. Enumerable.Repeat(1f, terms)] },
        }, $"'sparse.vector' has {terms} entries; the limit is {Shoal.Grains.Query.SearchCoordinator.MaxSparseTerms}");
        await RefusedAsync(new SearchRequest
        {
            Index = "limits-sparse",
            Sparse = new SparseQuerySpec { TermIds = [.. Enumerable.Range(0, terms)], Weights = [.. Enumerable.Repeat(1f, terms)] },
        }, $"'sparse.termIds' has {terms} entries");
    }

    [Fact]
    public async Task Sparse_documents_with_unknown_tokens_or_bad_weights_fail_the_build_with_the_line()
    {
        string bad = Path.Combine(_temp, "bad.jsonl");
        await File.WriteAllLinesAsync(bad,
        [
            """{"id": "a", "contents": "x", "vector": {"apple": 1.5}}""",
            """{"id": "b", "contents": "y", "vector": {"zzqqxx-not-a-token": 1.0}}""",
        ]);
        var grain = fixture.Cluster.Client.GetGrain<IIndexGrain>("bad-sparse");
        await grain.StartIngestAsync(new IngestRequest { SparseVectorsPath = bad });
        IngestStatus status;
        do
        {
            await Task.Delay(50);
            status = await grain.GetIngestStatusAsync();
        }
        while (status.State == IngestState.Running);
        Assert.Equal(IngestState.Failed, status.State);
        Assert.Contains("line 2", status.Error);
        Assert.Contains("zzqqxx-not-a-token", status.Error);
    }

    [Fact]
    public async Task Dense_exact_and_hnsw_search_over_three_shards_match_double_precision_brute_force()
    {
        string docsPath = Paths.Shared("anserini-sample-vectors", "cosdpr-distil.sample100.json");
        var info = await fixture.IngestAsync("cosdpr", new IngestRequest { DenseVectorsPath = docsPath, Shards = 3 });
        var channel = Assert.Single(info.Channels);
        Assert.Equal(768, channel.Dims);
        Assert.Equal(100, info.DocCount);

        var docs = DenseVectorReader.Read(docsPath, 768).ToList();
        var queries = DenseVectorReader.Read(Paths.Shared("anserini-sample-vectors", "sample-topics.msmarco-passage-dev-cosdpr-distil.jsonl"), 768)
            .Concat(docs.Take(8)) // documents as queries too: more than the two sample topics
            .ToList();
        foreach (var (qid, q) in queries)
        {
            var expected = docs
                .Select(d => (d.Id, Score: d.Vector.Zip(q, (a, b) => (double)a * b).Sum()))
                .OrderByDescending(x => x.Score).ThenBy(x => x.Id, StringComparer.Ordinal).Take(10).ToList();
            var packed = MemoryMarshal.AsBytes(q.AsSpan()).ToArray();
            var exact = await Coordinator.SearchAsync(new SearchRequest { Index = "cosdpr", K = 10, Dense = new DenseQuerySpec { Vector = packed, Exact = true } });
            Assert.True(exact.Status == SearchStatus.Ok, exact.Error);
            Assert.Equal(expected.Select(e => e.Id), exact.Hits.Select(h => h.Id));
            for (int i = 0; i < 10; i++) Assert.Equal(expected[i].Score, exact.Hits[i].Score, 1e-4);

            var ann = await Coordinator.SearchAsync(new SearchRequest { Index = "cosdpr", K = 10, Dense = new DenseQuerySpec { Vector = packed } });
            Assert.True(ann.Status == SearchStatus.Ok, ann.Error);
            int found = ann.Hits.Count(h => expected.Any(e => e.Id == h.Id));
            Assert.True(found >= 9, $"query {qid}: HNSW found {found} of the exact top 10");
        }

        // A vector of the wrong size is refused, naming both sizes.
        var wrong = await Coordinator.SearchAsync(new SearchRequest { Index = "cosdpr", Dense = new DenseQuerySpec { Vector = new byte[4 * 767] } });
        Assert.Equal(SearchStatus.Invalid, wrong.Status);
        Assert.Contains("767", wrong.Error);
        Assert.Contains("768", wrong.Error);
    }

    [Theory]
    [InlineData("fp16")]
    [InlineData("int8")]
    public async Task Compressed_dense_storage_keeps_recall_at_10_of_at_least_0_99_through_the_cluster(string storage)
    {
        string docsPath = Paths.Shared("anserini-sample-vectors", "cosdpr-distil.sample100.json");
        string index = "cosdpr-" + storage;
        await fixture.IngestAsync(index, new IngestRequest { DenseVectorsPath = docsPath, Shards = 2, DenseStorage = storage });
        var docs = DenseVectorReader.Read(docsPath, 768).ToList();
        int found = 0, wanted = 0;
        foreach (var (_, q) in docs)
        {
            var expected = docs.Select(d => (d.Id, Score: d.Vector.Zip(q, (a, b) => (double)a * b).Sum()))
                .OrderByDescending(x => x.Score).ThenBy(x => x.Id, StringComparer.Ordinal).Take(10).Select(x => x.Id).ToHashSet();
            foreach (bool exact in new[] { true, false })
            {
                var response = await Coordinator.SearchAsync(new SearchRequest
                {
                    Index = index, K = 10, IncludeStored = false,
                    Dense = new DenseQuerySpec { Vector = MemoryMarshal.AsBytes(q.AsSpan()).ToArray(), Exact = exact },
                });
                Assert.True(response.Status == SearchStatus.Ok, response.Error);
                found += response.Hits.Count(h => expected.Contains(h.Id));
                wanted += 10;
            }
        }
        Assert.True(found >= 0.99 * wanted, $"{storage}: recall@10 {(double)found / wanted:F4}");
        Assert.Equal(storage, (await fixture.Cluster.Client.GetGrain<IIndexGrain>(index).GetInfoAsync())!.Channels[0].Storage);
    }

    [Fact]
    public async Task Concurrent_exact_dense_queries_share_passes_over_the_vectors_and_get_unbatched_answers()
    {
        const int Docs = 100_000, Dims = 128, Queries = 64;
        var rng = new Random(7);
        var ids = Enumerable.Range(0, Docs).Select(i => $"v{i:D6}").ToArray();
        var vectors = new float[Docs * Dims];
        for (int i = 0; i < vectors.Length; i++) vectors[i] = (float)(rng.NextDouble() * 2 - 1);
        string path = Path.Combine(_temp, "dense.shoalvec");
        DenseVectorFile.Write(path, ids, vectors, Dims);
        await fixture.IngestAsync("flat-batch", new IngestRequest { DenseVectorsPath = path, DenseIndex = "flat" });

        var queries = Enumerable.Range(0, Queries).Select(_ => Enumerable.Range(0, Dims).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray()).ToArray();
        SearchRequest Request(float[] q) => new()
        {
            Index = "flat-batch", K = 10, IncludeStored = false,
            Dense = new DenseQuerySpec { Vector = MemoryMarshal.AsBytes(q.AsSpan()).ToArray() },
        };
        // One at a time first: these are the unbatched answers.
        var alone = new List<SearchResponse>();
        foreach (var q in queries) alone.Add(await Coordinator.SearchAsync(Request(q)));
        var shard = fixture.Cluster.Client.GetGrain<IShardGrain>("flat-batch/0/0");
        var before = await shard.GetInfoAsync();
        Assert.Equal(Queries, before.DenseExactQueries);

        var together = await Task.WhenAll(queries.Select(q => Coordinator.SearchAsync(Request(q))));
        var after = await shard.GetInfoAsync();
        long passes = after.DensePasses - before.DensePasses;
        Assert.Equal(Queries, after.DenseExactQueries - before.DenseExactQueries);
        // How many passes the burst needs depends on how messages arrive (CI load); the count is
        // asserted deterministically in DenseBatcherTests. Here: every answer equals the unbatched one.
        Assert.InRange(passes, 1, Queries);
        for (int i = 0; i < Queries; i++)
        {
            Assert.Equal(alone[i].Hits.Select(h => h.Id), together[i].Hits.Select(h => h.Id));
            Assert.Equal(alone[i].Hits.Select(h => h.Score), together[i].Hits.Select(h => h.Score));
        }
    }

    [Fact]
    public async Task Hybrid_rrf_over_bm25_sparse_and_dense_equals_a_hand_computation()
    {
        string corpus = Path.Combine(_temp, "hybrid.jsonl");
        await File.WriteAllLinesAsync(corpus,
        [
            """{"_id": "d1", "title": "One", "text": "apple banana"}""",
            """{"_id": "d2", "title": "Two", "text": "apple"}""",
            """{"_id": "d3", "title": "Three", "text": "cherry"}""",
            """{"_id": "d4", "title": "Four", "text": "banana cherry date"}""",
            """{"_id": "d5", "title": "Five", "text": "elderberry"}""",
        ]);
        string sparse = Path.Combine(_temp, "hybrid-sparse.jsonl");
        await File.WriteAllLinesAsync(sparse,
        [
            """{"id": "d3", "vector": {"apple": 3.0}}""",
            """{"id": "d4", "vector": {"apple": 2.0}}""",
            """{"id": "d1", "vector": {"apple": 1.0}}""",
            """{"id": "d5", "vector": {"banana": 1.0}}""",
        ]);
        string dense = Path.Combine(_temp, "hybrid-dense.jsonl");
        await File.WriteAllLinesAsync(dense,
        [
            """{"id": "d1", "vector": [0.0, 1.0]}""",
            """{"id": "d2", "vector": [0.5, 0.0]}""",
            """{"id": "d3", "vector": [-1.0, 0.0]}""",
            """{"id": "d4", "vector": [0.9, 0.0]}""",
            """{"id": "d5", "vector": [0.1, 0.0]}""",
        ]);
        var info = await fixture.IngestAsync("hybrid", new IngestRequest
        {
            CorpusPath = corpus, SparseVectorsPath = sparse, DenseVectorsPath = dense, DenseIndex = "flat", Shards = 2,
        });
        Assert.Equal(["bm25", "sparse", "dense"], info.Channels.Select(c => c.Name));
        Assert.Equal(5, info.DocCount);

        var request = new SearchRequest
        {
            Index = "hybrid", Text = "apple", K = 10,
            Sparse = new SparseQuerySpec { Tokens = ["apple"], TokenWeights = [1f], Exact = true },
            Dense = new DenseQuerySpec { Vector = MemoryMarshal.AsBytes(new float[] { 1f, 0f }.AsSpan()).ToArray() },
        };
        var response = await Coordinator.SearchAsync(request);
        Assert.True(response.Status == SearchStatus.Ok, response.Error);
        Assert.Equal(["bm25", "sparse", "dense"], response.Channels);

        // By construction: bm25 ranks d2 (shorter) then d1; sparse d3, d4, d1; dense d4, d2, d5, d1, d3.
        static double R(int rank) => 1.0 / (60 + rank);
        var expected = new (string Id, double Score)[]
        {
            ("d1", R(2) + R(3) + R(4)),
            ("d2", R(1) + R(2)),
            ("d4", R(2) + R(1)), // ties d2 exactly: the id breaks the tie
            ("d3", R(1) + R(5)),
            ("d5", R(3)),
        };
        Assert.Equal(expected.Select(e => e.Id), response.Hits.Select(h => h.Id));
        for (int i = 0; i < expected.Length; i++) Assert.Equal((float)expected[i].Score, response.Hits[i].Score);
        // The fetch phase brings the stored fields of the fused hits.
        Assert.Equal(["One", "Two", "Four", "Three", "Five"], response.Hits.Select(h => h.Title));

        // Channel weights scale each channel's reciprocal ranks.
        var weighted = await Coordinator.SearchAsync(request with { Fusion = new FusionSpec { Weights = new() { ["sparse"] = 0.0 } } });
        Assert.Equal(["d2", "d1", "d4", "d5", "d3"], weighted.Hits.Select(h => h.Id)); // without sparse, d2 (1/61 + 1/62) beats d1 (1/62 + 1/64)
        Assert.Equal((float)(R(1) + R(2)), weighted.Hits[0].Score);
        Assert.Equal((float)(R(2) + R(4)), weighted.Hits[1].Score);

        // Asking for a channel the index lacks, or text for a channel without an encoder, is refused clearly.
        var noEncoder = await Coordinator.SearchAsync(new SearchRequest { Index = "hybrid", Text = "apple", Channels = ["sparse"] });
        Assert.Equal(SearchStatus.Invalid, noEncoder.Status);
        Assert.Contains("no encoder", noEncoder.Error);
        var sparseOnly = await Coordinator.SearchAsync(new SearchRequest { Index = "toy-splade-absent" });
        Assert.Equal(SearchStatus.Invalid, sparseOnly.Status);
    }

    [Fact]
    public async Task Eval_takes_precomputed_sparse_query_vectors()
    {
        // Judgments: each query's three best documents by brute force, so exact search must score 1.0.
        var docs = SparseCorpusReader.Read(Paths.Shared("seismic-toy-splade", "documents.jsonl"), Vocabulary).ToList();
        var queries = SparseCorpusReader.ReadQueries(Paths.Shared("seismic-toy-splade", "queries.jsonl"), Vocabulary);
        string qrels = Path.Combine(_temp, "toy.qrels");
        await File.WriteAllLinesAsync(qrels, queries.SelectMany(q => docs
            .OrderByDescending(d => d.Vector.Dot(q.Vector)).ThenBy(d => d.Id, StringComparer.Ordinal).Take(3)
            .Select(d => $"{q.Id} 0 {d.Id} 1")));
        var output = new StringWriter();
        var errors = new StringWriter();
        int code = await EvalCommand.RunAsync(new EvalCommand.EvalSettings(null, null, qrels, Shards: 2, Depth: 100)
        {
            SparseVectors = Paths.Shared("seismic-toy-splade", "documents.jsonl"),
            SparseQueries = Paths.Shared("seismic-toy-splade", "queries.jsonl"),
            Exact = true,
        }, output, errors, CancellationToken.None);
        Assert.True(code == 0, errors.ToString());
        var result = JsonDocument.Parse(output.ToString().TrimEnd().Split('\n')[^1]["RESULT ".Length..]).RootElement;
        Assert.Equal(5, result.GetProperty("queries").GetInt32());
        Assert.Equal("sparse", result.GetProperty("channels").GetString());
        Assert.True(result.GetProperty("recall@100").GetDouble() == 1.0);
        Assert.True(result.GetProperty("ndcg@10").GetDouble() > 0.99, output.ToString());
    }
}
