using System.IO.Compression;
using System.Text;
using Orleans;
using Orleans.Runtime;
using Orleans.Storage;
using Shoal.Engine.Snapshots;
using Shoal.Grains.Contracts;
using Shoal.Grains.Jobs;

namespace Shoal.Integration.Tests.Jobs;

public sealed partial class JobTests(JobCluster fixture) : IClassFixture<JobCluster>
{
    private IIndexJobGrain Job(string id) => fixture.Cluster.Client.GetGrain<IIndexJobGrain>(id);

    private LocalDirectorySnapshotStore Store => new(fixture.Snapshots);

    private string Write(string name, string content)
    {
        string path = Path.Combine(fixture.Data, name);
        File.WriteAllText(path, content, new UTF8Encoding(false));
        return path;
    }

    [Fact]
    public async Task A_cancelled_job_stops_at_a_chunk_boundary_publishes_nothing_and_deletes_its_spills()
    {
        var corpus = GeneratedCorpus.Write(Directory.CreateDirectory(Path.Combine(fixture.Data, "cancel")).FullName, documents: 100_000);
        await Job("cancel-1").SubmitAsync(new IndexJobRequest { Index = "cancelled", Source = corpus.Path, Shards = 2, ChunkLines = 1000 });
        await JobWaits.PollAsync(fixture.Cluster, "cancel-1", s => s.Chunks >= 1, TimeSpan.FromMinutes(1), TimeSpan.FromMilliseconds(5));
        var asked = await Job("cancel-1").CancelAsync();
        Assert.NotNull(asked);

        var done = await JobWaits.FinishedAsync(fixture.Cluster, "cancel-1");
        Assert.Equal(IndexJobState.Cancelled, done.State);
        Assert.Equal("cancelled", done.Phase);
        Assert.True(done.LinesRead < corpus.Lines);
        Assert.Equal(0, done.LinesRead % 1000); // a chunk boundary
        Assert.Null(done.Version);
        Assert.Null(await fixture.Cluster.Client.GetGrain<IIndexGrain>("cancelled").GetInfoAsync());
        Assert.Empty(await Store.ListAsync("jobs/spill/cancel-1/"));
        Assert.Empty(await Store.ListAsync("indexes/cancelled/"));

        // Cancelling a finished job leaves it as it is; an unknown job is null.
        Assert.Equal(IndexJobState.Cancelled, (await Job("cancel-1").CancelAsync())!.State);
        Assert.Null(await Job("no-such-job").CancelAsync());
        Assert.Null(await Job("no-such-job").GetStatusAsync());
    }

    [Fact]
    public async Task Malformed_lines_are_skipped_and_reported_with_their_line_numbers()
    {
        var lines = new List<string>();
        for (int i = 1; i <= 45; i++)
        {
            lines.Add(i switch
            {
                7 => """{"_id": "x7", "title": "no text"}""",
                12 => "{not json",
                13 => "",
                31 => """{"text": "no id"}""",
                44 => """[1, 2, 3]""",
                _ => $$"""{"_id": "m{{i}}", "text": "line {{i}} about kestrels"}""",
            });
        }
        string path = Write("malformed.jsonl", string.Join('\n', lines) + "\n");
        await Job("skip-1").SubmitAsync(new IndexJobRequest { Index = "skipped", Source = path, Shards = 2, ChunkLines = 10, OnMalformed = "skip" });
        var done = await JobWaits.FinishedAsync(fixture.Cluster, "skip-1");
        Assert.Equal(IndexJobState.Succeeded, done.State);
        Assert.Equal(4, done.Malformed);
        Assert.Equal([7L, 12, 31, 44], done.MalformedLines.Select(m => m.Line));
        Assert.Contains("missing \"text\" (document 'x7')", done.MalformedLines[0].Reason);
        Assert.Contains("invalid JSON", done.MalformedLines[1].Reason);
        Assert.Contains("missing \"_id\"", done.MalformedLines[2].Reason);
        Assert.Contains("expected a JSON object", done.MalformedLines[3].Reason);
        Assert.Equal(45, done.LinesRead);
        Assert.Equal(40, done.DocumentsRead);
        Assert.Equal(40, done.DocumentsIndexed);
        Assert.Equal(5, done.Chunks);
        Assert.Equal(40, (await fixture.Cluster.Client.GetGrain<IIndexGrain>("skipped").GetInfoAsync())!.DocCount);
    }

