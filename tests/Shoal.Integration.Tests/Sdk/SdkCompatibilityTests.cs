using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using Shoal.Client;

namespace Shoal.Integration.Tests.Sdk;

/// <summary>
/// The SDK against the real gateway (embedded silo, real HTTP on loopback), every endpoint:
/// health, indexes, search (plain, typed builder, hybrid, pages), ingest, online updates, merge,
/// jobs, index deletion, and the problem documents of errors.
/// </summary>
public sealed class SdkCompatibilityTests(GatewayFixture fixture) : IClassFixture<GatewayFixture>
{
    [Fact]
    public async Task Health_indexes_and_searches_through_the_sdk()
    {
        using var client = new ShoalClient(fixture.BaseAddress);
        Assert.True(await client.IsLiveAsync());
        Assert.True(await client.IsReadyAsync());

        Assert.Contains("sample", await client.ListIndexesAsync());
        var described = new List<IndexDescription>();
        await foreach (var index in client.GetIndexesAsync()) described.Add(index);
        var sample = Assert.Single(described, d => d.Name == "sample");
        Assert.Equal(40, sample.DocCount);
        Assert.Equal(3, sample.ShardCount);
        Assert.Equal("bm25", Assert.Single(sample.Channels!).Name);

        var plain = await client.SearchAsync("sample", new SearchQuery("tides moon ocean", K: 5));
        Assert.NotEmpty(plain.Hits);
        Assert.Equal(3, plain.Coverage.Shards);
        Assert.Equal(3, plain.Coverage.Answered);
        Assert.Empty(plain.Coverage.Reasons);
        // One channel: each hit's rank in it is its position.
        Assert.Equal(Enumerable.Range(1, plain.Hits.Count), plain.Hits.Select(h => Assert.Single(h.Ranks!)));

        // The typed builder sends the same ranking for bm25 alone.
        var built = await client.SearchAsync("sample", ShoalQuery.Bm25("tides moon ocean") with { K = 5 });
        Assert.Equal(plain.Hits.Select(h => h.Id), built.Hits.Select(h => h.Id));
        Assert.Equal(["bm25"], built.Channels);
        var text = await client.SearchAsync("sample", ShoalQuery.Text("tides moon ocean") with { K = 5, IncludeStored = false });
        Assert.Equal(plain.Hits.Select(h => h.Id), text.Hits.Select(h => h.Id));
        Assert.All(text.Hits, h => Assert.Null(h.Title));

        // Pages are the top-k ranking cut in pieces: no hit twice, none skipped.
        var top = await client.SearchAsync("sample", new SearchQuery("search engine documents index query terms shards", K: 12));
        var paged = new List<string>();
        int pages = 0;
        await foreach (var page in client.SearchPagesAsync("sample", new SearchQuery("search engine documents index query terms shards"), pageSize: 5, maxHits: 12))
        {
            pages++;
            Assert.True(page.Hits.Count <= 5);
            paged.AddRange(page.Hits.Select(h => h.Id));
        }
        Assert.Equal(top.Hits.Select(h => h.Id), paged);
        Assert.Equal(12, top.Hits.Count);
        Assert.Equal(3, pages);
    }

    [Fact]
    public async Task Errors_carry_the_servers_problem_document()
    {
        using var client = new ShoalClient(fixture.BaseAddress);
        var missing = await Assert.ThrowsAsync<ShoalApiException>(() => client.SearchAsync("no-such-index", new SearchQuery("coffee")));
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal(404, missing.Problem.Status);
        Assert.Equal("Not found", missing.Problem.Title);
        Assert.Contains("no-such-index", missing.Problem.Detail, StringComparison.Ordinal);
        Assert.False(missing.IsTransient);

        var invalid = await Assert.ThrowsAsync<ShoalApiException>(() => client.SearchAsync("sample", new SearchQuery("coffee", K: 5000)));
        Assert.Equal(HttpStatusCode.BadRequest, invalid.StatusCode);
        Assert.Contains("k", invalid.Detail, StringComparison.OrdinalIgnoreCase);
        Assert.StartsWith("400 Invalid request: ", invalid.Message, StringComparison.Ordinal);

        Assert.Null(await client.GetIndexAsync("absent"));
        Assert.Null(await client.GetJobAsync("no-such-job"));
        Assert.Null(await client.CancelJobAsync("no-such-job"));
    }

