using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Shoal.Engine.Evaluation;
using Shoal.Grains.Contracts;
using Shoal.Grains.Hosting;

namespace Shoal.Cli.Commands;

/// <summary>
/// <c>shoal eval --corpus C --queries Q --qrels R [--shards N]</c>: starts an in-process cluster,
/// indexes the corpus, runs every query through the real scatter/gather path and prints
/// nDCG@10, MRR@10 and Recall@100 (trec_eval definitions), ending with <c>RESULT {json}</c>.
/// </summary>
internal static class EvalCommand
{
    public static Command Create()
    {
        var corpus = new Option<FileInfo>("--corpus") { Description = "Corpus: BEIR corpus.jsonl, TSV (id<TAB>text) or MS MARCO v2 jsonl; .gz accepted.", Required = true };
        var queries = new Option<FileInfo>("--queries") { Description = "Queries: BEIR queries.jsonl or TSV (qid<TAB>text); .gz accepted.", Required = true };
        var qrels = new Option<FileInfo>("--qrels") { Description = "Judgments: TREC qrels or BEIR tsv.", Required = true };
        var shards = new Option<int>("--shards") { Description = "Shards to split the corpus into.", DefaultValueFactory = _ => 1 };
        var format = new Option<string?>("--format") { Description = "Corpus format: beir, tsv or msmarco-v2 (default: from the file name)." };
        var k1 = new Option<double>("--k1") { Description = "BM25 k1.", DefaultValueFactory = _ => 0.9 };
        var b = new Option<double>("--b") { Description = "BM25 b.", DefaultValueFactory = _ => 0.4 };
        var depth = new Option<int>("--depth") { Description = "Hits retrieved per query (100..1000).", DefaultValueFactory = _ => 1000 };
        var run = new Option<FileInfo?>("--run") { Description = "Also write the TREC run file here." };
        var command = new Command("eval", "Index a corpus in an in-process cluster, run queries and score them against qrels.")
        {
            corpus, queries, qrels, shards, format, k1, b, depth, run,
        };
        command.SetAction((parse, ct) => RunAsync(new EvalSettings(
            parse.GetValue(corpus)!.FullName,
            parse.GetValue(queries)!.FullName,
            parse.GetValue(qrels)!.FullName,
            parse.GetValue(shards),
            parse.GetValue(format),
            parse.GetValue(k1),
            parse.GetValue(b),
            parse.GetValue(depth),
            parse.GetValue(run)?.FullName), Console.Out, Console.Error, ct));
        return command;
    }

    /// <summary>The inputs of one evaluation.</summary>
    internal sealed record EvalSettings(string Corpus, string Queries, string Qrels, int Shards = 1, string? Format = null,
        double K1 = 0.9, double B = 0.4, int Depth = 1000, string? RunPath = null);

