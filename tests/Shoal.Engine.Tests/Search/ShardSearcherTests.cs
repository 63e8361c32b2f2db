using Shoal.Engine.Analysis;
using Shoal.Engine.Dense;
using Shoal.Engine.Indexing;
using Shoal.Engine.Ingest;
using Shoal.Engine.Search;
using Shoal.Engine.Snapshots;
using Shoal.Engine.Sparse;
using Shoal.Engine.Text;
using Shoal.Engine.Updates;
using Xunit;

namespace Shoal.Engine.Tests.Search;

/// <summary>
/// A shard's search over one version's segments plus its live buffer, without a cluster: every
/// channel gives the top-k of the visible documents (segment copies the buffer hides are gone,
/// buffered documents scored from their live version), checked against a brute-force oracle.
/// </summary>
public sealed class ShardSearcherTests : IDisposable
{
    private const int Docs = 60;
    private static readonly string[] Tokens = ["river", "mountain", "forest", "lake", "valley", "desert", "glacier", "cave"];
    private static readonly SparseVocabulary Vocabulary = SparseVocabulary.FromTokens(Tokens);
    private static readonly float[] DenseQuery = [0.4f, -0.6f, 0.3f, 0.8f];
    private readonly TempFiles _files = new();

    public void Dispose() => _files.Dispose();

    private sealed record Doc(string Id, string? Title, string Text, (int Term, float Weight)[] Sparse, float[] Dense);

