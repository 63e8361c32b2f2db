using System.Diagnostics;
using Shoal.Bench.Harness;
using Shoal.Engine.Analysis;
using Shoal.Engine.Dense;
using Shoal.Evaluation;
using Shoal.Engine.Indexing;
using Shoal.Engine.Ingest;
using Shoal.Engine.Search;
using Shoal.Engine.Snapshots;
using Shoal.Engine.Sparse;
using Shoal.Engine.Text;
using Shoal.Engine.Updates;

namespace Shoal.Bench.Search;

/// <summary>
/// The cost of the shard searcher layer (<see cref="ShardSearcher"/>: live-buffer filtering and merge,
/// hit conversion, channel scheduling) over the raw segment searches it wraps, on SciFact queries, single
/// thread. One shard holds SciFact in all three channels: bm25 from the text, a learned-sparse stand-in
/// (each document's analysed terms weighted by their counts) and random dense vectors (seeded), so a
/// hybrid query has real work on every channel. Prints, per channel, the raw segment search beside the
/// searcher, then a hybrid query with its channels one after another and concurrently, and a search with
/// a live buffer of updates. <c>dotnet run -c Release --project bench/Shoal.Bench -- searcher [--repeat 9]
/// [--k 10] [--dims 384] [--updates 200] [--ann]</c>. Each pair of figures is measured in alternating passes.
/// </summary>
public sealed class SearcherWorkload : IWorkload
{
    /// <inheritdoc />
    public string Name => "searcher";

    /// <inheritdoc />
    public string Description => "ShardSearcher (segments + live buffer) vs the raw segment searches, per channel and hybrid (SciFact)";

    /// <inheritdoc />
    public Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var a = new BenchArgs(args);
        string shared = RepoPaths.SharedData("scifact");
        string corpus = a.String("corpus", Path.Combine(shared, "corpus.jsonl"));
        string queriesPath = a.String("queries", Path.Combine(shared, "queries.test.jsonl"));
        int repeat = Math.Max(1, a.Int("repeat", 9));
        int k = a.Int("k", 10);
        int dims = a.Int("dims", 384);
        int updates = a.Int("updates", 200);
        bool ann = a.Flag("ann");
        if (k < 1 || dims < 8 || updates < 0) throw new ArgumentException("--k must be >= 1, --dims >= 8 and --updates >= 0.");
        foreach (var f in new[] { corpus, queriesPath })
            if (!File.Exists(f)) throw new ArgumentException($"'{f}' does not exist.");
        var analyzer = EnglishAnalyzer.Instance;
        var documents = CorpusReader.Read(corpus, CorpusFormats.Detect(corpus)).ToList();
        var topics = TopicReader.Load(queriesPath);
        var rng = new Random(42);