    [Fact]
    public async Task Under_the_stop_policy_the_first_malformed_line_fails_the_job_and_nothing_is_published()
    {
        var lines = Enumerable.Range(1, 30).Select(i => i == 17 ? "d17\tno-second-tab-but-three\tcolumns\there" : $"d{i}\ttext {i}").ToList();
        string path = Write("stop.tsv", string.Join('\n', lines) + "\n");
        await Job("stop-1").SubmitAsync(new IndexJobRequest { Index = "stopped", Source = path, ChunkLines = 10, OnMalformed = "stop" });
        var done = await JobWaits.FinishedAsync(fixture.Cluster, "stop-1");
        Assert.Equal(IndexJobState.Failed, done.State);
        Assert.Contains("Malformed line 17", done.Error);
        Assert.Contains("expected 2 or 3 tab-separated columns, found 4", done.Error);
        Assert.Equal(1, done.Malformed);
        Assert.Equal(17, Assert.Single(done.MalformedLines).Line);
        Assert.Equal(16, done.LinesRead);
        Assert.Null(await fixture.Cluster.Client.GetGrain<IIndexGrain>("stopped").GetInfoAsync());
        Assert.Empty(await Store.ListAsync("jobs/spill/stop-1/"));
    }

    [Fact]
    public async Task Gzip_tsv_and_ms_marco_v2_sources_from_files_and_from_the_store_are_indexed()
    {
        // TSV, gzip-compressed, named .tsv.gz, format detected.
        string tsv = Path.Combine(fixture.Data, "passages.tsv.gz");
        using (var gz = new GZipStream(File.Create(tsv), CompressionLevel.Fastest))
        using (var w = new StreamWriter(gz, new UTF8Encoding(false)))
            for (int i = 0; i < 500; i++) await w.WriteAsync($"t{i}\tTitle {i}\tpassage number {i} about ospreys and tsvword{i}\n");
        await Job("tsv-1").SubmitAsync(new IndexJobRequest { Index = "tsv", Source = tsv, Shards = 2, ChunkLines = 64 });
        var tsvDone = await JobWaits.FinishedAsync(fixture.Cluster, "tsv-1");
        Assert.Equal(IndexJobState.Succeeded, tsvDone.State);
        Assert.Equal(500, tsvDone.DocumentsIndexed);
        Assert.Equal(new FileInfo(tsv).Length, tsvDone.BytesRead);
        var coordinator = fixture.Cluster.Client.GetGrain<IQueryCoordinatorGrain>(0);
        var hit = Assert.Single((await coordinator.SearchAsync(new SearchRequest { Index = "tsv", Text = "tsvword321", K = 3 })).Hits);
        Assert.Equal("t321", hit.Id);
        Assert.Equal("Title 321", hit.Title);

        // MS MARCO v2 passages, stored as an object of the snapshot store.
        var sb = new StringBuilder();
        for (int i = 0; i < 200; i++) sb.Append(System.Globalization.CultureInfo.InvariantCulture, $$"""{"pid": "msmarco_passage_00_{{i}}", "passage": "marco passage {{i}} with marcoword{{i}}", "spans": "(0,10)", "docid": "msmarco_doc_00_{{i}}"}""").Append('\n');
        await Store.PutBytesAsync("uploads/msmarco.jsonl", Encoding.UTF8.GetBytes(sb.ToString()));
        await Job("marco-1").SubmitAsync(new IndexJobRequest { Index = "marco", Source = "store:uploads/msmarco.jsonl", Format = "msmarco-v2", ChunkLines = 50 });
        var marco = await JobWaits.FinishedAsync(fixture.Cluster, "marco-1");
        Assert.Equal(IndexJobState.Succeeded, marco.State);
        Assert.Equal(200, marco.DocumentsIndexed);
        Assert.Equal("msmarco_passage_00_77", Assert.Single((await coordinator.SearchAsync(new SearchRequest { Index = "marco", Text = "marcoword77" })).Hits).Id);
    }

