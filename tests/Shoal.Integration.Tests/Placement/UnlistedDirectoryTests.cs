using Microsoft.Extensions.DependencyInjection;
using Orleans.GrainDirectory;
using Orleans.Metadata;
using Orleans.Runtime;
using Orleans.TestingHost;
using Shoal.Grains.Contracts;
using Shoal.Grains.Placement;
using Shoal.Grains.Query;

namespace Shoal.Integration.Tests.Placement;

/// <summary>
/// The grains on every search's path (the coordinator, the per-silo shard batch) are placed
/// without asking Orleans' directory: bench/chaos.sh found that placing a coordinator asked the
/// directory partition of a silo just killed, and the search failed with it (503).
/// </summary>
public sealed class UnlistedDirectoryTests(TwoSiloCluster fixture) : IClassFixture<TwoSiloCluster>
{
    [Fact]
    public async Task Coordinators_and_silo_batches_name_the_unlisted_directory_which_every_silo_registers()
    {
        foreach (var handle in fixture.Cluster.Silos)
        {
            var services = ((InProcessSiloHandle)handle).SiloHost.Services;
            var directory = services.GetRequiredKeyedService<IGrainDirectory>(UnlistedGrainDirectory.Name);
            Assert.IsType<UnlistedGrainDirectory>(directory);
            var types = services.GetRequiredService<GrainTypeResolver>();
            var manifest = services.GetRequiredService<IClusterManifestProvider>().LocalGrainManifest;
            foreach (var grainClass in new[] { typeof(QueryCoordinatorGrain), typeof(SiloShardSearchGrain) })
            {
                var grainType = types.GetGrainType(grainClass);
                Assert.True(manifest.Grains[grainType].Properties.TryGetValue(WellKnownGrainTypeProperties.GrainDirectory, out string? name), grainClass.Name + " names no directory");
                Assert.Equal(UnlistedGrainDirectory.Name, name);
            }
            // Nothing is ever listed: a lookup says "not placed" at once, so the placement director decides.
            var address = new GrainAddress { GrainId = GrainId.Create("querycoordinator", "7"), SiloAddress = handle.SiloAddress, ActivationId = ActivationId.NewId() };
            Assert.Same(address, await directory.Register(address));
            Assert.Null(await directory.Lookup(address.GrainId));
        }

        // And searches go through them as before.
        var index = fixture.Cluster.Client.GetGrain<IIndexGrain>("unlisted");
        await index.StartIngestAsync(new IngestRequest { CorpusPath = Paths.SamplePassages, Shards = 3 });
        while ((await index.GetIngestStatusAsync()) is { State: not IngestState.Succeeded } st)
        {
            Assert.NotEqual(IngestState.Failed, st.State);
            await Task.Delay(100);
        }
        for (int key = 0; key < 8; key++)
        {
            var r = await fixture.Cluster.Client.GetGrain<IQueryCoordinatorGrain>(key)
                .SearchAsync(new SearchRequest { Index = "unlisted", Text = "wind turbines and electricity", K = 3 });
            Assert.Equal(SearchStatus.Ok, r.Status);
            Assert.Equal("s33", r.Hits[0].Id);
            Assert.False(r.Coverage.Partial);
        }
    }
}

/// <summary>What a silo remembers of an index's description, and who refreshes it.</summary>
public sealed class IndexVersionCacheTests
{
    private static readonly IndexInfo Info = new() { Name = "i", Version = 3, ShardCount = 2 };

    [Fact]
    public void An_expired_description_is_refreshed_by_one_caller_while_an_outdated_one_makes_searches_wait()
    {
        using var store = new TempStore();
        var cache = new IndexVersionCache(new Shoal.Engine.Snapshots.SnapshotCatalog(store.Store));
        Assert.Null(cache.LastKnownInfo("i"));

        cache.RememberInfo("i", Info, TimeSpan.FromMinutes(1));
        var known = cache.LastKnownInfo("i")!.Value;
        Assert.True(known.FreshUntil > DateTime.UtcNow);
        Assert.False(known.Outdated);

        // One background refresh at a time per index.
        Assert.True(cache.TryBeginRefresh("i"));
        Assert.False(cache.TryBeginRefresh("i"));
        Assert.True(cache.TryBeginRefresh("other"));
        cache.EndRefresh("i");
        Assert.True(cache.TryBeginRefresh("i"));
        cache.EndRefresh("i");

        // A shard answered with a newer version: the next search waits for the grain.
        cache.Invalidate("i");
        known = cache.LastKnownInfo("i")!.Value;
        Assert.True(known.Outdated);
        Assert.True(known.FreshUntil <= DateTime.UtcNow);

        // The grain's answer makes it current again.
        cache.RememberInfo("i", Info with { Version = 4 }, TimeSpan.FromMinutes(1));
        known = cache.LastKnownInfo("i")!.Value;
        Assert.False(known.Outdated);
        Assert.Equal(4, known.Info.Version);
    }

    private sealed class TempStore : IDisposable
    {
        private readonly string _dir = Directory.CreateTempSubdirectory("shoal-ivc-").FullName;
        public Shoal.Engine.Snapshots.LocalDirectorySnapshotStore Store { get; }
        public TempStore() => Store = new Shoal.Engine.Snapshots.LocalDirectorySnapshotStore(_dir);
        public void Dispose() => TempDirectory.Delete(_dir);
    }
}
