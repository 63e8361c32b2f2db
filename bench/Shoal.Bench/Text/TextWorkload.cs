using System.Diagnostics;
using System.Text.Json;
using Shoal.Bench.Harness;
using Shoal.Engine.Analysis;
using Shoal.Evaluation;
using Shoal.Engine.Ingest;
using Shoal.Engine.Text;

namespace Shoal.Bench.Text;

/// <summary>
/// BM25 on a real BEIR corpus (SciFact by default): Shoal's engine single-threaded against
/// Xapian (Debian python3-xapian) on the same documents and queries in the same run, with
/// top-10 agreement. <c>dotnet run -c Release --project bench/Shoal.Bench -- text [--corpus C --queries Q] [--repeat 5]</c>
/// </summary>
public sealed class TextWorkload : IWorkload
{
    public string Name => "text";

    public string Description => "BM25: Shoal engine vs Xapian, queries/s and top-10 agreement (default: SciFact)";

    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var a = new BenchArgs(args);
        string shared = RepoPaths.SharedData("scifact");
        string corpus = a.String("corpus", Path.Combine(shared, "corpus.jsonl"));
        string queriesPath = a.String("queries", Path.Combine(shared, "queries.test.jsonl"));
        int repeat = a.Int("repeat", 5);
        foreach (var f in new[] { corpus, queriesPath })
            if (!File.Exists(f)) throw new ArgumentException($"'{f}' does not exist.");
        var p = Bm25Parameters.Default;
        var topics = TopicReader.Load(queriesPath);
        string dir = Directory.CreateTempSubdirectory("shoal-bench-text-").FullName;
        try
        {
            var clock = Stopwatch.StartNew();
            var builder = new TextIndexBuilder(1, p, EnglishAnalyzer.Instance);
            builder.AddRange(CorpusReader.Read(corpus, CorpusFormats.Detect(corpus)), cancellationToken);
            var built = builder.Build(_ => dir, cancellationToken);
            double buildS = clock.Elapsed.TotalSeconds;
            using var segment = TextSegment.Open(built.Shards[0].SegmentPath);

            var queries = topics.Select(t => TextQuery.FromTokens(EnglishAnalyzer.Instance.Analyze(t.Text))).ToArray();
            foreach (var q in queries.Take(50)) segment.Search(q, 10); // warm-up (JIT, page cache)
            var perRun = new List<double>();
            var latencies = new List<double>();
            for (int r = 0; r < repeat; r++)
            {
                var run = Stopwatch.StartNew();
                foreach (var q in queries)
                {
                    long t0 = Stopwatch.GetTimestamp();
                    segment.Search(q, 10);
                    latencies.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
                }
                perRun.Add(run.Elapsed.TotalMilliseconds / queries.Length);
            }
            perRun.Sort();
            latencies.Sort();
            double shoalMs = perRun[perRun.Count / 2];
            var shoalTop = topics.Select((t, i) => (t.Id, Ids: segment.Search(queries[i], 10).Select(d => segment.GetId(d.DocId)).ToArray()))
                .ToDictionary(x => x.Id, x => x.Ids);

            string tsv = Path.Combine(dir, "queries.tsv");
            await File.WriteAllLinesAsync(tsv, topics.Select(t => $"{t.Id}\t{t.Text.Replace('\t', ' ').Replace('\n', ' ')}"), cancellationToken);
            var peer = await Peers.RunAsync("xapian_bm25.py", [corpus, tsv, p.K1.ToString(System.Globalization.CultureInfo.InvariantCulture), p.B.ToString(System.Globalization.CultureInfo.InvariantCulture)], cancellationToken);
            double xapianMs = peer.GetProperty("ms_per_query").GetDouble();
            double overlap = 0;
            foreach (var (qid, ids) in shoalTop)
            {
                var theirs = peer.GetProperty("top10").GetProperty(qid).EnumerateArray().Select(e => e.GetString()!).ToHashSet();
                overlap += ids.Count(theirs.Contains) / (double)Math.Max(1, Math.Max(ids.Length, theirs.Count));
            }
            overlap /= shoalTop.Count;

            var report = new Report();
            Console.WriteLine($"corpus {corpus}: {built.Statistics.DocCount:N0} documents, {topics.Count} queries, BM25 k1={p.K1} b={p.B}, single thread, median of {repeat} passes");
            report.Row("BM25 ms/query", Report.F(shoalMs, 4), Report.F(xapianMs, 4) + " (Xapian)", Report.F(xapianMs / shoalMs) + "x faster");
            report.Row("BM25 queries/s", Report.F(1000 / shoalMs, 0), Report.F(1000 / xapianMs, 0) + " (Xapian)", Report.F(xapianMs / shoalMs));
            report.Row("BM25 p99 ms", Report.F(latencies[(int)(latencies.Count * 0.99)], 4));
            report.Row("top-10 agreement with Xapian", Report.F(overlap, 3));
            report.Row("index build s", Report.F(buildS), Report.F(peer.GetProperty("index_s").GetDouble()) + " (Xapian)");
            report.Result("docs", built.Statistics.DocCount);
            report.Result("queries", topics.Count);
            report.Result("shoal_ms", shoalMs);
            report.Result("shoal_qps", 1000 / shoalMs);
            report.Result("xapian_ms", xapianMs);
            report.Result("xapian_qps", 1000 / xapianMs);
            report.Result("speedup_vs_xapian", xapianMs / shoalMs);
            report.Result("top10_agreement", overlap);
            report.Result("build_s", buildS);
            report.Print(Console.Out);
            return 0;
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
