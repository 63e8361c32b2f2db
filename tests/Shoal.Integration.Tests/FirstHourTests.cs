using System.Net;
using System.Net.Sockets;
using System.Text;
using Shoal.Cli.Commands;
using Shoal.Gateway;
using Shoal.Grains.Contracts;
using Shoal.Grains.Hosting;
using Shoal.Grains.Jobs;
using Shoal.Integration.Tests.Jobs;

namespace Shoal.Integration.Tests;

/// <summary>A one-silo cluster with jobs: what a newcomer's first commands meet.</summary>
public sealed class OneSiloJobCluster : JobCluster
{
    public OneSiloJobCluster() : base(1)
    {
    }
}

/// <summary>
/// Counts and refusals a newcomer relies on: deletes count what was deleted, a merge with
/// nothing pending publishes nothing, a job of malformed lines fails instead of publishing an
/// empty index, replicas that cannot be spread are reported (or refused), per-phase build counts.
/// </summary>
public sealed class FirstHourTests(OneSiloJobCluster fixture) : IClassFixture<OneSiloJobCluster>
{
    private IIndexGrain Index(string name) => fixture.Cluster.Client.GetGrain<IIndexGrain>(name);

    [Fact]
    public async Task Deletes_count_only_documents_the_index_held_and_a_merge_with_nothing_pending_publishes_nothing()
    {
        var info = await JobWaits.IngestAsync(fixture.Cluster, "counts", new IngestRequest { CorpusPath = Paths.SamplePassages, Shards = 2 });
        Assert.Equal(1, info.Version);

        var first = await Index("counts").UpdateAsync(new UpdateRequest { Deletes = ["s01", "s02", "no-such-id"] });
        Assert.Equal(2, first.Deleted);
        // Deleting again finds nothing; an id upserted in the buffer then deleted counts.
        await Index("counts").UpdateAsync(new UpdateRequest { Upserts = [new UpsertDocument { Id = "fresh", Text = "a new passage" }] });
        var second = await Index("counts").UpdateAsync(new UpdateRequest { Deletes = ["s01", "fresh"] });
        Assert.Equal(1, second.Deleted);

        var merge = await Index("counts").StartMergeAsync();
        for (var deadline = DateTime.UtcNow.AddMinutes(2); merge.State == IngestState.Running; merge = (await Index("counts").GetInfoAsync())!.Updates!.Merge!)
        {
            Assert.True(DateTime.UtcNow < deadline, "merge did not finish");
            await Task.Delay(100);
        }
        Assert.Equal(IngestState.Succeeded, merge.State);
        Assert.Equal(2, merge.Version);

        var noop = await Index("counts").StartMergeAsync();
        Assert.Equal(IngestState.Succeeded, noop.State);
        Assert.Equal("nothing to merge", noop.Phase);
        Assert.Equal(2, noop.Version);
        Assert.Equal(2, (await Index("counts").GetInfoAsync())!.Version);
    }

    [Fact]
    public async Task A_job_whose_every_line_is_malformed_fails_with_the_report_and_publishes_nothing()
    {
        string path = Path.Combine(fixture.Data, "all-bad.jsonl");
        await File.WriteAllLinesAsync(path, Enumerable.Range(0, 25).Select(i => $"{{\"_id\": \"d{i}\", \"text\": "), new UTF8Encoding(false));
        await fixture.Cluster.Client.GetGrain<IIndexJobGrain>("all-bad").SubmitAsync(new IndexJobRequest { Index = "allbad", Source = path });
        var done = await JobWaits.FinishedAsync(fixture.Cluster, "all-bad");
        Assert.Equal(IndexJobState.Failed, done.State);
        Assert.Equal(25, done.Malformed);
        Assert.Contains("holds no well-formed document", done.Error, StringComparison.Ordinal);
        Assert.Contains("line 1", done.Error, StringComparison.Ordinal);
        Assert.Null(done.Version);
        Assert.Null(await Index("allbad").GetInfoAsync());
    }

    [Fact]
    public async Task Replicas_that_cannot_land_on_distinct_silos_are_a_warning_or_with_strict_placement_a_refusal()
    {
        var started = await Index("replicated").StartIngestAsync(new IngestRequest { CorpusPath = Paths.SamplePassages, Shards = 2, Replicas = 2 });
        var warning = Assert.Single(started.Warnings);
        Assert.Contains("2 replicas", warning, StringComparison.Ordinal);
        Assert.Contains("1 active silo", warning, StringComparison.Ordinal);

        var refused = await Assert.ThrowsAsync<ArgumentException>(() =>
            Index("strict").StartIngestAsync(new IngestRequest { CorpusPath = Paths.SamplePassages, Shards = 2, Replicas = 2, StrictPlacement = true }));
        Assert.Contains("strictPlacement", refused.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<ArgumentException>(() => fixture.Cluster.Client.GetGrain<IIndexJobGrain>("strict-job")
            .SubmitAsync(new IndexJobRequest { Index = "strictjob", Source = Paths.SamplePassages, Replicas = 2, StrictPlacement = true }));

        var job = await fixture.Cluster.Client.GetGrain<IIndexJobGrain>("warned-job")
            .SubmitAsync(new IndexJobRequest { Index = "warnedjob", Source = Paths.SamplePassages, Replicas = 2 });
        Assert.Single(job.Warnings);
        Assert.Equal(IndexJobState.Succeeded, (await JobWaits.FinishedAsync(fixture.Cluster, "warned-job")).State);
    }

    [Fact]
    public async Task A_build_of_text_and_vectors_counts_documents_not_records()
    {
        string vectors = Path.Combine(fixture.Data, "sample-dense.jsonl");
        var ids = (await File.ReadAllLinesAsync(Paths.SamplePassages)).Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement.GetProperty("_id").GetString()!).ToArray();
        await File.WriteAllLinesAsync(vectors, ids.Select((id, i) => $"{{\"id\": \"{id}\", \"vector\": [{i % 3}.5, 1.0, 0.25]}}"));
        var grain = Index("both");
        await grain.StartIngestAsync(new IngestRequest { CorpusPath = Paths.SamplePassages, DenseVectorsPath = vectors, DenseIndex = "flat", Shards = 2 });
        var seen = new List<IngestStatus>();
        IngestStatus st;
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while ((st = await grain.GetIngestStatusAsync()).State == IngestState.Running)
        {
            seen.Add(st);
            Assert.True(DateTime.UtcNow < deadline);
            await Task.Delay(10);
        }
        Assert.Equal(IngestState.Succeeded, st.State);
        Assert.Equal(ids.Length, st.DocumentsRead);
        Assert.All(seen, s => Assert.InRange(s.DocumentsRead, 0, ids.Length));
    }
}