    [Fact]
    public async Task Ingest_hybrid_builder_updates_and_merge_through_the_sdk()
    {
        string dir = Directory.CreateTempSubdirectory("shoal-sdk-compat-").FullName;
        try
        {
            string corpus = Path.Combine(dir, "c.jsonl"), sparse = Path.Combine(dir, "s.jsonl"), dense = Path.Combine(dir, "d.jsonl");
            await File.WriteAllLinesAsync(corpus,
            [
                """{"_id": "p1", "title": "Apples", "text": "apples grow on trees in orchards"}""",
                """{"_id": "p2", "title": "Bananas", "text": "bananas grow in tropical plantations"}""",
                """{"_id": "p3", "title": "Cherries", "text": "cherries are small stone fruit"}""",
            ]);
            await File.WriteAllLinesAsync(sparse,
            [
                """{"id": "p1", "vector": {"apple": 2.5, "tree": 1.0}}""",
                """{"id": "p2", "vector": {"banana": 2.0, "tropical": 1.5}}""",
                """{"id": "p3", "vector": {"cherry": 2.2, "fruit": 0.7}}""",
            ]);
            await File.WriteAllLinesAsync(dense,
            [
                """{"id": "p1", "vector": [1.0, 0.0, 0.0]}""",
                """{"id": "p2", "vector": [0.0, 1.0, 0.0]}""",
                """{"id": "p3", "vector": [0.0, 0.0, 1.0]}""",
            ]);
            using var client = new ShoalClient(fixture.BaseAddress);
            var started = await client.StartIngestAsync("sdkfruit", new IngestOptions(corpus, Shards: 2) { SparseVectors = sparse, DenseVectors = dense, DenseMetric = "cosine", DenseIndex = "flat" });
            Assert.Equal("running", started.State);
            var reports = new List<IngestProgress>();
            var done = await client.WaitForIngestAsync("sdkfruit", new SyncProgress<IngestProgress>(reports.Add), TimeSpan.FromMilliseconds(50));
            Assert.Equal("succeeded", done.State);
            Assert.Equal("succeeded", (await client.GetIngestAsync("sdkfruit")).State);
            Assert.NotEmpty(reports);

            // Each channel alone, and fused, through the typed builder.
            var bySparse = await client.SearchAsync("sdkfruit", ShoalQuery.Sparse(SparseClause.Tokens(new Dictionary<string, float> { ["banana"] = 1f }, SparseSearch.Exact)));
            Assert.Equal("p2", bySparse.Hits[0].Id);
            var byDense = await client.SearchAsync("sdkfruit", ShoalQuery.Dense(DenseClause.Vector([0.1f, 0.2f, 3f], DenseSearch.Exact)));
            Assert.Equal("p3", byDense.Hits[0].Id);
            var hybrid = await client.SearchAsync("sdkfruit", ShoalQuery.Hybrid(
                    Bm25Clause.For("apples orchards"),
                    SparseClause.Tokens(new Dictionary<string, float> { ["apple"] = 1f }),
                    DenseClause.Vector([1f, 0.1f, 0f], DenseSearch.Exact))
                .FusedBy(Fusion.Weighted(bm25Weight: 1, sparseWeight: 0.5, denseWeight: 2)) with
            { K = 3 });
            Assert.Equal("p1", hybrid.Hits[0].Id);
            Assert.Equal(["bm25", "sparse", "dense"], hybrid.Channels);
            // Per-channel ranks, in the order of the channels: p1 is first for bm25, sparse and dense alike.
            Assert.All(hybrid.Hits, h => Assert.Equal(3, h.Ranks!.Count));
            Assert.Equal([1, 1, 1], hybrid.Hits[0].Ranks);
            var rrf = await client.SearchAsync("sdkfruit", ShoalQuery.Hybrid(Bm25Clause.For("bananas"), DenseClause.Vector([0f, 1f, 0f], DenseSearch.Exact)).FusedBy(Fusion.Rrf(rankConstant: 10)));
            Assert.Equal("p2", rrf.Hits[0].Id);

            // Online updates: upsert, delete one and many, then a merge folds them into a new version.
            var upsert = await client.UpsertAsync("sdkfruit",
            [
                new DocumentInput("p4") { Title = "Dates", Text = "dates ripen on palms", Sparse = new Dictionary<string, float> { ["date"] = 2f }, Dense = [0.5f, 0.5f, 0f] },
                new DocumentInput("p5") { Title = "Elderberries", Text = "elderberries grow in hedges", Sparse = new Dictionary<string, float> { ["elder"] = 1f }, Dense = [0f, 0.5f, 0.5f] },
            ]);
            Assert.Equal(2, upsert.Upserted);
            Assert.Equal("p4", (await client.SearchAsync("sdkfruit", ShoalQuery.Bm25("dates palms"))).Hits[0].Id);
            var one = await client.DeleteAsync("sdkfruit", "p5");
            Assert.Equal("sdkfruit", one.Index);
            var many = await client.DeleteAsync("sdkfruit", ["p3"]);
            Assert.True(many.PendingOperations >= 3);
            Assert.DoesNotContain((await client.SearchAsync("sdkfruit", ShoalQuery.Bm25("cherries stone fruit"))).Hits, h => h.Id == "p3");

            var merge = await client.MergeAsync("sdkfruit");
            Assert.NotNull(merge);
            var merged = await client.WaitForMergeAsync("sdkfruit", pollInterval: TimeSpan.FromMilliseconds(50));
            Assert.Equal("succeeded", merged!.State);
            var info = await client.GetIndexAsync("sdkfruit");
            Assert.Equal(merged.Version, info!.Version);
            Assert.Equal(3, info.DocCount); // p1, p2, p4
            Assert.Equal(0, info.Updates!.PendingOperations);
            Assert.False(string.IsNullOrEmpty(info.Silo));

            // The snapshot store holds the build and the merge, newest first.
            var versions = await client.ListVersionsAsync("sdkfruit");
            Assert.True(versions.Count >= 2, $"{versions.Count} versions");
            Assert.Equal(merged.Version, versions[0].Version);
            Assert.Equal(3, versions[0].Documents);
            Assert.Equal(2, versions[0].Shards);
            Assert.True(versions[0].SnapshotBytes > 0);
            Assert.Equal(["bm25", "sparse", "dense"], versions[0].Channels);
            Assert.True(versions[0].Version > versions[1].Version);
            var streamed = new List<IndexVersionDescription>();
            await foreach (var version in client.GetVersionsAsync("sdkfruit", limit: 1)) streamed.Add(version);
            Assert.Equal(merged.Version, Assert.Single(streamed).Version);
            var noIndex = await Assert.ThrowsAsync<ShoalApiException>(() => client.ListVersionsAsync("no-such-index"));
            Assert.Equal(HttpStatusCode.NotFound, noIndex.StatusCode);

            // The cluster: its silo, and the index's shard map (2 shards, 1 replica) served at the merged version.
            var cluster = await client.GetClusterAsync();
            Assert.NotEmpty(cluster.Silos);
            Assert.All(cluster.Silos, silo => Assert.False(string.IsNullOrEmpty(silo.Address)));
            var fruit = Assert.Single(cluster.Indexes, i => i.Name == "sdkfruit");
            Assert.Equal(merged.Version, fruit.Version);
            Assert.Equal(3, fruit.Documents);
            Assert.Equal([(0, 0), (1, 0)], fruit.Shards.Select(r => (r.Shard, r.Replica)).Order());
            Assert.All(fruit.Shards, r =>
            {
                Assert.Null(r.Error);
                Assert.False(string.IsNullOrEmpty(r.Silo));
                Assert.Equal(merged.Version, r.Version);
            });

            var conflict = await Assert.ThrowsAsync<ShoalApiException>(() => client.SearchAsync("sdkfruit", ShoalQuery.Sparse(SparseClause.Encode("apples"))));
            Assert.Equal(HttpStatusCode.BadRequest, conflict.StatusCode);
        }
        finally
        {
            TempDirectory.Delete(dir);
        }
    }