    [Fact]
    public async Task Bad_requests_are_rejected_with_a_reason_and_resubmission_is_idempotent()
    {
        string path = Write("tiny.jsonl", """{"_id": "a", "text": "alpha"}""" + "\n");
        async Task<string> Rejected(IndexJobRequest r) => (await Assert.ThrowsAsync<ArgumentException>(() => Job("bad-" + Guid.NewGuid().ToString("N")[..6]).SubmitAsync(r))).Message;
        Assert.Contains("Index name 'Bad Name' is invalid", await Rejected(new IndexJobRequest { Index = "Bad Name", Source = path }));
        Assert.Contains("'source' is required", await Rejected(new IndexJobRequest { Index = "ok", Source = " " }));
        Assert.Contains("does not exist", await Rejected(new IndexJobRequest { Index = "ok", Source = path + ".missing" }));
        Assert.Contains("does not exist", await Rejected(new IndexJobRequest { Index = "ok", Source = "store:nothing/here.jsonl" }));
        Assert.Contains("shards must be between 1 and", await Rejected(new IndexJobRequest { Index = "ok", Source = path, Shards = 0 }));
        Assert.Contains("onMalformed must be 'skip' or 'stop'", await Rejected(new IndexJobRequest { Index = "ok", Source = path, OnMalformed = "ignore" }));
        Assert.Contains("Unknown corpus format 'csv'", await Rejected(new IndexJobRequest { Index = "ok", Source = path, Format = "csv" }));
        Assert.Contains("k1", await Rejected(new IndexJobRequest { Index = "ok", Source = path, K1 = -1 }));
        Assert.Contains("Job id 'Not Valid' is invalid", (await Assert.ThrowsAsync<ArgumentException>(() => Job("Not Valid").SubmitAsync(new IndexJobRequest { Index = "ok", Source = path }))).Message);

        var request = new IndexJobRequest { Index = "tiny", Source = path };
        var first = await Job("tiny-1").SubmitAsync(request);
        var again = await Job("tiny-1").SubmitAsync(request);
        Assert.Equal(first.CreatedUtc, again.CreatedUtc);
        await Assert.ThrowsAsync<InvalidOperationException>(() => Job("tiny-1").SubmitAsync(request with { Shards = 2 }));
        Assert.Equal(IndexJobState.Succeeded, (await JobWaits.FinishedAsync(fixture.Cluster, "tiny-1")).State);
        Assert.Contains("tiny-1", await fixture.Cluster.Client.GetGrain<IIndexJobCatalogGrain>(0).ListAsync(100));
    }

    [Fact]
    public async Task Grain_storage_over_the_snapshot_store_rejects_a_stale_etag()
    {
        var storage = new SnapshotGrainStorage(Store, "jobs/state-test");
        var id = GrainId.Create("job", "etag-1");
        var a = new GrainState<IndexJobRecord>(new IndexJobRecord());
        await storage.ReadStateAsync("job", id, a);
        Assert.False(a.RecordExists);
        a.State!.LinesDone = 10;
        await storage.WriteStateAsync("job", id, a);
        Assert.True(a.RecordExists);

        var b = new GrainState<IndexJobRecord>(new IndexJobRecord());
        await storage.ReadStateAsync("job", id, b);
        Assert.Equal(10, b.State!.LinesDone);
        Assert.Equal(a.ETag, b.ETag);
        b.State!.LinesDone = 20;
        await storage.WriteStateAsync("job", id, b);

        // a is stale now: its write is refused and the stored state is b's.
        a.State!.LinesDone = 11;
        await Assert.ThrowsAsync<InconsistentStateException>(() => storage.WriteStateAsync("job", id, a));
        var c = new GrainState<IndexJobRecord>(new IndexJobRecord());
        await storage.ReadStateAsync("job", id, c);
        Assert.Equal(20, c.State!.LinesDone);
        string json = Encoding.UTF8.GetString((await Store.GetBytesAsync(storage.KeyOf("job", id)))!);
        Assert.Contains("\"linesDone\": 20", json);

        // A fresh state (no ETag) cannot overwrite an existing one either.
        await Assert.ThrowsAsync<InconsistentStateException>(() => storage.WriteStateAsync("job", id, new GrainState<IndexJobRecord>(new IndexJobRecord())));
        await storage.ClearStateAsync("job", id, c);
        Assert.Null(await Store.GetBytesAsync(storage.KeyOf("job", id)));
    }
}
