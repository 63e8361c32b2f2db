using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;
using Shoal.Grains.Contracts;
using Shoal.Grains.Shards;
using Shoal.Hosting;

namespace Shoal.Integration.Tests.Placement;

/// <summary>
/// A search that starts on a silo reads the shard replicas active there without a grain call
/// (<see cref="LocalShards"/>), and reads exactly what the grains serve: the same hits, an online
/// update visible as soon as it returns, a merged version as soon as it is published, nothing
/// once the index is deleted.
/// </summary>
public sealed class DirectLocalSearchTests(TwoSiloCluster fixture) : IClassFixture<TwoSiloCluster>
{
    private IEnumerable<LocalShards> Registries =>
        fixture.Cluster.Silos.Select(s => ((InProcessSiloHandle)s).SiloHost.Services.GetRequiredService<LocalShards>());

    private long DirectSearches => Registries.Sum(r => r.DirectSearches);

    private async Task<SearchResponse> SearchAsync(string index, string text, int key)
    {
        var r = await fixture.Cluster.Client.GetGrain<IQueryCoordinatorGrain>(key).SearchAsync(new SearchRequest { Index = index, Text = text, K = 5 });
        Assert.True(r.Status == SearchStatus.Ok, r.Error);
        Assert.False(r.Coverage.Partial, string.Join("; ", r.Coverage.Reasons));
        return r;
    }

    [Fact]
    public async Task Searches_read_local_replicas_directly_and_see_updates_merges_and_deletion_as_the_grains_do()
    {
        const string index = "direct";
        await fixture.IngestAsync(index, new IngestRequest { CorpusPath = Paths.SamplePassages, Shards = 3, Replicas = 2 });
        // Two replicas of each shard on two silos: every silo holds one replica of every shard.
        foreach (var registry in Registries) Assert.True(registry.Enabled);

        // Searches activate the replicas; wait until both silos hold one of every shard (a replica
        // placed while the second silo was still joining is moved there by the rebalancer).
        var settle = DateTime.UtcNow.AddMinutes(1);
        while (true)
        {
            await SearchAsync(index, "wind turbines and electricity", 0);
            if (Enumerable.Range(0, 3).All(shard => Registries.Count(r => r.Serves(index, shard, 0) || r.Serves(index, shard, 1)) == 2)) break;
            Assert.True(DateTime.UtcNow < settle, "the replicas never spread over both silos");
            await Task.Delay(200);
        }

        long before = DirectSearches;
        for (int key = 0; key < 16; key++)
        {
            var r = await SearchAsync(index, "wind turbines and electricity", key);
            Assert.Equal("s33", r.Hits[0].Id);
        }
        // Every silo holds a replica of every shard, so every shard search of a coordinator is direct.
        Assert.True(DirectSearches - before >= 16 * 3, $"{DirectSearches - before} of {16 * 3} shard searches were direct");

        // An online update is visible to the next search when UpdateAsync returns, direct or not.
        var grain = fixture.Cluster.Client.GetGrain<IIndexGrain>(index);
        await grain.UpdateAsync(new UpdateRequest { Upserts = [new UpsertDocument { Id = "fresh-1", Text = "quokkas zanzibarite and wind turbines" }], Deletes = ["s33"] });
        before = DirectSearches;
        for (int key = 0; key < 8; key++)
        {
            var r = await SearchAsync(index, "quokkas zanzibarite", key);
            Assert.Equal("fresh-1", r.Hits[0].Id);
            var wind = await SearchAsync(index, "wind turbines and electricity", key);
            Assert.DoesNotContain(wind.Hits, h => h.Id == "s33");
        }
        Assert.True(DirectSearches > before, "the searches after the update were not direct");

        // A merge publishes a new version; the shards swap to it and direct searches read it.
        await grain.StartMergeAsync();
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while ((await grain.GetInfoAsync())!.Version < 2)
        {
            Assert.True(DateTime.UtcNow < deadline, "the merge did not publish");
            await Task.Delay(100);
        }
        for (int key = 0; key < 8; key++)
        {
            var r = await SearchAsync(index, "quokkas zanzibarite", key);
            Assert.Equal("fresh-1", r.Hits[0].Id);
            Assert.True(r.Version >= 2, $"answered from version {r.Version}");
        }

        // Deleted: no replica stays registered, and a search says the index does not exist.
        Assert.NotNull(await grain.DeleteAsync());
        for (int shard = 0; shard < 3; shard++)
            Assert.DoesNotContain(Registries, r => r.Holds(index, shard, 0) || r.Holds(index, shard, 1));
        // A silo other than the index grain's remembers the description for up to a second (IndexInfoFreshFor) plus its refresh.
        var goneBy = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            var gone = await fixture.Cluster.Client.GetGrain<IQueryCoordinatorGrain>(0).SearchAsync(new SearchRequest { Index = index, Text = "quokkas", K = 5 });
            if (gone.Status == SearchStatus.IndexNotFound) break;
            // Meanwhile no deleted document is served: the dropped replicas serve no version.
            Assert.DoesNotContain(gone.Hits, h => h.Id == "fresh-1");
            Assert.True(DateTime.UtcNow < goneBy, $"a search of the deleted index still answers {gone.Status}");
            await Task.Delay(100);
        }
    }
}

