using System.Runtime.InteropServices;
using Shoal.Grains.Contracts;

namespace Shoal.Integration.Tests.Encoders;

/// <summary>
/// Text in, vectors through the encoder pools: an index whose sparse and dense channels name
/// encoders is built by encoding its corpus through the pools, and text queries on those channels
/// (alone or hybrid) are encoded through the same pools, on a cluster where only one silo has the
/// encoder role.
/// </summary>
public sealed class EncodedChannelTests(EncoderCluster fixture) : IClassFixture<EncoderCluster>
{
    private async Task<IndexInfo> BuildAsync(string index)
    {
        var grain = fixture.Cluster.Client.GetGrain<IIndexGrain>(index);
        var current = await grain.GetInfoAsync();
        if (current is { Version: > 0 }) return current;
        await grain.StartIngestAsync(new IngestRequest { CorpusPath = Paths.SamplePassages, Shards = 2, SparseEncoder = "splade", DenseEncoder = "dense" });
        IngestStatus status;
        var deadline = DateTime.UtcNow.AddMinutes(3);
        do
        {
            await Task.Delay(100);
            status = await grain.GetIngestStatusAsync();
            Assert.True(DateTime.UtcNow < deadline, "build did not finish");
        }
        while (status.State == IngestState.Running);
        Assert.True(status.State == IngestState.Succeeded, status.Error);
        return (await grain.GetInfoAsync())!;
    }

    [Fact]
    public async Task Documents_and_text_queries_are_encoded_through_the_pools_for_sparse_dense_and_hybrid_search()
    {
        long before = (await fixture.ClientService.GetStatsAsync("splade")).Sum(s => s.ItemsProcessed);
        var info = await BuildAsync("encoded");
        long after = (await fixture.ClientService.GetStatsAsync("splade")).Sum(s => s.ItemsProcessed);
        Assert.True(after - before >= 40, $"the 40 sample documents should have been encoded by the pool ({after - before} items)");
        Assert.Equal(["bm25", "sparse", "dense"], info.Channels.Select(c => c.Name));
        Assert.Equal("splade", info.Channels[1].Encoder);
        Assert.Equal("dense", info.Channels[2].Encoder);
        var coordinator = fixture.Cluster.Client.GetGrain<IQueryCoordinatorGrain>(0);
        const string text = "how do vaccines train the immune system";

        // Text alone goes to every channel that takes text: bm25 directly, sparse and dense through their encoders.
        var hybrid = await coordinator.SearchAsync(new SearchRequest { Index = "encoded", Text = text, K = 5 });
        Assert.True(hybrid.Status == SearchStatus.Ok, hybrid.Error);
        Assert.Equal(["bm25", "sparse", "dense"], hybrid.Channels);
        Assert.Equal(5, hybrid.Hits.Length);
        Assert.False(hybrid.Coverage.Partial);

        // Text routed to the sparse channel equals sending the directly encoded vector.
        using (var splade = (IDisposable)EncoderFixtures.Direct("splade"))
        {
            var vector = (await ((Shoal.Encoders.ITextEncoder)splade).EncodeAsync([text], CancellationToken.None)).Sparse![0];
            var viaText = await coordinator.SearchAsync(new SearchRequest { Index = "encoded", Text = text, Channels = ["sparse"], K = 10, Sparse = new SparseQuerySpec { Exact = true } });
            var viaVector = await coordinator.SearchAsync(new SearchRequest { Index = "encoded", K = 10, Sparse = new SparseQuerySpec { TermIds = vector.Terms, Weights = vector.Weights, Exact = true } });
            Assert.True(viaText.Status == SearchStatus.Ok, viaText.Error);
            Assert.Equal(["sparse"], viaText.Channels);
            Assert.NotEmpty(viaText.Hits);
            Assert.Equal(viaVector.Hits.Select(h => (h.Id, h.Score)), viaText.Hits.Select(h => (h.Id, h.Score)));
        }

        // The same for the dense channel.
        using (var dense = (IDisposable)EncoderFixtures.Direct("dense"))
        {
            var vector = (await ((Shoal.Encoders.ITextEncoder)dense).EncodeAsync([text], CancellationToken.None)).DenseRow(0).ToArray();
            var viaText = await coordinator.SearchAsync(new SearchRequest { Index = "encoded", Text = text, Channels = ["dense"], K = 10, Dense = new DenseQuerySpec { Exact = true } });
            var viaVector = await coordinator.SearchAsync(new SearchRequest
            {
                Index = "encoded", K = 10, Dense = new DenseQuerySpec { Vector = MemoryMarshal.AsBytes(vector.AsSpan()).ToArray(), Exact = true },
            });
            Assert.True(viaText.Status == SearchStatus.Ok, viaText.Error);
            Assert.Equal(10, viaText.Hits.Length);
            Assert.Equal(viaVector.Hits.Select(h => h.Id), viaText.Hits.Select(h => h.Id));
            for (int i = 0; i < 10; i++) Assert.Equal(viaVector.Hits[i].Score, viaText.Hits[i].Score, 1e-5f);
        }
    }

    [Fact]
    public async Task An_index_naming_an_encoder_the_cluster_lacks_is_refused_at_ingest()
    {
        var grain = fixture.Cluster.Client.GetGrain<IIndexGrain>("no-encoder");
        var e = await Assert.ThrowsAsync<ArgumentException>(() => grain.StartIngestAsync(new IngestRequest { CorpusPath = Paths.SamplePassages, DenseEncoder = "absent-model" }));
        Assert.Contains("absent-model", e.Message);
        var wrongKind = await Assert.ThrowsAsync<ArgumentException>(() => grain.StartIngestAsync(new IngestRequest { CorpusPath = Paths.SamplePassages, SparseEncoder = "dense" }));
        Assert.Contains("not a sparse one", wrongKind.Message);
    }
}