    [Fact]
    public async Task Delete_index_through_the_sdk_conflicts_while_building_then_removes_every_version()
    {
        string dir = Directory.CreateTempSubdirectory("shoal-sdk-delete-").FullName;
        try
        {
            string corpus = Path.Combine(dir, "delete.tsv");
            await File.WriteAllLinesAsync(corpus, Enumerable.Range(0, 40_000).Select(i => $"d{i}\tdeletable passage {i} about {(i % 3 == 0 ? "glaciers" : "deltas")}"));
            using var client = new ShoalClient(fixture.BaseAddress);
            const string index = "sdkdelete";
            await client.StartIngestAsync(index, new IngestOptions(corpus, Format: "tsv", Shards: 2));

            // While the build runs the gateway refuses with 409, carried by the one exception type.
            var busy = await Assert.ThrowsAsync<ShoalApiException>(() => client.DeleteIndexAsync(index));
            Assert.Equal(HttpStatusCode.Conflict, busy.StatusCode);
            Assert.Contains("building", busy.Detail, StringComparison.Ordinal);
            Assert.False(busy.IsTransient);

            var built = await client.WaitForIngestAsync(index, pollInterval: TimeSpan.FromMilliseconds(100));
            Assert.Equal("succeeded", built.State);
            Assert.NotEmpty((await client.SearchAsync(index, new SearchQuery("glaciers", K: 3))).Hits);

            var deleted = await client.DeleteIndexAsync(index);
            Assert.NotNull(deleted);
            Assert.Equal(index, deleted.Index);
            Assert.Equal([built.Version!.Value], deleted.RemovedVersions);
            Assert.True(deleted.RemovedObjects > 0, $"{deleted.RemovedObjects} objects removed");
            Assert.Equal(2, deleted.ShardReplicasDropped);
            Assert.Empty(deleted.Warnings);

            // Gone: described as absent, a search is a 404, a second delete answers null.
            Assert.Null(await client.GetIndexAsync(index));
            Assert.DoesNotContain(index, await client.ListIndexesAsync());
            var gone = await Assert.ThrowsAsync<ShoalApiException>(() => client.SearchAsync(index, new SearchQuery("glaciers")));
            Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
            Assert.Null(await client.DeleteIndexAsync(index));
            var invalid = await Assert.ThrowsAsync<ShoalApiException>(() => client.DeleteIndexAsync("Bad..Name"));
            Assert.Equal(HttpStatusCode.BadRequest, invalid.StatusCode);
        }
        finally
        {
            TempDirectory.Delete(dir);
        }
    }

