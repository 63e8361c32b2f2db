using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;
using Shoal.Evaluation;
using Shoal.Grains.Contracts;
using Shoal.Grains.Placement;
using Shoal.Grains.Shards;
using Shoal.Hosting;

namespace Shoal.Integration.Tests;

/// <summary>
/// Shard placement that follows membership, on real in-process Orleans clusters: silos join and
/// the replicas spread until the map is balanced; a silo leaves gracefully and its replicas move
/// first; replicas of one shard end on distinct silos; searches running meanwhile never fail and
/// are never partial.
/// </summary>
public sealed class ShardPlacementTests : IAsyncLifetime
{
    private readonly string _data = Directory.CreateTempSubdirectory("shoal-placement-").FullName;
    private InProcessTestCluster? _cluster;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.StopAllSilosAsync();
            await _cluster.DisposeAsync();
        }
        TempDirectory.Delete(_data);
    }

    private async Task<InProcessTestCluster> StartAsync(int silos)
    {
        var builder = new InProcessTestClusterBuilder((short)silos);
        string data = _data;
        builder.ConfigureSilo((_, silo) => silo.AddShoal(o =>
        {
            o.SnapshotDirectory = Path.Combine(data, "snapshots");
            o.CacheDirectory = Path.Combine(data, "cache", Guid.NewGuid().ToString("N")); // each silo restores into its own cache, as on separate machines
            o.BuildDirectory = Path.Combine(data, "build");
            o.RebalanceInterval = TimeSpan.FromSeconds(1);
            o.RebalanceSettleDelay = TimeSpan.FromMilliseconds(300);
            o.DefaultDeadline = TimeSpan.FromSeconds(10);
        }));
        _cluster = builder.Build();
        await _cluster.DeployAsync();
        return _cluster;
    }

    private static async Task IngestAsync(InProcessTestCluster cluster, string index, int shards, int replicas)
    {
        var grain = cluster.Client.GetGrain<IIndexGrain>(index);
        await grain.StartIngestAsync(new IngestRequest { CorpusPath = Paths.Shared("scifact", "corpus.jsonl"), Shards = shards, Replicas = replicas });
        var deadline = DateTime.UtcNow.AddMinutes(3);
        while ((await grain.GetIngestStatusAsync()) is { State: not IngestState.Succeeded } st)
        {
            Assert.NotEqual(IngestState.Failed, st.State);
            Assert.True(DateTime.UtcNow < deadline, "the build did not finish");
            await Task.Delay(100);
        }
    }

    /// <summary>Where every replica is, asked of the replicas themselves.</summary>
    private static async Task<ShardInfo[]> LocateAsync(InProcessTestCluster cluster, string index, int shards, int replicas)
    {
        var reads = new List<Task<ShardInfo>>();
        for (int s = 0; s < shards; s++)
            for (int r = 0; r < replicas; r++)
                reads.Add(cluster.Client.GetGrain<IShardGrain>(ShardGrain.KeyOf(index, s, r)).GetInfoAsync());
        return await Task.WhenAll(reads);
    }

    /// <summary>Waits until the rebalancer reports the index balanced over <paramref name="silos"/> silos, and the replicas confirm it.</summary>
    private static async Task<IndexPlacement> WaitBalancedAsync(InProcessTestCluster cluster, string index, int shards, int replicas, int silos, TimeSpan within)
    {
        var until = DateTime.UtcNow + within;
        IndexPlacement? last = null;
        while (DateTime.UtcNow < until)
        {
            last = (await cluster.Client.GetGrain<IIndexGrain>(index).GetInfoAsync())!.Placement;
            if (last is { Balanced: true } && last.Replicas.Select(r => r.Silo).Distinct().Count() == Math.Min(silos, shards * replicas))
            {
                var actual = await LocateAsync(cluster, index, shards, replicas);
                var counts = actual.GroupBy(a => a.SiloAddress).Select(g => g.Count()).ToList();
                if (counts.Count == Math.Min(silos, shards * replicas) && counts.Max() - counts.Min() <= 1) return last;
            }
            await Task.Delay(200);
        }
        throw new TimeoutException($"not balanced over {silos} silos within {within}: {string.Join("; ", last?.Replicas.Select(r => $"{r.Shard}/{r.Replica} on {r.Silo} -> {r.Target}") ?? [])}");
    }

    /// <summary>Runs searches until cancelled; returns (queries, failed, partial, wrong answers).</summary>
    private static async Task<(int Queries, int Failed, int Partial, int Wrong, string? FirstError)> SearchStreamAsync(
        InProcessTestCluster cluster, string index, IReadOnlyList<(string Text, string[] Ids)> expected, CancellationToken stop)
    {
        int queries = 0, failed = 0, partial = 0, wrong = 0;
        string? firstError = null;
        var coordinator = cluster.Client.GetGrain<IQueryCoordinatorGrain>(0);
        for (int i = 0; !stop.IsCancellationRequested; i++)
        {
            var (text, ids) = expected[i % expected.Count];
            queries++;
            try
            {
                var r = await coordinator.SearchAsync(new SearchRequest { Index = index, Text = text, K = 10 }, CancellationToken.None);
                if (r.Status != SearchStatus.Ok) { failed++; firstError ??= r.Error; }
                else if (r.Coverage.Partial) { partial++; firstError ??= "partial: " + string.Join("; ", r.Coverage.Reasons); }
                else if (!r.Hits.Select(h => h.Id).SequenceEqual(ids)) wrong++;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                failed++;
                firstError ??= e.ToString();
            }
        }
        return (queries, failed, partial, wrong, firstError);
    }

    private static async Task<List<(string Text, string[] Ids)>> BaselineAsync(InProcessTestCluster cluster, string index)
    {
        var coordinator = cluster.Client.GetGrain<IQueryCoordinatorGrain>(0);
        var result = new List<(string, string[])>();
        foreach (var topic in TopicReader.Load(Paths.Shared("scifact", "queries.test.jsonl")).Take(30))
        {
            var r = await coordinator.SearchAsync(new SearchRequest { Index = index, Text = topic.Text, K = 10 });
            Assert.Equal(SearchStatus.Ok, r.Status);
            Assert.False(r.Coverage.Partial);
            result.Add((topic.Text, r.Hits.Select(h => h.Id).ToArray()));
        }
        return result;
    }

    [Fact]
    public async Task Silos_joining_get_a_fair_share_and_a_search_stream_during_the_moves_sees_no_error()
    {
        var cluster = await StartAsync(1);
        await IngestAsync(cluster, "grow", shards: 6, replicas: 1);
        var first = await LocateAsync(cluster, "grow", 6, 1);
        Assert.Single(first.Select(f => f.SiloAddress).Distinct());
        var expected = await BaselineAsync(cluster, "grow");

        using var stop = new CancellationTokenSource();
        var stream = Task.Run(() => SearchStreamAsync(cluster, "grow", expected, stop.Token));
        await cluster.StartAdditionalSiloAsync();
        await cluster.StartAdditionalSiloAsync();
        var placement = await WaitBalancedAsync(cluster, "grow", 6, 1, silos: 3, TimeSpan.FromSeconds(60));
        await Task.Delay(500);
        await stop.CancelAsync();
        var (queries, failed, partial, wrong, error) = await stream;

        Assert.True(placement.Skew <= 1, $"skew {placement.Skew}");
        var now = await LocateAsync(cluster, "grow", 6, 1);
        Assert.All(now.GroupBy(n => n.SiloAddress), g => Assert.Equal(2, g.Count()));
        Assert.True(queries > 10, $"only {queries} queries ran during the moves");
        Assert.True(failed == 0, $"{failed} of {queries} searches failed during the moves: {error}");
        Assert.True(partial == 0, $"{partial} of {queries} answers were partial: {error}");
        Assert.Equal(0, wrong);
    }

    [Fact]
    public async Task Shards_sharing_a_remote_silo_are_searched_with_one_message_and_answer_as_before()
    {
        var cluster = await StartAsync(3);
        await IngestAsync(cluster, "batch", shards: 6, replicas: 1);
        await WaitBalancedAsync(cluster, "batch", 6, 1, silos: 3, TimeSpan.FromSeconds(60));
        long batches = 0;
        using var listener = new System.Diagnostics.Metrics.MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Name == "shoal.query.silo_batches") l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
                if (tag is { Key: "index", Value: "batch" }) Interlocked.Add(ref batches, value);
        });
        listener.Start();

        // The first searches learn where the shards answer from; later ones batch by silo.
        var expected = await BaselineAsync(cluster, "batch");
        var again = await BaselineAsync(cluster, "batch");
        Assert.Equal(expected.Count, again.Count);
        for (int i = 0; i < expected.Count; i++) Assert.Equal(expected[i].Ids, again[i].Ids);
        // 6 shards over 3 silos, 2 on each: every search from a coordinator has two remote silos with two shards each.
        Assert.True(Interlocked.Read(ref batches) >= again.Count, $"{batches} silo batches for {again.Count} searches");
    }

    [Fact]
    public async Task With_a_replica_of_every_shard_on_every_silo_a_search_stays_on_the_silo_that_took_it()
    {
        var cluster = await StartAsync(3);
        await IngestAsync(cluster, "local", shards: 6, replicas: 3);
        await WaitBalancedAsync(cluster, "local", 6, 3, silos: 3, TimeSpan.FromSeconds(60));
        var expected = await BaselineAsync(cluster, "local"); // the searches learn where the replicas answer from
        long batches = 0;
        using var listener = new System.Diagnostics.Metrics.MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Name == "shoal.query.silo_batches") l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
                if (tag is { Key: "index", Value: "local" }) Interlocked.Add(ref batches, value);
        });
        listener.Start();

        var again = await BaselineAsync(cluster, "local");
        for (int i = 0; i < expected.Count; i++) Assert.Equal(expected[i].Ids, again[i].Ids);
        // Every shard has a replica on the coordinator's silo: no shard call leaves it, so nothing is batched
        // (a random replica per search would send about two thirds of the shard calls to the other silos).
        Assert.Equal(0, Interlocked.Read(ref batches));
    }

    [Fact]
    public async Task Replicas_of_a_shard_end_on_distinct_silos_once_there_are_enough()
    {
        var cluster = await StartAsync(1);
        await IngestAsync(cluster, "copies", shards: 3, replicas: 2);
        await cluster.StartAdditionalSiloAsync();
        await cluster.StartAdditionalSiloAsync();
        await WaitBalancedAsync(cluster, "copies", 3, 2, silos: 3, TimeSpan.FromSeconds(60));
        var now = await LocateAsync(cluster, "copies", 3, 2);
        foreach (var shard in now.GroupBy(n => n.Shard))
            Assert.Equal(2, shard.Select(r => r.SiloAddress).Distinct().Count());
        Assert.All(now.GroupBy(n => n.SiloAddress), g => Assert.Equal(2, g.Count()));
    }

    [Fact]
    public async Task Index_grains_placed_while_a_silo_leaves_avoid_it()
    {
        var cluster = await StartAsync(2);
        var leaving = cluster.Silos[1].SiloAddress;
        await cluster.Client.GetGrain<IPlacementRegistryGrain>(0).MarkDrainingAsync(leaving.ToParsableString());
        // Every silo's view of the leaving silos is refreshed by its rebalancer (every second here).
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!cluster.Silos.All(s => cluster.GetSiloServiceProvider(s.SiloAddress).GetRequiredService<DrainingSilos>().Current.Contains(leaving)))
        {
            Assert.True(DateTime.UtcNow < deadline, "the silos did not learn that one is leaving");
            await Task.Delay(100);
        }

        var silos = new List<string>();
        for (int i = 0; i < 8; i++)
        {
            var grain = cluster.Client.GetGrain<IIndexGrain>($"probe-{i}");
            await grain.StartIngestAsync(new IngestRequest { CorpusPath = Paths.SamplePassages });
            silos.Add((await grain.GetInfoAsync())!.Silo!);
        }
        // Without the filter a random or resource-optimised choice puts about half of them there.
        Assert.DoesNotContain(leaving.ToString(), silos);
        Assert.All(silos, s => Assert.Equal(cluster.Silos[0].SiloAddress.ToString(), s));
    }

    [Fact]
    public async Task A_silo_leaving_gracefully_moves_its_replicas_first_and_no_shard_goes_unserved()
    {
        var cluster = await StartAsync(3);
        await IngestAsync(cluster, "shrink", shards: 6, replicas: 1);
        await WaitBalancedAsync(cluster, "shrink", 6, 1, silos: 3, TimeSpan.FromSeconds(60));
        var expected = await BaselineAsync(cluster, "shrink");
        var leaving = cluster.Silos[2];
        string gone = leaving.SiloAddress.ToParsableString();
        int there = (await LocateAsync(cluster, "shrink", 6, 1)).Count(r => r.SiloAddress == gone);
        Assert.Equal(2, there);
        var rebalancer = leaving.SiloHost.Services.GetRequiredService<ShardRebalancer>();
        int movedBefore = rebalancer.MovesCompleted;

        using var stop = new CancellationTokenSource();
        var stream = Task.Run(() => SearchStreamAsync(cluster, "shrink", expected, stop.Token));
        await Task.Delay(300);
        await cluster.StopSiloAsync(leaving);
        await Task.Delay(500);
        await stop.CancelAsync();
        var (queries, failed, partial, wrong, error) = await stream;

        // The leaving silo moved its own replicas (warm) before it stopped, rather than leaving them to re-activate cold elsewhere.
        Assert.Equal(there, rebalancer.MovesCompleted - movedBefore);
        var now = await LocateAsync(cluster, "shrink", 6, 1);
        Assert.DoesNotContain(now, r => r.SiloAddress == gone);
        await WaitBalancedAsync(cluster, "shrink", 6, 1, silos: 2, TimeSpan.FromSeconds(60));
        Assert.True(failed == 0, $"{failed} of {queries} searches failed while a silo left: {error}");
        Assert.True(partial == 0, $"{partial} of {queries} answers were partial: {error}");
        Assert.Equal(0, wrong);
    }
}
