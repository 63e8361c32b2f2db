using Orleans;
using Orleans.Runtime;
using Shoal.Encoders;
using Shoal.Grains.Encoders;

namespace Shoal.Integration.Tests.Encoders;

public sealed class EncoderPoolGrainTests(EncoderCluster fixture, Xunit.Abstractions.ITestOutputHelper output) : IClassFixture<EncoderCluster>
{
    private static readonly string[] Queries =
    [
        "vitamin d and bone density",
        "how do grains survive silo failure",
        "protein folding in the endoplasmic reticulum",
        "a",
        "",
        "The quick brown fox jumps over the lazy dog; CAFÉ naïve résumé 東京",
    ];

    [Fact]
    public async Task A_client_on_the_plain_silo_encodes_through_pools_that_live_only_on_the_encoder_silo()
    {
        var service = fixture.ServiceOn(fixture.PlainSilo);
        foreach (var q in Queries)
        {
            var dense = await service.EncodeQueryAsync("dense", q);
            Assert.Equal(EncoderKind.Dense, dense.Kind);
            Assert.Equal(8, dense.Dense!.Length);
        }
        await service.EncodeQueryAsync("splade", "bone density");

        var stats = await fixture.Cluster.Client.GetGrain<IManagementGrain>(0).GetDetailedGrainStatistics();
        var pools = stats.Where(s => s.GrainType.Contains(nameof(EncoderPoolGrain), StringComparison.Ordinal)).ToList();
        Assert.Contains(pools, p => p.GrainId.Key.ToString()!.StartsWith("dense@", StringComparison.Ordinal));
        Assert.Contains(pools, p => p.GrainId.Key.ToString()!.StartsWith("splade@", StringComparison.Ordinal));
        Assert.All(pools, p => Assert.Equal(fixture.EncoderSilo, p.SiloAddress));
        Assert.All(pools, p => Assert.EndsWith("@" + fixture.EncoderSilo.ToParsableString(), p.GrainId.Key.ToString(), StringComparison.Ordinal));

        // The plain silo has no models loaded at all.
        var plainRegistry = fixture.Cluster.GetSiloServiceProvider(fixture.PlainSilo).GetService(typeof(EncoderPoolRegistry)) as EncoderPoolRegistry;
        Assert.NotNull(plainRegistry);
        Assert.False(plainRegistry.HoldsEncoderRole);
        Assert.Empty(plainRegistry.Names);
        Assert.Equal(["bm25", "dense", "idf", "small-queue", "splade", "tiny-queue"], fixture.EncoderRegistry.Names.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task A_pool_keyed_to_a_silo_without_the_encoder_role_is_refused_by_placement()
    {
        var grain = fixture.Cluster.Client.GetGrain<IEncoderPoolGrain>(EncoderRoles.PoolKey("dense", fixture.PlainSilo));
        var e = await Assert.ThrowsAnyAsync<Exception>(() => grain.EncodeAsync(["x"]));
        output.WriteLine($"{e.GetType().Name}: {e.Message}");
        Assert.Contains("encoder role", e.ToString(), StringComparison.Ordinal);

        var stats = await fixture.Cluster.Client.GetGrain<IManagementGrain>(0).GetDetailedGrainStatistics();
        Assert.DoesNotContain(stats, s => s.GrainType.Contains(nameof(EncoderPoolGrain), StringComparison.Ordinal) && s.SiloAddress.Equals(fixture.PlainSilo));
    }

    [Fact]
    public async Task Dense_queries_through_the_grain_equal_the_direct_encoder()
    {
        using var direct = (IDisposable)EncoderFixtures.Direct("dense");
        var encoder = (DenseOnnxEncoder)direct;
        foreach (var service in new[] { fixture.ServiceOn(fixture.PlainSilo), fixture.ClientService, fixture.ServiceOn(fixture.EncoderSilo) })
        {
            foreach (var q in Queries)
            {
                var viaGrain = await service.EncodeQueryAsync("dense", q);
                // One request alone is a batch of one: the same session run as the direct call, bit for bit.
                Assert.Equal(encoder.Encode([q]).DenseRow(0).ToArray(), viaGrain.Dense);
            }
        }
    }

    [Fact]
    public async Task Splade_queries_through_the_grain_equal_the_direct_encoder()
    {
        using var direct = (IDisposable)EncoderFixtures.Direct("splade");
        var encoder = (SpladeOnnxEncoder)direct;
        foreach (var service in new[] { fixture.ServiceOn(fixture.PlainSilo), fixture.ClientService })
        {
            foreach (var q in Queries)
            {
                var viaGrain = await service.EncodeQueryAsync("splade", q);
                var expected = encoder.Encode([q]).Sparse![0];
                Assert.Equal(EncoderKind.Sparse, viaGrain.Kind);
                Assert.Equal(expected.Terms, viaGrain.Sparse.Terms);
                Assert.Equal(expected.Weights, viaGrain.Sparse.Weights);
            }
        }
    }

    [Fact]
    public async Task Model_free_encoders_answer_through_the_grain_too()
    {
        var service = fixture.ServiceOn(fixture.PlainSilo);
        var idf = (InferenceFreeSparseEncoder)EncoderFixtures.Direct("idf");
        var sparse = await service.EncodeQueryAsync("idf", "ny weather now");
        var expected = idf.Encode("ny weather now");
        Assert.Equal(3, sparse.Sparse.Count);
        Assert.Equal(expected.Terms, sparse.Sparse.Terms);
        Assert.Equal(expected.Weights, sparse.Sparse.Weights);

        var bm25 = await service.EncodeQueryAsync("bm25", "Dogs and cats, dogs!");
        Assert.Equal(EncoderKind.Bm25, bm25.Kind);
        Assert.Equal([new TermCount("dog", 2), new TermCount("cat", 1)], bm25.Terms);
    }

    [Fact]
    public async Task Documents_are_encoded_in_order_in_chunks_and_match_the_direct_encoder()
    {
        var texts = Enumerable.Range(0, 150).Select(i => $"document {i} about {(i % 3 == 0 ? "bone density and vitamin d" : "silo failure")} {new string('x', i % 7)}").ToArray();
        using var denseDirect = (IDisposable)EncoderFixtures.Direct("dense");
        using var spladeDirect = (IDisposable)EncoderFixtures.Direct("splade");
        foreach (var service in new[] { fixture.ServiceOn(fixture.PlainSilo), fixture.ClientService })
        {
            var dense = await service.EncodeDocumentsAsync("dense", texts);
            Assert.Equal(EncoderKind.Dense, dense.Kind);
            Assert.Equal(texts.Length, dense.Count);
            Assert.Equal(8, dense.Dimensions);
            var sparse = await service.EncodeDocumentsAsync("splade", texts);
            Assert.Equal(texts.Length, sparse.Count);
            for (int i = 0; i < texts.Length; i += 7)
            {
                // Batched with other texts (padded differently): equal up to float rounding.
                AssertClose(((DenseOnnxEncoder)denseDirect).Encode([texts[i]]).DenseRow(0), dense.DenseRow(i));
                var expected = ((SpladeOnnxEncoder)spladeDirect).Encode([texts[i]]).Sparse![0];
                Assert.Equal(expected.Terms, sparse.Sparse![i].Terms);
                AssertClose(expected.Weights, sparse.Sparse![i].Weights);
            }
        }
        var empty = await fixture.ClientService.EncodeDocumentsAsync("dense", []);
        Assert.Equal(0, empty.Count);
    }

    [Fact]
    public async Task A_document_chunk_larger_than_the_queue_goes_through_in_waves()
    {
        var texts = Enumerable.Range(0, 150).Select(i => $"passage {i} on bone density").ToArray();
        var before = fixture.EncoderRegistry.GetStats("small-queue");
        var batch = await fixture.ServiceOn(fixture.PlainSilo).EncodeDocumentsAsync("small-queue", texts);
        var after = fixture.EncoderRegistry.GetStats("small-queue");
        Assert.Equal(150, batch.Count);
        // Concurrent chunks compete for the 4 places: a chunk refused after part of it ran is retried
        // by the client with back-off, so a few texts may be encoded twice.
        Assert.InRange(after.ItemsProcessed - before.ItemsProcessed, 150, 300);
        using var direct = (IDisposable)EncoderFixtures.Direct("dense"); // same model and settings
        for (int i = 0; i < texts.Length; i += 13)
            AssertClose(((DenseOnnxEncoder)direct).Encode([texts[i]]).DenseRow(0), batch.DenseRow(i));
    }

    [Fact]
    public async Task Sixty_four_concurrent_queries_from_the_other_silo_share_far_fewer_session_runs()
    {
        var service = fixture.ServiceOn(fixture.PlainSilo);
        await service.EncodeQueryAsync("dense", "warm the route"); // catalog, activation
        var before = fixture.EncoderRegistry.GetStats("dense");

        var texts = Enumerable.Range(0, 64).Select(i => $"query number {i} about protein folding").ToArray();
        using var start = new ManualResetEventSlim();
        var tasks = texts.Select(t => Task.Run(async () =>
        {
            start.Wait();
            return await service.EncodeQueryAsync("dense", t);
        })).ToArray();
        start.Set();
        var results = await Task.WhenAll(tasks);

        var after = fixture.EncoderRegistry.GetStats("dense");
        long runs = after.SessionRuns - before.SessionRuns;
        Assert.Equal(64, after.ItemsProcessed - before.ItemsProcessed);
        Assert.Equal(runs, after.BatchesRun - before.BatchesRun);
        output.WriteLine($"64 concurrent queries from the plain silo: {runs} session runs");
        Assert.True(runs <= 8, $"64 concurrent requests took {runs} session runs");
        using var direct = (IDisposable)EncoderFixtures.Direct("dense");
        for (int i = 0; i < texts.Length; i += 9)
            AssertClose(((DenseOnnxEncoder)direct).Encode([texts[i]]).DenseRow(0), results[i].Dense!);

        // The same counters through the client API (from the encoder silo's pool grain).
        var viaApi = Assert.Single(await fixture.ClientService.GetStatsAsync("dense"));
        Assert.Equal(fixture.EncoderSilo, viaApi.Silo);
        Assert.True(viaApi.SessionRuns >= after.SessionRuns);
    }

    [Fact]
    public async Task A_full_queue_is_a_typed_error_at_once_not_a_timeout()
    {
        var service = fixture.ServiceOn(fixture.PlainSilo);
        var grain = fixture.Cluster.Client.GetGrain<IEncoderPoolGrain>(EncoderRoles.PoolKey("tiny-queue", fixture.EncoderSilo));
        // Four requests wait 3 s for companions and fill the queue (capacity 4).
        var waiting = Enumerable.Range(0, 4).Select(i => service.EncodeQueryAsync("tiny-queue", $"waiting {i}")).ToArray();
        var deadline = DateTime.UtcNow.AddSeconds(2);
        while (fixture.EncoderRegistry.GetStats("tiny-queue").QueueLength < 4 && DateTime.UtcNow < deadline) await Task.Delay(10);
        Assert.Equal(4, fixture.EncoderRegistry.GetStats("tiny-queue").QueueLength);

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<EncoderQueueFullException>(() => service.EncodeQueryAsync("tiny-queue", "one too many"));
        Assert.Contains("tiny-queue", e.Message, StringComparison.Ordinal);
        Assert.Contains("full", e.Message, StringComparison.Ordinal);
        var onWire = await grain.EncodeAsync(["also too many"]);
        Assert.Equal(EncodeStatus.QueueFull, onWire.Status);
        Assert.Contains("capacity 4", onWire.Error, StringComparison.Ordinal);
        await Assert.ThrowsAsync<EncoderQueueFullException>(() => fixture.ClientService.EncodeQueryAsync("tiny-queue", "from the gateway"));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2.5), $"refusals took {clock.Elapsed}"); // well inside the 3 s the queue stays full

        // The waiting requests are served when their batch runs.
        var served = await Task.WhenAll(waiting);
        Assert.All(served, r => Assert.Equal(8, r.Dense!.Length));
        Assert.True(fixture.EncoderRegistry.GetStats("tiny-queue").ItemsRejected >= 3);
    }