/// <summary>One silo that collects idle grains after 3 s (Orleans' default is 15 minutes).</summary>
public sealed class ShortCollectionCluster : IAsyncLifetime
{
    public string Data { get; } = Directory.CreateTempSubdirectory("shoal-collect-").FullName;

    public InProcessTestCluster Cluster { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var builder = new InProcessTestClusterBuilder(1);
        string data = Data;
        builder.ConfigureSilo((_, silo) =>
        {
            silo.Configure<Orleans.Configuration.GrainCollectionOptions>(o =>
            {
                o.CollectionQuantum = TimeSpan.FromMilliseconds(500);
                o.CollectionAge = TimeSpan.FromSeconds(3);
            });
            silo.AddShoal(o =>
            {
                o.SnapshotDirectory = Path.Combine(data, "snapshots");
                o.CacheDirectory = Path.Combine(data, "cache");
                o.BuildDirectory = Path.Combine(data, "build");
            });
        });
        Cluster = builder.Build();
        await Cluster.DeployAsync();
    }

    public async Task DisposeAsync()
    {
        await Cluster.StopAllSilosAsync();
        await Cluster.DisposeAsync();
        TempDirectory.Delete(Data);
    }
}

/// <summary>A replica that only direct searches read never sees a call, yet must not be collected as idle while they come.</summary>
public sealed class DirectSearchKeepAliveTests(ShortCollectionCluster fixture) : IClassFixture<ShortCollectionCluster>
{
    [Fact]
    public async Task Replicas_searched_only_directly_stay_active_and_are_collected_once_the_searches_stop()
    {
        var registry = ((InProcessSiloHandle)fixture.Cluster.Silos[0]).SiloHost.Services.GetRequiredService<LocalShards>();
        var index = fixture.Cluster.Client.GetGrain<IIndexGrain>("keep");
        await index.StartIngestAsync(new IngestRequest { CorpusPath = Paths.SamplePassages, Shards = 2 });
        while ((await index.GetIngestStatusAsync()) is { State: not IngestState.Succeeded } st)
        {
            Assert.NotEqual(IngestState.Failed, st.State);
            await Task.Delay(100);
        }
        async Task SearchAsync()
        {
            var r = await fixture.Cluster.Client.GetGrain<IQueryCoordinatorGrain>(0).SearchAsync(new SearchRequest { Index = "keep", Text = "wind turbines and electricity", K = 3 });
            Assert.True(r.Status == SearchStatus.Ok && !r.Coverage.Partial, r.Error ?? string.Join("; ", r.Coverage.Reasons));
            Assert.Equal("s33", r.Hits[0].Id);
        }
        await SearchAsync();
        Assert.True(registry.Holds("keep", 0, 0) && registry.Holds("keep", 1, 0));
        long registrations = registry.Registrations, direct = registry.DirectSearches;

        // Direct searches for more than three collection ages: no replica is collected (and activated again).
        var until = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < until)
        {
            await SearchAsync();
            await Task.Delay(50);
        }
        Assert.True(registry.DirectSearches - direct > 50, $"{registry.DirectSearches - direct} direct shard searches");
        Assert.Equal(registrations, registry.Registrations);
        Assert.True(registry.Holds("keep", 0, 0) && registry.Holds("keep", 1, 0));

        // Without searches they are idle grains like any other, and collected.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (registry.Holds("keep", 0, 0) || registry.Holds("keep", 1, 0))
        {
            Assert.True(DateTime.UtcNow < deadline, "idle replicas were never collected");
            await Task.Delay(200);
        }
    }
}
