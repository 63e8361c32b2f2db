using Shoal.Engine.Ingest;
using Shoal.Engine.Search;
using Shoal.Engine.Segments;
using Shoal.Engine.Sparse;

namespace Shoal.Engine.Tests.Sparse;

public sealed class SparseSegmentTests : IDisposable
{
    private static readonly Lazy<SparseVocabulary> Bert = new(() => SparseVocabulary.Load(TestData.Require("tokenizers/bert-base-uncased-vocab.txt")));
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "shoal-sparse-seg-" + Guid.NewGuid().ToString("N"));

    public SparseSegmentTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private SparseSegment Build(IReadOnlyList<SparseDocument> docs, SparseBuildOptions? options = null, string name = "s.seg")
    {
        string path = Path.Combine(_dir, name);
        options ??= new SparseBuildOptions(Math.Max(SparseBuildOptions.ComputeMaxWeight(docs), 1e-3f));
        long bytes = SparseSegmentWriter.Write(path, docs, options);
        Assert.Equal(new FileInfo(path).Length, bytes);
        return SparseSegment.Open(path);
    }

    /// <summary>An independent reference: quantise with the documented rule and score every document.</summary>
    private static ScoredDoc[] Reference(IReadOnlyList<SparseDocument> docs, SparseVector query, int k, float maxWeight)
    {
        var sorted = docs.OrderBy(d => d.Id, StringComparer.Ordinal).ToList();
        var heap = new TopKHeap(k);
        for (int d = 0; d < sorted.Count; d++)
        {
            var v = sorted[d].Vector;
            double sum = 0;
            bool any = false;
            int i = 0, j = 0;
            while (i < v.Count && j < query.Count)
            {
                if (v.Terms[i] == query.Terms[j])
                {
                    double level = Math.Clamp(Math.Round((double)v.Weights[i] / maxWeight * 255.0, MidpointRounding.ToEven), 1, 255);
                    sum += (double)query.Weights[j] * level;
                    any = true;
                    i++;
                    j++;
                }
                else if (v.Terms[i] < query.Terms[j]) i++;
                else j++;
            }
            if (any) heap.TryAdd(d, (float)(sum * (maxWeight / 255.0)));
        }
        return heap.ToSortedArray();
    }

    private static void AssertSame(ScoredDoc[] expected, ScoredDoc[] actual, string what)
    {
        Assert.True(expected.Length == actual.Length, $"{what}: {actual.Length} results, expected {expected.Length}");
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(expected[i] == actual[i],
                $"{what}: rank {i}: got doc {actual[i].DocId} score {actual[i].Score:R}, expected doc {expected[i].DocId} score {expected[i].Score:R}");
        }
    }

    [Fact]
    public void Exact_equals_exhaustive_on_real_splade_vectors()
    {
        var docs = SparseCorpusReader.Read(TestData.Require("seismic-toy-splade/documents.jsonl"), Bert.Value).ToList();
        var queries = SparseCorpusReader.ReadQueries(TestData.Require("seismic-toy-splade/queries.jsonl"), Bert.Value);
        float maxWeight = SparseBuildOptions.ComputeMaxWeight(docs);
        using var segment = Build(docs, new SparseBuildOptions(maxWeight) { PostingsPerTerm = 4, CentroidFraction = 0.5 });
        Assert.Equal(20, segment.DocCount);
        foreach (var (id, query) in queries)
        {
            foreach (int k in new[] { 1, 3, 10, 25 })
            {
                var exhaustive = segment.SearchExhaustive(query, k);
                AssertSame(exhaustive, segment.SearchExact(query, k), $"query {id} k={k} exact");
                AssertSame(Reference(docs, query, k, maxWeight), exhaustive, $"query {id} k={k} reference");
                // Approximate search reports the same scores for the documents it finds.
                foreach (var hit in segment.SearchApproximate(query, k, SeismicSearchParameters.Default))
                    Assert.Equal(segment.Score(query, hit.DocId), hit.Score);
            }
        }
        // A real query finds its relevant passage family: scores are positive and descending.
        var top = segment.SearchExact(queries[0].Vector, 5);
        Assert.NotEmpty(top);
        Assert.True(top.Zip(top.Skip(1)).All(p => p.First.Score >= p.Second.Score));
    }

    [Fact]
    public void Exact_equals_exhaustive_on_a_generated_corpus()
    {
        var docs = SyntheticSparseCorpus.Documents(4000, seed: 11);
        var queries = SyntheticSparseCorpus.Queries(60, seed: 12);
        float maxWeight = SparseBuildOptions.ComputeMaxWeight(docs);
        using var segment = Build(docs, new SparseBuildOptions(maxWeight) { PostingsPerTerm = 64 });
        for (int q = 0; q < queries.Count; q++)
        {
            foreach (int k in new[] { 1, 10, 100 })
            {
                var exhaustive = segment.SearchExhaustive(queries[q], k);
                Assert.Equal(Math.Min(k, exhaustive.Length), exhaustive.Length);
                AssertSame(exhaustive, segment.SearchExact(queries[q], k), $"query {q} k={k}");
            }
        }
        AssertSame(Reference(docs, queries[0], 10, maxWeight), segment.SearchExhaustive(queries[0], 10), "reference");
    }

    [Fact]
    public void Exact_equals_exhaustive_across_several_doc_ranges()
    {
        // > 2 * 65,536 documents, so range skipping, non-essential terms and the per-range cut all run.
        var docs = SyntheticSparseCorpus.Documents(140_000, seed: 21, vocab: 5000, meanLength: 12);
        var queries = SyntheticSparseCorpus.Queries(25, seed: 22, vocab: 5000, terms: 20);
        using var segment = Build(docs, new SparseBuildOptions(SparseBuildOptions.ComputeMaxWeight(docs)) { PostingsPerTerm = 200 });
        foreach (var query in queries)
        {
            foreach (int k in new[] { 1, 10, 100 })
                AssertSame(segment.SearchExhaustive(query, k), segment.SearchExact(query, k), $"k={k}");
        }
        // A query of one rare term and one frequent one, and a query with a single term.
        var single = SparseVector.Create([(queries[0].Terms[0], 1.0f)]);
        AssertSame(segment.SearchExhaustive(single, 10), segment.SearchExact(single, 10), "single term");
    }

    [Fact]
    public void Approximate_recall_at_10_is_at_least_0_9_at_default_knobs()
    {
        // The shape of sparse-1M (~120 non-zeros a document, 44-term queries), scaled down.
        var docs = SyntheticSparseCorpus.Documents(10_000, seed: 31, meanLength: 106);
        var queries = SyntheticSparseCorpus.Queries(100, seed: 32, terms: 44);
        using var segment = Build(docs);
        int found = 0, total = 0;
        foreach (var query in queries)
        {
            var exact = segment.SearchExact(query, 10);
            var approx = segment.SearchApproximate(query, 10, SeismicSearchParameters.Default);
            var exactIds = exact.Select(h => h.DocId).ToHashSet();
            found += approx.Count(h => exactIds.Contains(h.DocId));
            total += exact.Length;
            var exactScores = exact.ToDictionary(h => h.DocId, h => h.Score);
            foreach (var hit in approx)
            {
                Assert.Equal(segment.Score(query, hit.DocId), hit.Score);
                if (exactScores.TryGetValue(hit.DocId, out float s)) Assert.Equal(s, hit.Score);
            }
        }
        double recall = (double)found / total;
        Assert.True(recall >= 0.9, $"recall@10 {recall:F3}");
    }

    [Fact]
    public void Approximate_without_pruning_is_exact()
    {
        var docs = SyntheticSparseCorpus.Documents(3000, seed: 41);
        var queries = SyntheticSparseCorpus.Queries(30, seed: 42, terms: 44);
        using var segment = Build(docs, new SparseBuildOptions(SparseBuildOptions.ComputeMaxWeight(docs))
        {
            PostingsPerTerm = 100000,
            SummaryEnergy = 1,
            SummaryMaxTerms = 100000,
        });
        foreach (var query in queries)
        {
            // Unpruned lists and unpruned summaries (true block upper bounds), every query term visited,
            // heap factor 1: Seismic skips only blocks that cannot hold a better document, so it is exact.
            var all = segment.SearchApproximate(query, 10, new SeismicSearchParameters(1000, 1.0));
            AssertSame(segment.SearchExact(query, 10), all, "unpruned approximate");
        }
        Assert.Throws<ArgumentException>(() => segment.SearchApproximate(queries[0], 10, new SeismicSearchParameters(0, 1)));
        Assert.Throws<ArgumentException>(() => segment.SearchApproximate(queries[0], 10, new SeismicSearchParameters(5, 0)));
        Assert.Throws<ArgumentException>(() => segment.SearchApproximate(queries[0], 10, new SeismicSearchParameters(5, double.NaN)));
    }

    [Fact]
    public void Round_trip_keeps_ids_texts_and_quantised_vectors()
    {
        var docs = new List<SparseDocument>
        {
            new("b", "bee", SparseVector.Create([(3, 1f), (10, 4f)])),
            new("a", null, SparseVector.Create([(10, 0.01f), (70000 - 5000, 2f)])),
            new("c", "", SparseVector.Empty),
            new("Z", "upper", SparseVector.Create([(1, 0.5f)])),
        };
        using var segment = Build(docs, new SparseBuildOptions(4f));
        Assert.Equal(4, segment.DocCount);
        Assert.Equal(5, segment.PostingCount);
        Assert.Equal(4f, segment.MaxWeight);
        Assert.Equal(["Z", "a", "b", "c"], Enumerable.Range(0, 4).Select(segment.GetId));
        Assert.Equal("upper", segment.GetText(0));
        Assert.Null(segment.GetText(1));
        Assert.Equal("bee", segment.GetText(2));
        Assert.Equal("", segment.GetText(3));
        Assert.Equal(2, segment.FindDocument("b"));
        Assert.Equal(-1, segment.FindDocument("d"));
        Assert.True(segment.IndexBytes > 0 && segment.IndexBytes < segment.SizeBytes);

        var b = segment.GetVector(2);
        Assert.Equal([3, 10], b.Terms);
        Assert.Equal(4f, b.Weights[1]);
        Assert.True(Math.Abs(b.Weights[0] - 1f) <= 4f / 510);
        Assert.Equal(4f / 255, segment.GetVector(1).Weights[0]); // tiny weight rounds up to level 1
        Assert.Equal(0, segment.GetVector(3).Count);

        var hits = segment.SearchExact(SparseVector.Create([(10, 1f)]), 10);
        Assert.Equal([2, 1], hits.Select(h => h.DocId));
        Assert.Equal((float)(255 * (4 / 255.0)), hits[0].Score);
        Assert.Empty(segment.SearchExact(SparseVector.Create([(99, 1f)]), 10));
        Assert.Empty(segment.SearchExact(SparseVector.Create([(60000, 1f)]), 10));
        Assert.Empty(segment.SearchApproximate(SparseVector.Empty, 10, SeismicSearchParameters.Default));
        Assert.Throws<ArgumentOutOfRangeException>(() => segment.GetId(4));
        Assert.Throws<ArgumentOutOfRangeException>(() => segment.SearchExact(SparseVector.Empty, 0));
    }

    [Fact]
    public void Equal_scores_are_ranked_by_external_id()
    {
        var docs = Enumerable.Range(0, 50).Select(i => new SparseDocument($"id{49 - i:D2}", null, SparseVector.Create([(7, 2f)]))).ToList();
        using var segment = Build(docs, new SparseBuildOptions(2f) { PostingsPerTerm = 10 });
        var exact = segment.SearchExact(SparseVector.Create([(7, 1f)]), 5);
        Assert.Equal(["id00", "id01", "id02", "id03", "id04"], exact.Select(h => segment.GetId(h.DocId)));
        AssertSame(segment.SearchExhaustive(SparseVector.Create([(7, 1f)]), 5), exact, "ties");
    }

    [Fact]
    public void An_empty_segment_answers_nothing()
    {
        using var segment = Build([], new SparseBuildOptions(1f));
        Assert.Equal(0, segment.DocCount);
        Assert.Empty(segment.SearchExact(SparseVector.Create([(1, 1f)]), 10));
        Assert.Empty(segment.SearchApproximate(SparseVector.Create([(1, 1f)]), 10, SeismicSearchParameters.Default));
        Assert.Empty(segment.SearchExhaustive(SparseVector.Create([(1, 1f)]), 10));
    }

    [Fact]
    public void Invalid_input_is_refused()
    {
        string path = Path.Combine(_dir, "bad.seg");
        var v = SparseVector.Create([(1, 1f)]);
        var dup = Assert.Throws<ArgumentException>(() => SparseSegmentWriter.Write(path, [new("x", null, v), new("y", null, v), new("x", null, v)], new SparseBuildOptions(1f)));
        Assert.Contains("'x'", dup.Message);
        var over = Assert.Throws<ArgumentException>(() => SparseSegmentWriter.Write(path, [new("x", null, SparseVector.Create([(1, 3f)]))], new SparseBuildOptions(2f)));
        Assert.Contains("MaxWeight", over.Message);
        var term = Assert.Throws<ArgumentException>(() => SparseSegmentWriter.Write(path, [new("x", null, SparseVector.Create([(70000, 1f)]))], new SparseBuildOptions(2f)));
        Assert.Contains("70000", term.Message);
        var unsorted = Assert.Throws<ArgumentException>(() => SparseSegmentWriter.Write(path, [new("x", null, new SparseVector([5, 2], [1f, 1f]))], new SparseBuildOptions(2f)));
        Assert.Contains("'x'", unsorted.Message);
        Assert.Throws<ArgumentException>(() => SparseSegmentWriter.Write(path, [new("x", null, v)], new SparseBuildOptions(float.NaN)));
        Assert.Throws<ArgumentException>(() => SparseSegmentWriter.Write(path, [new("x", null, v)], new SparseBuildOptions(1f) { PostingsPerTerm = 0 }));
        Assert.False(File.Exists(path));

        using var segment = Build([new("x", null, v)], new SparseBuildOptions(1f));
        var badQuery = new SparseVector([4, 2], [1f, 1f]);
        Assert.Throws<ArgumentException>(() => segment.SearchExact(badQuery, 10));
        Assert.Throws<ArgumentException>(() => segment.SearchApproximate(new SparseVector([2], [float.NaN]), 10, SeismicSearchParameters.Default));
    }

    [Fact]
    public void Corrupt_or_truncated_segments_are_refused_naming_the_file()
    {
        var docs = SyntheticSparseCorpus.Documents(500, seed: 51);
        string path = Path.Combine(_dir, "good.seg");
        SparseSegmentWriter.Write(path, docs, new SparseBuildOptions(SparseBuildOptions.ComputeMaxWeight(docs)));
        byte[] bytes = File.ReadAllBytes(path);

        string flipped = Path.Combine(_dir, "flipped.seg");
        var copy = (byte[])bytes.Clone();
        copy[copy.Length / 2] ^= 0x5A;
        File.WriteAllBytes(flipped, copy);
        var ex = Assert.Throws<CorruptSegmentException>(() => SparseSegment.Open(flipped));
        Assert.Contains(flipped, ex.Message);

        string truncated = Path.Combine(_dir, "truncated.seg");
        File.WriteAllBytes(truncated, bytes.AsSpan(0, bytes.Length - 100).ToArray());
        ex = Assert.Throws<CorruptSegmentException>(() => SparseSegment.Open(truncated));
        Assert.Contains(truncated, ex.Message);

        string tiny = Path.Combine(_dir, "tiny.seg");
        File.WriteAllBytes(tiny, bytes.AsSpan(0, 20).ToArray());
        Assert.Contains(tiny, Assert.Throws<CorruptSegmentException>(() => SparseSegment.Open(tiny)).Message);

        using var ok = SparseSegment.Open(path);
        Assert.Equal(500, ok.DocCount);
    }

    [Fact]
    public void A_document_scores_the_same_in_one_segment_and_in_a_four_way_split()
    {
        var docs = SyntheticSparseCorpus.Documents(3000, seed: 61);
        var queries = SyntheticSparseCorpus.Queries(40, seed: 62, terms: 44);
        float maxWeight = SparseBuildOptions.ComputeMaxWeight(docs);
        var options = new SparseBuildOptions(maxWeight) { PostingsPerTerm = 200 };
        using var whole = Build(docs, options, "whole.seg");
        var shards = Enumerable.Range(0, 4)
            .Select(s => Build(docs.Where((d, i) => i % 4 == s).ToList(), options, $"shard{s}.seg"))
            .ToList();
        try
        {
            foreach (var query in queries)
            {
                var global = whole.SearchExact(query, 20);
                var merged = shards
                    .SelectMany(s => s.SearchExact(query, 20).Select(h => (Id: s.GetId(h.DocId), h.Score)))
                    .OrderByDescending(h => h.Score).ThenBy(h => h.Id, StringComparer.Ordinal)
                    .Take(20)
                    .ToList();
                Assert.Equal(global.Select(h => (whole.GetId(h.DocId), h.Score)), merged.Select(h => (h.Id, h.Score)));
                foreach (var hit in global)
                {
                    string id = whole.GetId(hit.DocId);
                    var shard = shards.Single(s => s.FindDocument(id) >= 0);
                    Assert.Equal(hit.Score, shard.Score(query, shard.FindDocument(id)));
                }
                foreach (var shard in shards)
                    foreach (var hit in shard.SearchApproximate(query, 10, SeismicSearchParameters.Default))
                        Assert.Equal(whole.Score(query, whole.FindDocument(shard.GetId(hit.DocId))), hit.Score);
            }
        }
        finally
        {
            foreach (var s in shards) s.Dispose();
        }
    }

    [Fact]
    public void Concurrent_searches_agree_with_sequential_ones()
    {
        var docs = SyntheticSparseCorpus.Documents(3000, seed: 71);
        var queries = SyntheticSparseCorpus.Queries(64, seed: 72, terms: 44);
        using var segment = Build(docs);
        var sequential = queries.Select(q => (segment.SearchExact(q, 10), segment.SearchApproximate(q, 10, SeismicSearchParameters.Default))).ToList();
        var parallel = new (ScoredDoc[], ScoredDoc[])[queries.Count];
        Parallel.For(0, queries.Count * 4, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
        {
            int q = i % queries.Count;
            parallel[q] = (segment.SearchExact(queries[q], 10), segment.SearchApproximate(queries[q], 10, SeismicSearchParameters.Default));
        });
        for (int q = 0; q < queries.Count; q++)
        {
            AssertSame(sequential[q].Item1, parallel[q].Item1, "exact");
            AssertSame(sequential[q].Item2, parallel[q].Item2, "approximate");
        }
    }

    [Fact]
    public void Builds_are_deterministic()
    {
        var docs = SyntheticSparseCorpus.Documents(2000, seed: 81);
        float maxWeight = SparseBuildOptions.ComputeMaxWeight(docs);
        string a = Path.Combine(_dir, "a.seg"), b = Path.Combine(_dir, "b.seg");
        SparseSegmentWriter.Write(a, docs, new SparseBuildOptions(maxWeight) { Threads = 1, PostingsPerTerm = 50 });
        var shuffled = docs.OrderBy(d => d.Id.GetHashCode(StringComparison.Ordinal)).ToList();
        SparseSegmentWriter.Write(b, shuffled, new SparseBuildOptions(maxWeight) { Threads = 4, PostingsPerTerm = 50 });
        Assert.Equal(File.ReadAllBytes(a), File.ReadAllBytes(b));
    }
}