        // The sparse stand-in: the corpus's analysed terms, each document's weighted by its counts.
        var counts = documents.Select(d => TermCounts(analyzer, $"{d.Title} {d.Text}")).ToList();
        var vocabulary = SparseVocabulary.FromTokens(counts.SelectMany(c => c.Keys).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal));
        var vectors = documents.Select(_ => RandomVector(rng, dims)).ToList();
        string dir = Directory.CreateTempSubdirectory("shoal-bench-searcher-").FullName;
        try
        {
            var clock = Stopwatch.StartNew();
            var manifest = BuildShard(documents, counts, vocabulary, vectors, dims, ann, dir, cancellationToken, out var paths);
            double buildS = clock.Elapsed.TotalSeconds;
            using var text = TextSegment.Open(paths[IndexChannels.Text]);
            using var sparse = SparseSegment.Open(paths[IndexChannels.Sparse]);
            using var dense = DenseSegment.Open(paths[IndexChannels.Dense]);
            var searcher = new ShardSearcher(text, sparse, dense);

            var textQueries = topics.Select(t => TextQuery.FromTokens(analyzer.Analyze(t.Text))).Where(q => !q.IsEmpty).ToArray();
            var sparseQueries = topics.Select(t => vocabulary.Encode(TermCounts(analyzer, t.Text)
                .Where(p => vocabulary.TryGetId(p.Key, out _)).Select(p => KeyValuePair.Create(p.Key, (float)p.Value)))).ToArray();
            var denseQueries = topics.Select(_ => RandomVector(rng, dims)).ToArray();
            var seismic = SeismicSearchParameters.Default;
            bool exactDense = !ann;

            var report = new Report();
            Console.WriteLine($"corpus {corpus}: {documents.Count:N0} documents in one shard (bm25, sparse stand-in of {vocabulary.Count:N0} terms, "
                + $"dense {dims}-d random {(ann ? "HNSW" : "flat")}), {topics.Count} queries, k={k}, single thread, best of {repeat} alternating passes; built in {buildS:F1} s");

            // Per channel: the raw segment search (with ids, as a shard must return them) beside the searcher.
            var (textRaw, textSearcher) = Time(repeat, textQueries, q => Ids(text.Search(q, k), text.GetId),
                q => searcher.SearchAsync(new ShardSearchRequest { Bm25 = new TextChannelQuery(q, k) }, null).GetAwaiter().GetResult());
            var (sparseRaw, sparseSearcher) = Time(repeat, sparseQueries, q => Ids(sparse.SearchApproximate(q, k, seismic), sparse.GetId),
                q => searcher.SearchAsync(new ShardSearchRequest { Sparse = new SparseChannelQuery(q, k, false, seismic) }, null).GetAwaiter().GetResult());
            var (denseRaw, denseSearcher) = Time(repeat, denseQueries,
                q => Ids(exactDense ? dense.SearchExact(q, k) : dense.SearchApproximate(q, k, Math.Max(k, HnswParameters.DefaultEfSearch)), dense.GetId),
                q => searcher.SearchAsync(new ShardSearchRequest { Dense = new DenseChannelQuery(q, k, exactDense) }, null).GetAwaiter().GetResult());

            // The searcher returns what the raw searches return.
            bool identical = true;
            for (int i = 0; i < textQueries.Length; i++)
                identical &= Same(text.Search(textQueries[i], k), text.GetId, searcher.SearchText(new TextChannelQuery(textQueries[i], k), null));
            for (int i = 0; i < sparseQueries.Length; i++)
                identical &= Same(sparse.SearchApproximate(sparseQueries[i], k, seismic), sparse.GetId, searcher.SearchSparse(new SparseChannelQuery(sparseQueries[i], k, false, seismic), null));

            // Hybrid: the three channels of one query one after another, then concurrently.
            var hybrid = Enumerable.Range(0, topics.Count).Select(i => new ShardSearchRequest
            {
                Bm25 = new TextChannelQuery(TextQuery.FromTokens(analyzer.Analyze(topics[i].Text)), k),
                Sparse = new SparseChannelQuery(sparseQueries[i], k, false, seismic),
                Dense = new DenseChannelQuery(denseQueries[i], k, exactDense),
            }).Where(r => !r.Bm25!.Query.IsEmpty).ToArray();
            var (hybridSequential, hybridConcurrent) = Time(repeat, hybrid, r => searcher.SearchAsync(r with { Concurrent = false }, null).GetAwaiter().GetResult(),
                r => searcher.SearchAsync(r, null).GetAwaiter().GetResult());
            foreach (var r in hybrid.Take(50))
            {
                var one = searcher.SearchAsync(r with { Concurrent = false }, null, cancellationToken).GetAwaiter().GetResult();
                var all = searcher.SearchAsync(r, null, cancellationToken).GetAwaiter().GetResult();
                identical &= one.Bm25!.SequenceEqual(all.Bm25!) && one.Sparse!.SequenceEqual(all.Sparse!) && one.Dense!.SequenceEqual(all.Dense!);
            }

            // A live buffer: updates replace random documents (their live copy scored, the segment copy hidden).
            var delta = ShardDelta.Empty(DeltaScoring.Create(manifest, text), 0);
            if (updates > 0)
            {
                var batch = Enumerable.Range(0, updates).Select(_ => rng.Next(documents.Count)).Distinct().Select(i => new DocumentUpdate
                {
                    Id = documents[i].Id,
                    Title = documents[i].Title,
                    Text = documents[i].Text + " revised",
                    SparseTerms = [.. counts[i].Keys.Select(t => vocabulary.TryGetId(t, out int id) ? id : -1)],
                    SparseWeights = [.. counts[i].Values.Select(c => (float)c)],
                    Dense = RandomVector(rng, dims),
                }).ToList();
                delta = delta.Apply(new UpdateBatch(1, DateTimeOffset.UnixEpoch, batch));
            }
            var (textUnbuffered, textBuffered) = Time(repeat, textQueries, q => searcher.SearchAsync(new ShardSearchRequest { Bm25 = new TextChannelQuery(q, k) }, null).GetAwaiter().GetResult(),
                q => searcher.SearchAsync(new ShardSearchRequest { Bm25 = new TextChannelQuery(q, k) }, delta).GetAwaiter().GetResult());
            var (hybridUnbuffered, hybridBuffered) = Time(repeat, hybrid, r => searcher.SearchAsync(r, null).GetAwaiter().GetResult(),
                r => searcher.SearchAsync(r, delta).GetAwaiter().GetResult());

            report.Row("bm25 ms/query: searcher | raw segment", Report.F(textSearcher, 4), Report.F(textRaw, 4) + " (raw)", Overhead(textSearcher, textRaw));
            report.Row("sparse approx ms/query: searcher | raw", Report.F(sparseSearcher, 4), Report.F(sparseRaw, 4) + " (raw)", Overhead(sparseSearcher, sparseRaw));
            report.Row($"dense {(ann ? "hnsw" : "flat")} ms/query: searcher | raw", Report.F(denseSearcher, 4), Report.F(denseRaw, 4) + " (raw)", Overhead(denseSearcher, denseRaw),
                exactDense ? "searcher scans through the batcher (a thread hop)" : null);
            report.Row("hybrid ms/query: concurrent | sequential", Report.F(hybridConcurrent, 4), Report.F(hybridSequential, 4) + " (sequential)", Report.F(hybridSequential / hybridConcurrent) + "x");
            report.Row($"bm25 ms/query with {delta.LiveCount} buffered updates", Report.F(textBuffered, 4), Report.F(textUnbuffered, 4) + " (no buffer)", Overhead(textBuffered, textUnbuffered));
            report.Row($"hybrid ms/query with {delta.LiveCount} buffered updates", Report.F(hybridBuffered, 4), Report.F(hybridUnbuffered, 4) + " (no buffer)", Overhead(hybridBuffered, hybridUnbuffered));
            report.Row("searcher hits identical to raw / sequential", identical ? "yes" : "NO");
            report.Result("docs", documents.Count);
            report.Result("queries", textQueries.Length);
            report.Result("bm25_raw_ms", textRaw);
            report.Result("bm25_searcher_ms", textSearcher);
            report.Result("bm25_overhead_pct", 100 * (textSearcher / textRaw - 1));
            report.Result("sparse_raw_ms", sparseRaw);
            report.Result("sparse_searcher_ms", sparseSearcher);
            report.Result("sparse_overhead_pct", 100 * (sparseSearcher / sparseRaw - 1));
            report.Result("dense_raw_ms", denseRaw);
            report.Result("dense_searcher_ms", denseSearcher);
            report.Result("hybrid_sequential_ms", hybridSequential);
            report.Result("hybrid_concurrent_ms", hybridConcurrent);
            report.Result("buffered_updates", delta.LiveCount);
            report.Result("bm25_buffered_ms", textBuffered);
            report.Result("hybrid_buffered_ms", hybridBuffered);
            report.Result("identical", identical);
            report.Print(Console.Out);
            return Task.FromResult(identical ? 0 : 1);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static IndexManifest BuildShard(List<SourceDocument> documents, List<SortedDictionary<string, int>> counts, SparseVocabulary vocabulary,
        List<float[]> vectors, int dims, bool ann, string dir, CancellationToken cancellationToken, out Dictionary<string, string> paths)
    {
        var plan = new IndexBuildPlan
        {
            Shards = 1,
            Text = Bm25Parameters.Default,
            SparseVocabulary = vocabulary,
            Dense = new DenseBuildOptions(dims, DenseMetric.Dot, DenseStorage.Float32, Threads: Environment.ProcessorCount) { BuildAnnIndex = ann },
        };
        var builder = new IndexVersionBuilder(plan);
        builder.AddText(documents, cancellationToken);
        builder.AddSparse(documents.Select((d, i) =>
            new SparseDocument(d.Id, null, vocabulary.Encode(counts[i].Select(p => KeyValuePair.Create(p.Key, (float)p.Value))))), cancellationToken);
        builder.AddDense(documents.Select((d, i) => (d.Id, vectors[i])), cancellationToken);
        var built = builder.Build(_ => dir, cancellationToken);
        paths = built.Shards[0].Segments.ToDictionary(s => s.Channel, s => s.Path, StringComparer.Ordinal);
        return new IndexManifest
        {
            Index = "scifact",
            Version = 1,
            CreatedUtc = DateTimeOffset.UtcNow,
            ShardCount = 1,
            Schema = new IndexSchema(new TextChannelSchema(), new SparseChannelSchema("vocab", "0", vocabulary.Count, built.SparseMaxWeight),
                new DenseChannelSchema(dims, "dot", "fp32", ann ? "hnsw" : "flat")),
            DocCount = built.DocCount,
            TotalLength = built.TextStatistics!.TotalLength,
            Shards = [new ShardManifest(0, built.DocCount, [])],
        };
    }

    private static SortedDictionary<string, int> TermCounts(EnglishAnalyzer analyzer, string text)
    {
        var counts = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (var t in analyzer.Analyze(text)) counts[t] = counts.TryGetValue(t, out int c) ? c + 1 : 1;
        return counts;
    }

    private static float[] RandomVector(Random rng, int dims)
    {
        var v = new float[dims];
        for (int i = 0; i < dims; i++) v[i] = (float)(rng.NextDouble() * 2 - 1);
        return v;
    }

    private static string[] Ids(ScoredDoc[] hits, Func<int, string> idOf)
    {
        var ids = new string[hits.Length];
        for (int i = 0; i < hits.Length; i++) ids[i] = idOf(hits[i].DocId);
        return ids;
    }

    private static bool Same(ScoredDoc[] raw, Func<int, string> idOf, SearchHit[] hits) =>
        raw.Length == hits.Length && raw.Select((h, i) => idOf(h.DocId) == hits[i].Id && h.Score == hits[i].Score).All(x => x);

    /// <summary>
    /// Milliseconds per query of <paramref name="a"/> and of <paramref name="b"/>: after three warm-up passes of
    /// each (tiered JIT), <paramref name="repeat"/> passes of each in turn (a, b, a, b, ...), so a change in the
    /// machine's load falls on both; the best pass of each (on a shared machine the least disturbed one).
    /// </summary>
    private static (double A, double B) Time<T>(int repeat, T[] queries, Func<T, object> a, Func<T, object> b)
    {
        for (int w = 0; w < 3; w++)
        {
            Pass(queries, a);
            Pass(queries, b);
        }
        var passesA = new List<double>();
        var passesB = new List<double>();
        for (int r = 0; r < repeat; r++)
        {
            passesA.Add(Pass(queries, a));
            passesB.Add(Pass(queries, b));
        }
        return (passesA.Min(), passesB.Min());
    }

    private static double Pass<T>(T[] queries, Func<T, object> run)
    {
        long started = Stopwatch.GetTimestamp();
        foreach (var q in queries) run(q);
        return Stopwatch.GetElapsedTime(started).TotalMilliseconds / queries.Length;
    }

    private static string Overhead(double measured, double baseline) => $"{100 * (measured / baseline - 1):+0.0;-0.0}%";
}