/// <summary>Start-up refusals and progress output, without a cluster.</summary>
public sealed class FirstHourHostTests
{
    [Fact]
    public void An_embedded_gateway_refuses_a_silo_port_that_is_taken_and_says_how_to_pick_a_free_one()
    {
        using var holder = new TcpListener(IPAddress.Loopback, 0);
        holder.Start();
        int port = ((IPEndPoint)holder.LocalEndpoint).Port;
        var e = Assert.Throws<ArgumentException>(() => GatewayHost.Build(["--SiloPort", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--Index", "", "--urls", "http://127.0.0.1:0",
            "--DataDirectory", Path.Combine(Path.GetTempPath(), "shoal-port-test")]));
        Assert.Contains($"SiloPort {port} is already in use", e.Message, StringComparison.Ordinal);
        Assert.Contains("--SiloPort 0", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Only_the_shared_folder_beside_the_repository_counts_as_its_data_not_one_further_up()
    {
        string top = Path.Combine(Path.GetTempPath(), "shoal-shared-" + Guid.NewGuid().ToString("N"));
        try
        {
            // top/shared/data holds a corpus; top/new/shoal is a clone with no shared beside it.
            Directory.CreateDirectory(Path.Combine(top, "shared", "data", "scifact"));
            File.WriteAllText(Path.Combine(top, "shared", "data", "scifact", "corpus.jsonl"), "{}");
            string clone = Path.Combine(top, "new", "shoal");
            Directory.CreateDirectory(Path.Combine(clone, "src", "Gateway"));
            Directory.CreateDirectory(Path.Combine(clone, "samples"));
            File.WriteAllText(Path.Combine(clone, "Cluster.sln"), "");
            string[] starts = [Path.Combine(clone, "src", "Gateway")];

            Assert.Null(SharedData.Find("scifact/corpus.jsonl", starts));
            Assert.Null(SharedData.Root(starts));
            Assert.Equal(Path.Combine(clone, "samples"), SharedData.Samples(starts));

            // The same data beside the clone is found, from anywhere inside it.
            Directory.Move(Path.Combine(top, "shared"), Path.Combine(top, "new", "shared"));
            Assert.Equal(Path.Combine(top, "new", "shared", "data", "scifact", "corpus.jsonl"), SharedData.Find("scifact/corpus.jsonl", starts));
            Assert.Equal(Path.Combine(top, "new", "shared", "data"), SharedData.Root([clone]));
        }
        finally
        {
            TempDirectory.Delete(top);
        }
    }

    [Fact]
    public void Progress_written_to_a_file_or_pipe_is_plain_lines_on_each_phase_change_and_at_most_one_per_interval()
    {
        var output = new StringWriter();
        var line = new LiveLine(output);
        for (int i = 0; i < 1000; i++) line.Update($"reading text {i}", "reading text");
        line.Update("encoding dense 0", "encoding dense");
        line.Update("encoding dense 1", "encoding dense");
        line.Complete("done 40");
        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Equal(["reading text 0", "encoding dense 0", "done 40"], lines);
        Assert.DoesNotContain('\r', output.ToString().Replace(Environment.NewLine, "\n", StringComparison.Ordinal));
    }

    [Fact]
    public void A_final_state_the_last_plain_line_showed_is_not_written_twice()
    {
        // shoal ingest reports the 'done' phase as progress, then completes with the same line (CI showed it twice).
        var output = new StringWriter();
        var line = new LiveLine(output);
        line.Update("reading text 40", "reading text");
        line.Update("done 40", "done");
        line.Complete("done 40");
        line.Update("second run 1", "reading text");
        line.Complete("second done");
        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Equal(["reading text 40", "done 40", "second run 1", "second done"], lines);
    }

    [Fact]
    public async Task The_shoal_tool_exits_with_2_and_names_the_problem_when_a_required_option_is_missing()
    {
        string cli = Paths.BuildOutput("Client/Shoal.Cli", "shoal.dll");
        var psi = new System.Diagnostics.ProcessStartInfo("dotnet", $"\"{cli}\" eval --corpus samples/passages.jsonl --queries q.tsv")
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        using var process = System.Diagnostics.Process.Start(psi)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
        Assert.Equal(2, process.ExitCode);
        Assert.Contains("--qrels", await stderr, StringComparison.Ordinal);
        await stdout;
    }
}