    [Fact]
    public async Task A_cancelled_query_is_withdrawn_from_the_remote_pool_queue()
    {
        var service = fixture.ServiceOn(fixture.PlainSilo);
        await service.DescribeAsync("tiny-queue"); // route and activation ready
        var before = fixture.EncoderRegistry.GetStats("tiny-queue");
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        // tiny-queue holds a lone request for 3 s: the caller's deadline comes first.
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => service.EncodeQueryAsync("tiny-queue", "cancel me", cts.Token));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2.5), $"cancellation took {clock.Elapsed}"); // before the 3 s hold ends
        var deadline = DateTime.UtcNow.AddSeconds(2);
        while (fixture.EncoderRegistry.GetStats("tiny-queue").QueueLength > 0 && DateTime.UtcNow < deadline) await Task.Delay(10);
        Assert.Equal(0, fixture.EncoderRegistry.GetStats("tiny-queue").QueueLength);
        await Task.Delay(3200); // past the batch wait: the withdrawn text never ran
        Assert.Equal(before.ItemsProcessed, fixture.EncoderRegistry.GetStats("tiny-queue").ItemsProcessed);
    }

    [Fact]
    public async Task An_unknown_encoder_name_is_a_clear_error_listing_the_known_ones()
    {
        foreach (var service in new[] { fixture.ServiceOn(fixture.PlainSilo), fixture.ServiceOn(fixture.EncoderSilo), fixture.ClientService })
        {
            var e = await Assert.ThrowsAsync<UnknownEncoderException>(() => service.EncodeQueryAsync("no-such-encoder", "x"));
            Assert.Equal("no-such-encoder", e.Encoder);
            Assert.Contains("'no-such-encoder'", e.Message, StringComparison.Ordinal);
            Assert.Contains("'dense'", e.Message, StringComparison.Ordinal);
            Assert.Contains("splade", e.KnownEncoders);
            await Assert.ThrowsAsync<UnknownEncoderException>(() => service.EncodeDocumentsAsync("no-such-encoder", ["x"]));
            await Assert.ThrowsAsync<UnknownEncoderException>(() => service.DescribeAsync("no-such-encoder"));
            await Assert.ThrowsAsync<ArgumentException>(() => service.EncodeQueryAsync("bad name!", "x"));
        }
        // A pool grain asked directly for an encoder its silo lacks refuses to activate.
        var stray = fixture.Cluster.Client.GetGrain<IEncoderPoolGrain>(EncoderRoles.PoolKey("no-such-encoder", fixture.EncoderSilo));
        var refused = await Assert.ThrowsAnyAsync<Exception>(() => stray.EncodeAsync(["x"]));
        output.WriteLine($"{refused.GetType().Name}: {refused.Message}");
        Assert.Contains("no-such-encoder", refused.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Descriptors_expose_kind_dimensions_and_vocabulary_for_schema_checks()
    {
        var service = fixture.ClientService;
        var dense = await service.DescribeAsync("dense");
        Assert.Equal(EncoderKind.Dense, dense.Kind);
        Assert.Equal(8, dense.Dimensions);
        Assert.True(dense.Normalized);
        Assert.Equal("dense-tiny.onnx", dense.Model);
        Assert.Equal("cpu", dense.ExecutionProvider);
        dense.EnsureCompatible(EncoderKind.Dense, dimensions: 8);
        var mismatch = Assert.Throws<EncoderConfigurationException>(() => dense.EnsureCompatible(EncoderKind.Dense, dimensions: 384));
        Assert.Contains("'dense'", mismatch.Message, StringComparison.Ordinal);
        Assert.Throws<EncoderConfigurationException>(() => dense.EnsureCompatible(EncoderKind.Sparse));

        var splade = await fixture.ServiceOn(fixture.PlainSilo).DescribeAsync("splade");
        Assert.Equal(EncoderKind.Sparse, splade.Kind);
        Assert.Equal(30522, splade.VocabularySize);
        Assert.Equal(0, splade.Dimensions);

        var all = await service.ListEncodersAsync();
        Assert.Equal(["bm25", "dense", "idf", "small-queue", "splade", "tiny-queue"], all.Select(d => d.Name));
        Assert.Equal([EncoderKind.Bm25, EncoderKind.Dense, EncoderKind.Sparse, EncoderKind.Dense, EncoderKind.Sparse, EncoderKind.Dense], all.Select(d => d.Kind));
    }

    private static void AssertClose(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-5f, $"element {i}: expected {expected[i]}, got {actual[i]}");
    }
}
