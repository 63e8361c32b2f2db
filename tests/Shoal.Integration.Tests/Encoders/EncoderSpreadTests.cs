using Microsoft.Extensions.DependencyInjection;
using Orleans;
using Orleans.Metadata;
using Orleans.Runtime;
using Orleans.TestingHost;
using Shoal.Encoders;
using Shoal.Grains.Encoders;
using Shoal.Hosting;

namespace Shoal.Integration.Tests.Encoders;

/// <summary>
/// Three silos, two with the encoder role (configured in code): the local pool is preferred,
/// other silos spread over both encoder silos, and when one leaves the other serves.
/// </summary>
public sealed class EncoderSpreadTests : IAsyncLifetime
{
    private readonly string _data = Directory.CreateTempSubdirectory("shoal-encoders-spread-").FullName;
    private InProcessTestCluster _cluster = null!;

    public async Task InitializeAsync()
    {
        var builder = new InProcessTestClusterBuilder(3);
        builder.Options.AssumeHomogenousSilosForTesting = false;
        string data = _data;
        builder.ConfigureSilo((options, silo) =>
        {
            silo.AddShoal(o => o.SnapshotDirectory = Path.Combine(data, "snapshots"));
            silo.AddShoalEncoderPools(o =>
            {
                if (options.SiloName is "Silo_0" or "Silo_1")
                {
                    o.Encoders["dense"] = new EncoderOptions
                    {
                        Kind = EncoderKind.Dense, ModelPath = EncoderFixtures.Model("dense-tiny.onnx"), VocabPath = EncoderFixtures.VocabTxt,
                    };
                }
            });
        });
        builder.ConfigureClient(client => client.AddShoalEncoderClient());
        _cluster = builder.Build();
        await _cluster.DeployAsync();
        await _cluster.WaitForClusterManifestToStabilizeAsync();
    }

    public async Task DisposeAsync()
    {
        await _cluster.StopAllSilosAsync();
        await _cluster.DisposeAsync();
        TempDirectory.Delete(_data);
    }

    [Fact]
    public async Task Local_pool_first_then_round_robin_over_encoder_silos_and_failover_when_one_leaves()
    {
        var silo0 = Silo("Silo_0");
        var silo1 = Silo("Silo_1");
        var plain = Silo("Silo_2");

        // On an encoder silo the local pool serves directly: no grain activation.
        var local = Service(silo0.SiloAddress);
        long before = Registry(silo0.SiloAddress).GetStats("dense").ItemsProcessed;
        for (int i = 0; i < 10; i++) await local.EncodeQueryAsync("dense", $"local {i}");
        Assert.Equal(10, Registry(silo0.SiloAddress).GetStats("dense").ItemsProcessed - before);
        Assert.Empty(await PoolActivationsAsync());

        // From the plain silo, queries spread over both encoder silos.
        var remote = Service(plain.SiloAddress);
        long[] itemsBefore = [Registry(silo0.SiloAddress).GetStats("dense").ItemsProcessed, Registry(silo1.SiloAddress).GetStats("dense").ItemsProcessed];
        for (int i = 0; i < 40; i++) await remote.EncodeQueryAsync("dense", $"remote {i}");
        long served0 = Registry(silo0.SiloAddress).GetStats("dense").ItemsProcessed - itemsBefore[0];
        long served1 = Registry(silo1.SiloAddress).GetStats("dense").ItemsProcessed - itemsBefore[1];
        Assert.Equal(40, served0 + served1);
        Assert.InRange(served0, 10, 30);
        var activations = await PoolActivationsAsync();
        Assert.Equal(new[] { silo0.SiloAddress, silo1.SiloAddress }.OrderBy(s => s.ToString()), activations.Select(a => a.SiloAddress).OrderBy(s => s.ToString()));
        Assert.All(activations, a => Assert.EndsWith(a.SiloAddress.ToParsableString(), a.GrainId.Key.ToString(), StringComparison.Ordinal));

        // The role filter is wired into the grain type and keeps the encoder silos only.
        var directory = _cluster.GetSiloServiceProvider(plain.SiloAddress).GetRequiredService<EncoderSiloDirectory>();
        var filtered = new EncoderRolePlacementFilterDirector(directory).Filter(new EncoderRolePlacementFilter(), default, [silo0.SiloAddress, silo1.SiloAddress, plain.SiloAddress]);
        Assert.Equal([silo0.SiloAddress, silo1.SiloAddress], filtered);
        var manifest = _cluster.GetSiloServiceProvider(plain.SiloAddress).GetRequiredService<IClusterManifestProvider>().Current;
        var poolType = manifest.AllGrainManifests.SelectMany(m => m.Grains.Values)
            .First(p => p.Properties.Values.Any(v => v.Contains(nameof(EncoderPoolGrain), StringComparison.Ordinal)));
        Assert.Equal(nameof(EncoderPoolPlacement), poolType.Properties[WellKnownGrainTypeProperties.PlacementStrategy]);
        Assert.Equal(nameof(EncoderRolePlacementFilter), poolType.Properties[WellKnownGrainTypeProperties.PlacementFilter]);

        // The external client also spreads (and learns the cluster from the catalog grain).
        var client = _cluster.Client.ServiceProvider.GetRequiredService<IEncoderService>();
        for (int i = 0; i < 6; i++) await client.EncodeQueryAsync("dense", $"client {i}");
        Assert.Equal(2, (await client.GetStatsAsync("dense")).Count);

        // Silo_1 leaves: the others carry on with Silo_0 alone.
        await _cluster.StopSiloAsync(silo1);
        for (int i = 0; i < 6; i++)
        {
            Assert.Equal(8, (await remote.EncodeQueryAsync("dense", $"after {i}")).Dense!.Length);
            Assert.Equal(8, (await client.EncodeQueryAsync("dense", $"after {i}")).Dense!.Length);
        }
        var docs = await client.EncodeDocumentsAsync("dense", Enumerable.Range(0, 200).Select(i => $"doc {i}").ToArray());
        Assert.Equal(200, docs.Count);
        Assert.Equal(silo0.SiloAddress, Assert.Single(await remote.GetStatsAsync("dense")).Silo);
    }

    private InProcessSiloHandle Silo(string name) => _cluster.Silos.Single(s => s.Name == name);

    private IEncoderService Service(SiloAddress silo) => _cluster.GetSiloServiceProvider(silo).GetRequiredService<IEncoderService>();

    private EncoderPoolRegistry Registry(SiloAddress silo) => _cluster.GetSiloServiceProvider(silo).GetRequiredService<EncoderPoolRegistry>();

    private async Task<List<DetailedGrainStatistic>> PoolActivationsAsync() =>
        (await _cluster.Client.GetGrain<IManagementGrain>(0).GetDetailedGrainStatistics())
            .Where(s => s.GrainType.Contains(nameof(EncoderPoolGrain), StringComparison.Ordinal)).ToList();
}