    /// <summary>Runs an evaluation; returns the process exit code (0 ok, 2 bad input, 1 failure).</summary>
    internal static async Task<int> RunAsync(EvalSettings s, TextWriter output, TextWriter errors, CancellationToken cancellationToken)
    {
        foreach (var (what, path) in new[] { ("corpus", s.Corpus), ("queries", s.Queries), ("qrels", s.Qrels) })
            if (!File.Exists(path)) return Fail(errors, $"{what} file '{path}' does not exist.", 2);
        if (s.Shards < 1 || s.Shards > 1024) return Fail(errors, $"--shards must be between 1 and 1024 (got {s.Shards}).", 2);
        if (s.Depth < 100 || s.Depth > 1000) return Fail(errors, $"--depth must be between 100 and 1000 (got {s.Depth}).", 2);

        Qrels judgments;
        IReadOnlyList<Topic> topics;
        try
        {
            judgments = Qrels.Load(s.Qrels);
            topics = TopicReader.Load(s.Queries);
        }
        catch (Exception e) when (e is FormatException or IOException or InvalidDataException)
        {
            return Fail(errors, e.Message, 2);
        }
        var judged = topics.Where(t => judgments.Judgments.ContainsKey(t.Id)).ToList();
        if (judged.Count == 0) return Fail(errors, $"none of the {topics.Count} queries in '{s.Queries}' has judgments in '{s.Qrels}'.", 2);

        await using var cluster = await EmbeddedCluster.StartAsync(cancellationToken: cancellationToken);
        var clock = Stopwatch.StartNew();
        IndexInfo info;
        try
        {
            info = await cluster.IngestAsync("eval", new IngestRequest { CorpusPath = s.Corpus, Format = s.Format, Shards = s.Shards, K1 = s.K1, B = s.B },
                new Progress<IngestStatus>(p => errors.Write($"\rindexing: {p.Phase,-10} {p.DocumentsRead,10:N0} documents")), cancellationToken);
            errors.WriteLine();
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException)
        {
            errors.WriteLine();
            return Fail(errors, e.Message, 2);
        }
        double indexSeconds = clock.Elapsed.TotalSeconds;

        clock.Restart();
        var coordinator = cluster.Grains.GetGrain<IQueryCoordinatorGrain>(0);
        var results = new SearchResponse[judged.Count];
        await Parallel.ForEachAsync(Enumerable.Range(0, judged.Count),
            new ParallelOptions { MaxDegreeOfParallelism = Math.Max(2, Environment.ProcessorCount), CancellationToken = cancellationToken },
            async (i, ct) => results[i] = await coordinator.SearchAsync(new SearchRequest
            {
                Index = "eval", Text = judged[i].Text, K = s.Depth, IncludeStored = false, DeadlineMs = 60_000,
            }, ct));
        double searchSeconds = clock.Elapsed.TotalSeconds;

        var runFile = new RunFile();
        for (int i = 0; i < judged.Count; i++)
        {
            var r = results[i];
            if (r.Status != SearchStatus.Ok) return Fail(errors, $"query {judged[i].Id} failed: {r.Error}");
            if (r.Coverage.Partial) return Fail(errors, $"query {judged[i].Id} got a partial answer ({r.Coverage.Answered}/{r.Coverage.Shards} shards).");
            foreach (var hit in r.Hits) runFile.Add(judged[i].Id, hit.Id, hit.Score);
        }
        if (s.RunPath is not null) runFile.WriteTrec(s.RunPath, "shoal-bm25");
        var report = Evaluator.Evaluate(judgments, runFile, judged.Select(t => t.Id));

        var inv = CultureInfo.InvariantCulture;
        output.WriteLine(string.Create(inv, $"corpus   {s.Corpus}: {info.DocCount:N0} documents in {info.ShardCount} shards, indexed in {indexSeconds:F1} s"));
        output.WriteLine(string.Create(inv, $"queries  {report.Queries} judged ({topics.Count} in file), {judged.Count / searchSeconds:F0} queries/s through the cluster"));
        output.WriteLine(string.Create(inv, $"BM25     k1={s.K1} b={s.B}, english analyzer, depth {s.Depth}"));
        output.WriteLine();
        output.WriteLine("| metric     | value  |");
        output.WriteLine("|------------|--------|");
        output.WriteLine(string.Create(inv, $"| nDCG@10    | {report.NdcgAt10:F4} |"));
        output.WriteLine(string.Create(inv, $"| MRR@10     | {report.MrrAt10:F4} |"));
        output.WriteLine(string.Create(inv, $"| Recall@100 | {report.RecallAt100:F4} |"));
        if (s.Depth >= 1000) output.WriteLine(string.Create(inv, $"| Recall@1000| {report.RecallAt1000:F4} |"));
        var result = new Dictionary<string, object>
        {
            ["ndcg@10"] = Math.Round(report.NdcgAt10, 6),
            ["mrr@10"] = Math.Round(report.MrrAt10, 6),
            ["recall@100"] = Math.Round(report.RecallAt100, 6),
            ["queries"] = report.Queries,
            ["shards"] = info.ShardCount,
            ["docs"] = info.DocCount,
            ["index_s"] = Math.Round(indexSeconds, 3),
            ["queries_per_s"] = Math.Round(judged.Count / searchSeconds, 1),
        };
        if (s.Depth >= 1000) result["recall@1000"] = Math.Round(report.RecallAt1000, 6);
        output.WriteLine("RESULT " + JsonSerializer.Serialize(result));
        return 0;
    }

    private static int Fail(TextWriter errors, string message, int code = 1)
    {
        errors.WriteLine($"shoal eval: {message}");
        return code;
    }
}