    [Fact]
    public async Task Jobs_through_the_sdk_with_traces_and_metrics()
    {
        string dir = Directory.CreateTempSubdirectory("shoal-sdk-jobs-").FullName;
        var activities = new List<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == ShoalTelemetry.ActivitySourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = a => { lock (activities) activities.Add(a); },
        };
        ActivitySource.AddActivityListener(listener);
        var durations = new List<(double Seconds, string? Operation)>();
        using var meters = new MeterListener();
        meters.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == ShoalTelemetry.MeterName) l.EnableMeasurementEvents(instrument);
        };
        meters.SetMeasurementEventCallback<double>((instrument, value, tags, _) =>
        {
            string? operation = null;
            foreach (var tag in tags) if (tag.Key == "shoal.operation") operation = tag.Value as string;
            lock (durations) durations.Add((value, operation));
        });
        meters.Start();
        try
        {
            string corpus = Path.Combine(dir, "jobs.tsv");
            await File.WriteAllLinesAsync(corpus, Enumerable.Range(0, 300).Select(i => $"j{i}\tjob document number {i} about {(i % 2 == 0 ? "rivers" : "mountains")}").Append("malformed line without a tab"));
            using var client = new ShoalClient(fixture.BaseAddress);
            string id = $"sdk-{Guid.NewGuid():N}"[..20];
            var submitted = await client.SubmitJobAsync(new JobSubmission("sdkjob", corpus, Format: "tsv", Shards: 2) { Id = id, ChunkLines = 100, OnMalformed = "skip" });
            Assert.Equal(id, submitted.Id);
            var finished = await client.WaitForJobAsync(id, pollInterval: TimeSpan.FromMilliseconds(50));
            Assert.Equal("succeeded", finished.State);
            Assert.Equal(300, finished.DocumentsIndexed);
            Assert.Equal(1, finished.Malformed);
            Assert.Equal(301, Assert.Single(finished.MalformedLines).Line);
            Assert.Equal("tsv", finished.Request!.Format);
            Assert.NotNull(finished.UpdatedUtc);
            Assert.Contains(await client.ListJobsAsync(10), j => j.Id == id);
            var streamed = new List<string>();
            await foreach (var job in client.GetJobsAsync(10)) streamed.Add(job.Id);
            Assert.Contains(id, streamed);
            var cancelled = await client.CancelJobAsync(id);
            Assert.Equal("succeeded", cancelled!.State); // a finished job stays as it ended
            Assert.Equal("j2", (await client.SearchAsync("sdkjob", new SearchQuery("job document number 2 rivers", K: 1))).Hits[0].Id);

            var search = Assert.Single(activities, a => a.OperationName == "shoal search");
            Assert.Equal(ActivityKind.Client, search.Kind);
            Assert.Equal("sdkjob", search.GetTagItem("shoal.index"));
            Assert.Equal(200, search.GetTagItem("http.response.status_code"));
            Assert.Contains(activities, a => a.OperationName == "shoal submit_job");
            Assert.Contains(durations, d => d.Operation == "search" && d.Seconds > 0);
            Assert.Contains(durations, d => d.Operation == "get_job");
        }
        finally
        {
            TempDirectory.Delete(dir);
        }
    }

    [Fact]
    public async Task The_job_list_pages_with_a_cursor_past_one_page()
    {
        string dir = Directory.CreateTempSubdirectory("shoal-sdk-jobpages-").FullName;
        try
        {
            using var client = new ShoalClient(fixture.BaseAddress);
            string prefix = $"pg{Guid.NewGuid():N}"[..10];
            var ids = new List<string>();
            for (int i = 0; i < 3; i++)
            {
                string corpus = Path.Combine(dir, $"c{i}.tsv");
                await File.WriteAllLinesAsync(corpus, [$"d{i}a\tpaged job {i} first document", $"d{i}b\tpaged job {i} second document"]);
                var job = await client.SubmitJobAsync(new JobSubmission($"{prefix}-{i}", corpus, Format: "tsv", Shards: 1) { Id = $"{prefix}-{i}" });
                ids.Add(job.Id);
            }
            foreach (string id in ids) Assert.Equal("succeeded", (await client.WaitForJobAsync(id, pollInterval: TimeSpan.FromMilliseconds(50))).State);

            // The whole list fits one page of 1000; with pages of 1 and of 2 the stream is the same
            // sequence, newest first, with no job twice.
            var all = (await client.ListJobsAsync(1000)).Select(j => j.Id).ToList();
            Assert.True(all.Count >= 3, $"{all.Count} jobs");
            Assert.Equal(Enumerable.Reverse(ids), all.Where(ids.Contains));
            foreach (int pageSize in new[] { 1, 2 })
            {
                var streamed = new List<string>();
                await foreach (var job in client.GetJobsAsync(pageSize)) streamed.Add(job.Id);
                Assert.Equal(all, streamed);
            }

            // One page after a cursor: the jobs older than it.
            var second = await client.ListJobsAsync(1, after: ids[2]);
            Assert.Equal(ids[1], Assert.Single(second).Id);
            Assert.Equal(all.Skip(all.IndexOf(ids[1]) + 1).Take(2), (await client.ListJobsAsync(2, ids[1])).Select(j => j.Id));
            // The oldest job's cursor is the end.
            Assert.Empty(await client.ListJobsAsync(5, all[^1]));
            // A cursor that names no job is a 400 problem.
            var e = await Assert.ThrowsAsync<ShoalApiException>(() => client.ListJobsAsync(5, "no-such-job"));
            Assert.Equal(HttpStatusCode.BadRequest, e.StatusCode);
            Assert.Contains("'after'", e.Detail, StringComparison.Ordinal);
        }
        finally
        {
            TempDirectory.Delete(dir);
        }
    }

    private sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