    private static List<Doc> Corpus(int n, int seed = 5)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(i => new Doc(
            $"d{i:D3}",
            i % 3 == 0 ? $"title {Tokens[i % 8]}" : null,
            $"a passage {i} about the {Tokens[i % 8]} and {Tokens[(i * 5 + 1) % 8]} near a {Tokens[(i * 3 + 2) % 8]} {Tokens[i % 8]}",
            [(i % 8, 0.5f + rng.Next(100) / 40f), ((i * 5 + 1) % 8 == i % 8 ? (i + 1) % 8 : (i * 5 + 1) % 8, 0.1f + rng.Next(100) / 100f)],
            [(float)rng.NextDouble() - 0.5f, (float)rng.NextDouble() - 0.5f, (float)rng.NextDouble() - 0.5f, (float)rng.NextDouble() - 0.5f])).ToList();
    }

    private sealed record Version(IndexManifest Manifest, TextSegment Text, SparseSegment Sparse, DenseSegment Dense) : IDisposable
    {
        public DeltaScoring Scoring => DeltaScoring.Create(Manifest, Text);

        public ShardSearcher Searcher() => new(Text, Sparse, Dense, name: "shard t/0");

        public void Dispose()
        {
            Text.Dispose();
            Sparse.Dispose();
            Dense.Dispose();
        }
    }

    /// <summary>One shard with all three channels (dense with an HNSW graph).</summary>
    private Version Build(IEnumerable<Doc> docs, string name)
    {
        var list = docs.ToList();
        var plan = new IndexBuildPlan
        {
            Shards = 1,
            Text = new Bm25Parameters(),
            SparseVocabulary = Vocabulary,
            Dense = new DenseBuildOptions(4, DenseMetric.Dot, DenseStorage.Float32, new HnswParameters(16, 100)),
        };
        var builder = new IndexVersionBuilder(plan);
        builder.AddText(list.Select(d => new SourceDocument(d.Id, d.Title, d.Text)));
        builder.AddSparse(list.Select(d => new SparseDocument(d.Id, null, SparseVector.Create(d.Sparse))));
        builder.AddDense(list.Select(d => (d.Id, d.Dense)));
        var built = builder.Build(_ => _files.PathOf(name));
        var segments = built.Shards[0].Segments;
        var manifest = new IndexManifest
        {
            Index = "t",
            Version = 1,
            CreatedUtc = DateTimeOffset.UnixEpoch,
            ShardCount = 1,
            Schema = new IndexSchema(new TextChannelSchema(), new SparseChannelSchema("vocab", "0", Vocabulary.Count, built.SparseMaxWeight),
                new DenseChannelSchema(4, "dot", "fp32", "hnsw")),
            DocCount = built.DocCount,
            TotalLength = built.TextStatistics!.TotalLength,
            Shards = [new ShardManifest(0, built.DocCount, [])],
        };
#pragma warning disable CA2000 // Version owns the three segments and disposes them (callers hold it in a using)
        return new Version(
            manifest,
            TextSegment.Open(segments.Single(s => s.Channel == IndexChannels.Text).Path),
            SparseSegment.Open(segments.Single(s => s.Channel == IndexChannels.Sparse).Path),
            DenseSegment.Open(segments.Single(s => s.Channel == IndexChannels.Dense).Path));
#pragma warning restore CA2000
    }

    private static DocumentUpdate Upsert(Doc d) => new()
    {
        Id = d.Id,
        Title = d.Title,
        Text = d.Text,
        SparseTerms = d.Sparse.Select(p => p.Term).ToArray(),
        SparseWeights = d.Sparse.Select(p => p.Weight).ToArray(),
        Dense = d.Dense,
    };

    private static DocumentUpdate Delete(string id) => new() { Id = id, Delete = true };

    private static UpdateBatch Batch(long sequence, params DocumentUpdate[] updates) => new(sequence, DateTimeOffset.UnixEpoch, updates);

    private static TextQuery Text(string query) => TextQuery.FromTokens(EnglishAnalyzer.Instance.Analyze(query));

    private static SparseVector SparseQuery => SparseVector.Create([(0, 1.5f), (1, 0.75f), (3, 0.25f)]);

    private static ShardSearchRequest Request(string channel, int k) => channel switch
    {
        "bm25" => new() { Bm25 = new TextChannelQuery(Text("river mountain lake"), k) },
        "sparse-exact" => new() { Sparse = new SparseChannelQuery(SparseQuery, k, Exact: true, SeismicSearchParameters.Default) },
        "sparse-approximate" => new() { Sparse = new SparseChannelQuery(SparseQuery, k, Exact: false, SeismicSearchParameters.Default) },
        "dense-flat" => new() { Dense = new DenseChannelQuery(DenseQuery, k, Exact: true) },
        "dense-hnsw" => new() { Dense = new DenseChannelQuery(DenseQuery, k, Exact: false, Ef: 64) },
        _ => throw new ArgumentOutOfRangeException(nameof(channel)),
    };

    private static SearchHit[] HitsOf(ShardTopK top, string channel) => channel switch
    {
        "bm25" => top.Bm25!,
        "sparse-exact" or "sparse-approximate" => top.Sparse!,
        _ => top.Dense!,
    };

    /// <summary>A document that ranks first on every channel's query: the query's words, terms and direction, strongly.</summary>
    private static Doc Winner(string id) => new(id, "updated title", "river river river mountain mountain lake lake",
        [(0, 9f), (1, 9f), (3, 9f)], [.. DenseQuery.Select(x => 3 * x)]);

    /// <summary>
    /// The expected hits by brute force: every segment document the buffer does not hide, scored by the
    /// segment's exhaustive search, and every buffered document, scored by the buffer; best k by score, then id.
    /// </summary>
    private static (string Id, float Score)[] Oracle(Version v, string channel, ShardDelta? delta, int k)
    {
        IEnumerable<(string, float)> segment, live;
        if (channel == "bm25")
        {
            var q = Text("river mountain lake");
            segment = v.Text.SearchExhaustive(q, v.Text.DocCount).Select(h => (v.Text.GetId(h.DocId), h.Score));
            live = delta?.SearchText(q.Terms, q.Weights, 1000).Select(l => (l.Id, l.Score)) ?? [];
        }
        else if (channel.StartsWith("sparse", StringComparison.Ordinal))
        {
            segment = v.Sparse.SearchExhaustive(SparseQuery, v.Sparse.DocCount).Select(h => (v.Sparse.GetId(h.DocId), h.Score));
            live = delta?.SearchSparse(SparseQuery, 1000).Select(l => (l.Id, l.Score)) ?? [];
        }
        else
        {
            segment = v.Dense.SearchExact(DenseQuery, v.Dense.Count).Select(h => (v.Dense.GetId(h.DocId), h.Score));
            live = delta?.SearchDense(DenseQuery, 1000).Select(l => (l.Id, l.Score)) ?? [];
        }
        return [.. segment.Where(h => delta is null || !delta.Hides(h.Item1)).Concat(live)
            .OrderByDescending(h => h.Item2).ThenBy(h => h.Item1, StringComparer.Ordinal).Take(k)];
    }

    private static (string Id, float Score)[] Plain(SearchHit[] hits) => [.. hits.Select(h => (h.Id, h.Score))];

    public static TheoryData<string> Channels => new() { "bm25", "sparse-exact", "sparse-approximate", "dense-flat", "dense-hnsw" };

    [Theory]
    [MemberData(nameof(Channels))]
    public async Task Every_channel_returns_the_top_k_of_the_segments_when_the_live_buffer_is_empty(string channel)
    {
        using var version = Build(Corpus(Docs), "v");
        var searcher = version.Searcher();
        var empty = ShardDelta.Empty(version.Scoring, 0);

        var withoutBuffer = HitsOf(await searcher.SearchAsync(Request(channel, 10), null), channel);
        var withEmptyBuffer = HitsOf(await searcher.SearchAsync(Request(channel, 10), empty), channel);

        Assert.Equal(10, withoutBuffer.Length);
        Assert.Equal(Oracle(version, channel, null, 10), Plain(withoutBuffer));
        Assert.Equal(Plain(withoutBuffer), Plain(withEmptyBuffer));
    }

    [Theory]
    [MemberData(nameof(Channels))]
    public async Task Deleted_documents_vanish_updated_ones_score_from_their_live_version_and_new_ones_join(string channel)
    {
        using var version = Build(Corpus(Docs), "v");
        var searcher = version.Searcher();
        var before = HitsOf(await searcher.SearchAsync(Request(channel, 10), null), channel);
        string deleted = before[0].Id, updated = before[5].Id;
        var delta = ShardDelta.Empty(version.Scoring, 0).Apply(Batch(1,
            Delete(deleted),
            Upsert(Winner(updated)),
            Upsert(Corpus(3, seed: 9)[1] with { Id = "n001" }),
            Upsert(Corpus(3, seed: 9)[2] with { Id = "n002" })));

        var after = HitsOf(await searcher.SearchAsync(Request(channel, 10), delta), channel);

        Assert.DoesNotContain(after, h => h.Id == deleted);
        Assert.Single(after, h => h.Id == updated);
        Assert.Equal(updated, after[0].Id); // its live copy outranks everything; its segment copy ranked 6th
        var liveScore = channel switch
        {
            "bm25" => delta.SearchText(Text("river mountain lake").Terms, Text("river mountain lake").Weights, 1)[0],
            "sparse-exact" or "sparse-approximate" => delta.SearchSparse(SparseQuery, 1)[0],
            _ => delta.SearchDense(DenseQuery, 1)[0],
        };
        Assert.Equal((updated, liveScore.Score), (after[0].Id, after[0].Score));
        Assert.NotEqual(before[5].Score, after[0].Score);
        Assert.Equal(Oracle(version, channel, delta, 10), Plain(after));
    }

    [Theory]
    [MemberData(nameof(Channels))]
    public async Task A_k_larger_than_the_shard_returns_every_visible_match_once(string channel)
    {
        using var version = Build(Corpus(Docs), "v");
        var searcher = version.Searcher();
        var delta = ShardDelta.Empty(version.Scoring, 0).Apply(Batch(1,
            Delete("d000"), Delete("d001"), Delete("d002"), Upsert(Winner("d010")), Upsert(Winner("n100"))));

        var hits = HitsOf(await searcher.SearchAsync(Request(channel, 500), delta), channel);

        var expected = Oracle(version, channel, delta, 500);
        Assert.Equal(expected, Plain(hits));
        Assert.Equal(hits.Length, hits.Select(h => h.Id).Distinct(StringComparer.Ordinal).Count());
        if (channel.StartsWith("dense", StringComparison.Ordinal)) Assert.Equal(Docs - 3 + 1, hits.Length); // every vector scores
    }

    [Fact]
    public async Task Deleting_many_of_the_top_documents_still_fills_k_from_further_down_the_segment()
    {
        using var version = Build(Corpus(Docs), "v");
        var searcher = version.Searcher();
        var top = HitsOf(await searcher.SearchAsync(Request("bm25", 40), null), "bm25");
        var delta = ShardDelta.Empty(version.Scoring, 0).Apply(Batch(1, [.. top.Take(30).Select(h => Delete(h.Id))]));

        var hits = HitsOf(await searcher.SearchAsync(Request("bm25", 5), delta), "bm25");

        Assert.Equal(Plain(top[30..35]), Plain(hits));
    }

    [Fact]
    public async Task A_hybrid_query_searched_concurrently_equals_its_channels_searched_one_after_another()
    {
        using var version = Build(Corpus(Docs), "v");
        var searcher = version.Searcher();
        var delta = ShardDelta.Empty(version.Scoring, 0).Apply(Batch(1, Delete("d004"), Upsert(Winner("d007")), Upsert(Winner("n200"))));
        var hybrid = new ShardSearchRequest
        {
            Bm25 = Request("bm25", 10).Bm25,
            Sparse = Request("sparse-approximate", 10).Sparse,
            Dense = Request("dense-flat", 10).Dense,
        };

        var sequential = await searcher.SearchAsync(hybrid with { Concurrent = false }, delta);
        var concurrent = await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => Task.Run(() => searcher.SearchAsync(hybrid, delta))));

        foreach (var c in concurrent)
        {
            Assert.Equal(Plain(sequential.Bm25!), Plain(c.Bm25!));
            Assert.Equal(Plain(sequential.Sparse!), Plain(c.Sparse!));
            Assert.Equal(Plain(sequential.Dense!), Plain(c.Dense!));
        }
        Assert.Equal(Plain(HitsOf(await searcher.SearchAsync(Request("bm25", 10), delta), "bm25")), Plain(sequential.Bm25!));
        Assert.Equal(Plain(HitsOf(await searcher.SearchAsync(Request("sparse-approximate", 10), delta), "sparse-approximate")), Plain(sequential.Sparse!));
        Assert.Equal(Plain(HitsOf(await searcher.SearchAsync(Request("dense-flat", 10), delta), "dense-flat")), Plain(sequential.Dense!));
        Assert.Equal(["d007", "n200"], sequential.Dense!.Take(2).Select(h => h.Id)); // the two live winners tie: the smaller id first
    }

    [Fact]
    public async Task An_empty_shard_answers_every_channel_with_no_hits_and_a_buffer_only_shard_with_its_buffer()
    {
        var searcher = new ShardSearcher(null, null, null);
        var all = new ShardSearchRequest
        {
            Bm25 = Request("bm25", 10).Bm25,
            Sparse = Request("sparse-exact", 10).Sparse,
            Dense = Request("dense-hnsw", 10).Dense,
        };

        var none = await searcher.SearchAsync(all, null);

        Assert.Empty(none.Bm25!);
        Assert.Empty(none.Sparse!);
        Assert.Empty(none.Dense!);
        Assert.Null(searcher.DenseBatcher);

        using var version = Build(Corpus(Docs), "v");
        var delta = ShardDelta.Empty(version.Scoring, 0).Apply(Batch(1, Upsert(Winner("n300")), Upsert(Corpus(2)[1] with { Id = "n301" })));
        var buffered = await searcher.SearchAsync(all, delta);
        Assert.Equal("n300", buffered.Bm25![0].Id);
        Assert.Equal(Plain(buffered.Dense!), delta.SearchDense(DenseQuery, 10).Select(l => (l.Id, l.Score)).ToArray());
        Assert.Equal(2, buffered.Dense!.Length);
    }

    [Fact]
    public async Task Only_the_channels_asked_are_answered()
    {
        using var version = Build(Corpus(Docs), "v");
        var top = await version.Searcher().SearchAsync(Request("sparse-exact", 3), null);

        Assert.Null(top.Bm25);
        Assert.Null(top.Dense);
        Assert.Equal(3, top.Sparse!.Length);
    }

    [Fact]
    public async Task Stored_fields_come_from_the_live_copy_of_an_updated_document_and_from_the_segment_otherwise()
    {
        var corpus = Corpus(Docs);
        using var version = Build(corpus, "v");
        var searcher = version.Searcher();
        var delta = ShardDelta.Empty(version.Scoring, 0).Apply(Batch(1, Upsert(Winner("d003"))));

        foreach (var channel in new[] { "bm25", "dense-flat" })
        {
            var hits = HitsOf(await searcher.SearchAsync(Request(channel, 5) with { IncludeStored = true, SnippetLength = 12 }, delta), channel);

            Assert.Equal("d003", hits[0].Id);
            Assert.Equal(("updated title", "river river…"), (hits[0].Title, hits[0].Snippet));
            foreach (var hit in hits.Skip(1))
            {
                var doc = corpus.Single(d => d.Id == hit.Id);
                Assert.Equal(doc.Title, hit.Title);
                Assert.Equal(ShardSearcher.Snippet(doc.Text, 12), hit.Snippet);
            }
        }
        var fetched = searcher.Fetch(["d003", "d006", "nope"], delta, 300);
        Assert.Equal(["d003", "d006"], fetched.Select(h => h.Id));
        Assert.Equal(corpus.Single(d => d.Id == "d006").Text, fetched[1].Snippet);
    }

    [Fact]
    public void A_dense_query_of_the_wrong_dimensions_is_refused_naming_the_shard()
    {
        using var version = Build(Corpus(Docs), "v");

        var error = Assert.ThrowsAny<ArgumentException>(() =>
            version.Searcher().SearchAsync(new ShardSearchRequest { Dense = new DenseChannelQuery([1f, 2f], 5, Exact: true) }, null).GetAwaiter().GetResult());

        Assert.Contains("2 dimensions; shard t/0 has 4", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Deletes_count_only_documents_visible_before_them()
    {
        using var version = Build(Corpus(Docs), "v");
        var before = ShardDelta.Empty(version.Scoring, 0).Apply(Batch(1, Delete("d001"), Upsert(Winner("n400"))));

        int removed = version.Searcher().CountVisibleDeletes(before, Batch(2,
            Delete("d002"), Delete("d002"), // a segment document, deleted twice: once
            Delete("d001"),                 // already hidden
            Delete("n400"),                 // in the live buffer
            Delete("missing"),              // never existed
            Upsert(Winner("n401")), Delete("n401"))); // upserted then deleted in the batch

        Assert.Equal(3, removed);
    }
}
