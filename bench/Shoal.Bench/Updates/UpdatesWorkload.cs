using System.Diagnostics;
using System.Text.Json;
using Shoal.Bench.Harness;
using Shoal.Engine.Ingest;
using Shoal.Evaluation;
using Shoal.Grains.Contracts;
using Shoal.Grains.Hosting;
using Shoal.Hosting;

namespace Shoal.Bench.Updates;

/// <summary>
/// Online updates on an embedded cluster: a BM25 index of N passages (SciFact's texts repeated
/// under new ids), then U upserts and U/10 deletes through the index grain in batches. Prints
/// upsert throughput beside the bulk build's, search latency with an empty live buffer, with the
/// buffer full and after the merge, and the merge's time beside a full rebuild of the same
/// updated corpus in the same run; checks the merged index answers exactly like the rebuild.
/// <c>dotnet run -c Release --project bench/Shoal.Bench -- updates [--docs 200000] [--updates 10000] [--batch 1000] [--shards 4] [--spill]</c>
/// </summary>
public sealed class UpdatesWorkload : IWorkload
{
    public string Name => "updates";

    public string Description => "online upserts/deletes: throughput, search latency with a live buffer, merge vs full rebuild";

    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var a = new BenchArgs(args);
        int docs = a.Int("docs", 200_000), updates = a.Int("updates", 10_000), batch = a.Int("batch", 1000), shards = a.Int("shards", 4);
        bool spill = a.Flag("spill"); // merge through disk spills (the bounded-memory path of large indexes) instead of in memory
        if (docs < 1000 || updates < 10 || batch < 1 || batch > 10_000 || shards < 1) throw new ArgumentException("need --docs >= 1000, --updates >= 10, --batch in 1..10000, --shards >= 1");
        string scifact = RepoPaths.SharedData("scifact");
        var source = CorpusReader.Read(Path.Combine(scifact, "corpus.jsonl"), CorpusFormat.BeirJsonl).ToList();
        var topics = TopicReader.Load(Path.Combine(scifact, "queries.test.jsonl"));
        string dir = Directory.CreateTempSubdirectory("shoal-bench-updates-").FullName;
        try
        {
            SourceDocument Passage(string id, int i) => new(id, source[i % source.Count].Title, source[i % source.Count].Text);
            var initial = Enumerable.Range(0, docs).Select(i => Passage($"p{i}", i)).ToList();
            // Upserts: half new passages, half replacements of existing ones with other texts; then deletes of other passages.
            var upserts = Enumerable.Range(0, updates).Select(i => i % 2 == 0 ? Passage($"n{i}", i * 7 + 3) : Passage($"p{(i * 37) % docs}", i * 11 + 5)).ToList();
            var upsertIds = upserts.Select(u => u.Id).ToHashSet();
            var deletes = Enumerable.Range(0, updates / 10).Select(i => $"p{(i * 53 + 1) % docs}").Where(id => !upsertIds.Contains(id)).Distinct().ToList();

            string corpusPath = Path.Combine(dir, "corpus.jsonl");
            await WriteAsync(corpusPath, initial, cancellationToken);
            var final = initial.ToDictionary(d => d.Id);
            foreach (var u in upserts) final[u.Id] = u;
            foreach (var d in deletes) final.Remove(d);
            string finalPath = Path.Combine(dir, "final.jsonl");
            await WriteAsync(finalPath, final.Values, cancellationToken);

            await using var cluster = await EmbeddedCluster.StartAsync(Path.Combine(dir, "cluster"), cancellationToken: cancellationToken,
                configure: o => o.MergeInMemoryMaxDocuments = spill ? 0 : long.MaxValue);
            var clock = Stopwatch.StartNew();
            await cluster.IngestAsync("live", new IngestRequest { CorpusPath = corpusPath, Shards = shards }, cancellationToken: cancellationToken);
            double buildS = clock.Elapsed.TotalSeconds;
            var coordinator = cluster.Grains.GetGrain<IQueryCoordinatorGrain>(0);
            var queries = topics.Select(t => t.Text).ToArray();

            async Task<(double P50, double Mean, List<string[]> Top)> SearchAllAsync(string index)
            {
                foreach (var q in queries.Take(30)) await coordinator.SearchAsync(new SearchRequest { Index = index, Text = q, K = 10 }, cancellationToken);
                var ms = new List<double>();
                var tops = new List<string[]>();
                foreach (var q in queries)
                {
                    long t0 = Stopwatch.GetTimestamp();
                    var r = await coordinator.SearchAsync(new SearchRequest { Index = index, Text = q, K = 10, IncludeStored = false }, cancellationToken);
                    ms.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
                    if (r.Status != SearchStatus.Ok) throw new InvalidOperationException(r.Error);
                    tops.Add(r.Hits.Select(h => $"{h.Id}:{h.Score:R}").ToArray());
                }
                ms.Sort();
                return (ms[ms.Count / 2], ms.Average(), tops);
            }

            var empty = await SearchAllAsync("live");
            var index = cluster.Grains.GetGrain<IIndexGrain>("live");
            var batchMs = new List<double>();
            clock.Restart();
            for (int i = 0; i < upserts.Count; i += batch)
            {
                long t0 = Stopwatch.GetTimestamp();
                await index.UpdateAsync(new UpdateRequest
                {
                    Upserts = upserts.Skip(i).Take(batch).Select(u => new UpsertDocument { Id = u.Id, Title = u.Title, Text = u.Text }).ToArray(),
                }, cancellationToken);
                batchMs.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
            }
            for (int i = 0; i < deletes.Count; i += batch)
                await index.UpdateAsync(new UpdateRequest { Deletes = deletes.Skip(i).Take(batch).ToArray() }, cancellationToken);
            double updateS = clock.Elapsed.TotalSeconds;
            batchMs.Sort();
            var buffered = await SearchAllAsync("live");

            clock.Restart();
            await index.StartMergeAsync();
            IndexInfo info;
            while (true)
            {
                await Task.Delay(50, cancellationToken);
                info = (await index.GetInfoAsync())!;
                if (info.Updates?.Merge is { State: IngestState.Failed } f) throw new InvalidOperationException("merge failed: " + f.Error);
                if (info.Updates?.Merge is { State: IngestState.Succeeded }) break;
            }
            double mergeS = clock.Elapsed.TotalSeconds;
            var merged = await SearchAllAsync("live");

            clock.Restart();
            await cluster.IngestAsync("rebuilt", new IngestRequest { CorpusPath = finalPath, Shards = shards }, cancellationToken: cancellationToken);
            double rebuildS = clock.Elapsed.TotalSeconds;
            var rebuilt = await SearchAllAsync("rebuilt");
            int identical = merged.Top.Zip(rebuilt.Top).Count(p => p.First.SequenceEqual(p.Second));
            // Before the merge the buffer used the old statistics: compare the ids only.
            int sameIdsBuffered = buffered.Top.Zip(rebuilt.Top).Count(p => p.First.Select(Id).SequenceEqual(p.Second.Select(Id)));

            int ops = upserts.Count + deletes.Count;
            var report = new Report();
            Console.WriteLine($"{docs:N0} passages (SciFact texts), {shards} shards, 1 silo; {upserts.Count:N0} upserts + {deletes.Count:N0} deletes in batches of {batch}; {queries.Length} queries, k 10, sequential");
            report.Row("writes docs/s", Report.F(ops / updateS, 0), Report.F(docs / buildS, 0) + " (bulk build)", Report.F(ops / updateS / (docs / buildS)));
            report.Row("write batch p50 ms", Report.F(batchMs[batchMs.Count / 2], 2));
            report.Row("search p50 ms, empty buffer", Report.F(empty.P50, 3));
            report.Row("search p50 ms, buffer full", Report.F(buffered.P50, 3), Report.F(empty.P50, 3) + " (empty)", Report.F(buffered.P50 / empty.P50) + "x");
            report.Row("search p50 ms, after merge", Report.F(merged.P50, 3));
            report.Row(spill ? "merge s (spilled)" : "merge s (in memory)", Report.F(mergeS, 2), Report.F(rebuildS, 2) + " (rebuild from the source file)", Report.F(rebuildS / mergeS) + " (rebuild/merge)");
            report.Row("merged top-10 = rebuild", $"{identical}/{queries.Length}");

            foreach (var (key, value) in new (string, object)[]
            {
                ("docs", docs), ("upserts", upserts.Count), ("deletes", deletes.Count), ("batch", batch), ("shards", shards),
                ("write_docs_per_s", Math.Round(ops / updateS, 1)), ("bulk_build_docs_per_s", Math.Round(docs / buildS, 1)),
                ("write_batch_p50_ms", Math.Round(batchMs[batchMs.Count / 2], 3)),
                ("search_p50_ms_empty", Math.Round(empty.P50, 4)), ("search_p50_ms_buffered", Math.Round(buffered.P50, 4)),
                ("search_p50_ms_merged", Math.Round(merged.P50, 4)), ("search_mean_ms_buffered", Math.Round(buffered.Mean, 4)),
                ("merge_s", Math.Round(mergeS, 3)), ("merge_path", spill ? "spill" : "memory"), ("rebuild_s", Math.Round(rebuildS, 3)), ("merged_version", info.Version),
                ("merged_identical_to_rebuild", identical), ("buffered_same_ids_as_rebuild", sameIdsBuffered), ("queries", queries.Length),
            })
            {
                report.Result(key, value);
            }
            report.Print(Console.Out);
            return identical == queries.Length ? 0 : 1;
        }
        finally
        {
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
        }
    }

    private static string Id(string hit) => hit[..hit.LastIndexOf(':')];

    private static async Task WriteAsync(string path, IEnumerable<SourceDocument> docs, CancellationToken cancellationToken)
    {
        await using var w = new StreamWriter(path);
        foreach (var d in docs)
            await w.WriteLineAsync(JsonSerializer.Serialize(new Dictionary<string, string?> { ["_id"] = d.Id, ["title"] = d.Title, ["text"] = d.Text }).AsMemory(), cancellationToken);
    }
}
