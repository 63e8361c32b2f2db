using Shoal.Engine.Analysis;
using Shoal.Engine.Dense;
using Shoal.Engine.Indexing;
using Shoal.Engine.Ingest;
using Shoal.Engine.Snapshots;
using Shoal.Engine.Sparse;
using Shoal.Engine.Text;
using Shoal.Engine.Updates;
using Xunit;

namespace Shoal.Engine.Tests.Updates;

/// <summary>
/// The live buffer: a buffered document scores exactly as it does inside a segment of the version
/// whose statistics it uses, operations apply in order, replays are idempotent and gaps refused.
/// </summary>
public sealed class ShardDeltaTests : IDisposable
{
    private readonly TempFiles _files = new();
    private static readonly string[] Tokens = ["river", "mountain", "forest", "lake", "valley", "desert", "glacier", "cave"];
    private static readonly SparseVocabulary Vocabulary = SparseVocabulary.FromTokens(Tokens);

    public void Dispose() => _files.Dispose();

    private sealed record Doc(string Id, string? Title, string Text, (int Term, float Weight)[] Sparse, float[] Dense);

    private static List<Doc> Corpus(int n, int seed = 3)
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
        public void Dispose()
        {
            Text.Dispose();
            Sparse.Dispose();
            Dense.Dispose();
        }
    }

    /// <summary>Builds <paramref name="docs"/> into one shard with all three channels.</summary>
    private Version Build(IEnumerable<Doc> docs, DenseMetric metric, string name)
    {
        var list = docs.ToList();
        var plan = new IndexBuildPlan
        {
            Shards = 1,
            Text = new Bm25Parameters(),
            SparseVocabulary = Vocabulary,
            Dense = new DenseBuildOptions(4, metric, DenseStorage.Float32, new HnswParameters(16, 100)) { BuildAnnIndex = false },
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
                new DenseChannelSchema(4, metric == DenseMetric.Cosine ? "cosine" : "dot", "fp32", "flat")),
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

    private static UpdateBatch Batch(long sequence, params DocumentUpdate[] updates) => new(sequence, DateTimeOffset.UnixEpoch, updates);

    [Theory]
    [InlineData(DenseMetric.Dot)]
    [InlineData(DenseMetric.Cosine)]
    public void A_buffered_document_scores_exactly_as_inside_a_segment_with_the_same_statistics(DenseMetric metric)
    {
        var corpus = Corpus(40);
        using var version = Build(corpus, metric, $"v-{metric}");
        var scoring = DeltaScoring.Create(version.Manifest, version.Text);
        foreach (var doc in corpus.Where((_, i) => i % 7 == 0))
        {
            var delta = ShardDelta.Empty(scoring, 0).Apply(Batch(1, Upsert(doc)));
            int inSegment = version.Text.FindDocument(doc.Id);

            foreach (var query in new[] { "river mountain", "passage lake", "title forest cave", doc.Text })
            {
                var terms = new List<string>();
                EnglishAnalyzer.Instance.Analyze(query, terms);
                var distinct = terms.Distinct().ToArray();
                var weights = distinct.Select(t => (float)terms.Count(x => x == t)).ToArray();
                var fromSegment = version.Text.Search(new TextQuery(distinct, weights), 100).SingleOrDefault(h => h.DocId == inSegment);
                var fromDelta = delta.SearchText(distinct, weights, 10);
                if (fromSegment.Score == 0) Assert.Empty(fromDelta);
                else Assert.Equal(fromSegment.Score, Assert.Single(fromDelta).Score);
            }

            int sparseDoc = version.Sparse.FindDocument(doc.Id);
            foreach (var q in new[] { SparseVector.Create([(0, 1.5f), (3, 0.25f)]), SparseVector.Create(doc.Sparse), SparseVector.Create([(1, 1f), (2, 1f), (4, 2f), (5, 0.5f)]) })
            {
                float expected = version.Sparse.Score(q, sparseDoc);
                var got = delta.SearchSparse(q, 5);
                if (expected == 0) Assert.Empty(got);
                else Assert.Equal(expected, Assert.Single(got).Score);
            }

            foreach (var q in new[] { new float[] { 1, 0, 0, 0 }, new float[] { 0.3f, -0.7f, 0.2f, 0.9f }, doc.Dense })
            {
                var expected = version.Dense.SearchExact(q, 100).Single(h => version.Dense.GetId(h.DocId) == doc.Id);
                Assert.Equal(expected.Score, Assert.Single(delta.SearchDense(q, 5)).Score);
            }
        }
    }

    [Fact]
    public void Folding_updates_into_a_rebuild_equals_building_the_updated_corpus()
    {
        var corpus = Corpus(60);
        using var version = Build(corpus, DenseMetric.Dot, "base");
        var scoring = DeltaScoring.Create(version.Manifest, version.Text);
        // New documents, replacements and deletes over three batches; weights stay within the scale.
        var added = Corpus(10, seed: 8).Select(d => d with { Id = "n" + d.Id }).ToList();
        var replaced = corpus[5] with { Text = "a replaced passage about the glacier", Sparse = [(6, 1.25f)], Dense = [0.5f, 0.5f, 0f, 0f] };
        var delta = ShardDelta.Empty(scoring, 0)
            .Apply(Batch(1, [.. added.Take(6).Select(Upsert)]))
            .Apply(Batch(2, [Upsert(replaced), new DocumentUpdate { Id = "d010", Delete = true }, .. added.Skip(6).Select(Upsert)]))
            .Apply(Batch(3, new DocumentUpdate { Id = "nd002", Delete = true }, new DocumentUpdate { Id = "d011", Delete = true }));
        Assert.Equal((10, 13, 14L), (delta.LiveCount, delta.HiddenCount, delta.PendingOperations));

        var plan = new IndexBuildPlan
        {
            Shards = 1,
            Text = new Bm25Parameters(),
            SparseVocabulary = Vocabulary,
            Dense = new DenseBuildOptions(4, DenseMetric.Dot, DenseStorage.Float32, new HnswParameters(16, 100)) { BuildAnnIndex = false },
        };
        var merger = new IndexVersionBuilder(plan);
        merger.AddText(DeltaMerge.Text(version.Text, delta));
        merger.AddSparse(DeltaMerge.Sparse(version.Sparse, delta, keepText: false));
        merger.AddDense(DeltaMerge.Dense(version.Dense, delta));
        var merged = merger.Build(_ => _files.PathOf("merged"));

        var expectedDocs = corpus.Where(d => d.Id is not ("d010" or "d011")).Select(d => d.Id == "d005" ? replaced : d)
            .Concat(added.Where(d => d.Id != "nd002")).ToList();
        using var rebuilt = Build(expectedDocs, DenseMetric.Dot, "rebuilt");
        Assert.Equal(rebuilt.Manifest.DocCount, merged.DocCount);
        Assert.Equal(rebuilt.Manifest.TotalLength, merged.TextStatistics!.TotalLength);
        Assert.Equal(rebuilt.Manifest.Schema.Sparse!.MaxWeight, merged.SparseMaxWeight);

        var paths = merged.Shards[0].Segments;
        using var text = TextSegment.Open(paths.Single(s => s.Channel == IndexChannels.Text).Path);
        using var sparse = SparseSegment.Open(paths.Single(s => s.Channel == IndexChannels.Sparse).Path);
        using var dense = DenseSegment.Open(paths.Single(s => s.Channel == IndexChannels.Dense).Path);
        foreach (var q in new[] { "river", "glacier passage", "title lake desert" })
        {
            var terms = new List<string>();
            EnglishAnalyzer.Instance.Analyze(q, terms);
            var query = new TextQuery(terms, terms.Select(_ => 1f).ToArray());
            var a = text.Search(query, 20);
            var b = rebuilt.Text.Search(query, 20);
            Assert.Equal(b.Select(h => (rebuilt.Text.GetId(h.DocId), h.Score)), a.Select(h => (text.GetId(h.DocId), h.Score)));
        }
        var sq = SparseVector.Create([(0, 1f), (6, 2f), (3, 0.5f)]);
        Assert.Equal(rebuilt.Sparse.SearchExact(sq, 20).Select(h => (rebuilt.Sparse.GetId(h.DocId), h.Score)), sparse.SearchExact(sq, 20).Select(h => (sparse.GetId(h.DocId), h.Score)));
        float[] dq = [0.2f, 0.9f, -0.4f, 0.1f];
        Assert.Equal(rebuilt.Dense.SearchExact(dq, 20).Select(h => (rebuilt.Dense.GetId(h.DocId), h.Score)), dense.SearchExact(dq, 20).Select(h => (dense.GetId(h.DocId), h.Score)));
    }

    [Fact]
    public void Operations_apply_in_order_replays_are_ignored_and_gaps_refused()
    {
        var corpus = Corpus(10);
        using var version = Build(corpus, DenseMetric.Dot, "small");
        var scoring = DeltaScoring.Create(version.Manifest, version.Text);
        var x = Upsert(corpus[1] with { Id = "x" });
        var delete = new DocumentUpdate { Id = "x", Delete = true };

        var deletedLast = ShardDelta.Empty(scoring, 4).Apply(Batch(5, x, delete));
        Assert.False(deletedLast.TryGet("x", out _));
        Assert.True(deletedLast.Hides("x"));
        var upsertedLast = ShardDelta.Empty(scoring, 4).Apply(Batch(5, delete, x));
        Assert.True(upsertedLast.TryGet("x", out var live));
        Assert.Equal(x.Text, live.Text);

        Assert.Same(upsertedLast, upsertedLast.Apply(Batch(5, delete)));
        Assert.Same(upsertedLast, upsertedLast.Apply(Batch(3, delete)));
        var gap = Assert.Throws<ArgumentException>(() => upsertedLast.Apply(Batch(7, delete)));
        Assert.Contains("6..6", gap.Message);

        // Deleting a published document hides it without a live copy.
        var hidden = upsertedLast.Apply(Batch(6, new DocumentUpdate { Id = "d003", Delete = true }));
        Assert.True(hidden.Hides("d003"));
        Assert.Equal((1, 2, 6L), (hidden.LiveCount, hidden.HiddenCount, hidden.Sequence));
        Assert.Equal(4, hidden.BaseSequence);

        // A version that folded batch 5 keeps only batch 6.
        var rebased = hidden.Rebase(scoring, 5);
        Assert.Equal((0, 1, 6L, 5L), (rebased.LiveCount, rebased.HiddenCount, rebased.Sequence, rebased.BaseSequence));
        Assert.Single(rebased.Batches);
        Assert.Throws<ArgumentException>(() => hidden.Rebase(scoring, 9));
    }

    [Fact]
    public void Ties_keep_the_smaller_id_and_k_bounds_the_answer()
    {
        using var version = Build(Corpus(10), DenseMetric.Dot, "ties");
        var scoring = DeltaScoring.Create(version.Manifest, version.Text);
        var docs = new[] { "b", "c", "a", "d" }.Select(id => new DocumentUpdate
        {
            Id = id, Text = "same words here", SparseTerms = [2], SparseWeights = [1f], Dense = [1f, 0f, 0f, 0f],
        }).ToArray();
        var delta = ShardDelta.Empty(scoring, 0).Apply(Batch(1, docs));
        Assert.Equal(["a", "b", "c"], delta.SearchText(["word"], [1f], 3).Select(h => h.Id));
        Assert.Equal(["a", "b"], delta.SearchSparse(SparseVector.Create([(2, 1f)]), 2).Select(h => h.Id));
        Assert.Equal(["a"], delta.SearchDense([1f, 0f, 0f, 0f], 1).Select(h => h.Id));
        Assert.Empty(delta.SearchText(["absent"], [1f], 3));
    }
}
