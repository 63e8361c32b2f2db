using System.Globalization;
using System.Runtime.InteropServices;
using Orleans.TestingHost;
using Shoal.Grains.Contracts;
using Shoal.Grains.Shards;
using Shoal.Hosting;

namespace Shoal.Integration.Tests;

/// <summary>
/// Online upserts and deletes on a live three-channel index (bm25, sparse, dense) with two
/// replicas per shard, on a real two-silo cluster: visibility to the next search, merges into a
/// new version equal to rebuilding the updated corpus, durability across a cluster restart, and
/// refusal of bad batches as a whole.
/// </summary>
public sealed class OnlineUpdateTests : IAsyncLifetime
{
    private const int AutoMergeThreshold = 500;
    private readonly string _root = Directory.CreateTempSubdirectory("shoal-updates-").FullName;
    private InProcessTestCluster _cluster = null!;
    private static readonly string[] Words = ["river", "mountain", "forest", "lake", "valley", "desert"];

    public async Task InitializeAsync() => _cluster = await StartAsync(Path.Combine(_root, "cache-1"));

    public async Task DisposeAsync()
    {
        await _cluster.StopAllSilosAsync();
        await _cluster.DisposeAsync();
        TempDirectory.Delete(_root);
    }

    private async Task<InProcessTestCluster> StartAsync(string cache, long mergeInMemoryMaxDocuments = 1_000_000)
    {
        var builder = new InProcessTestClusterBuilder(2);
        string root = _root;
        builder.ConfigureSilo((_, silo) => silo.AddShoal(o =>
        {
            o.SnapshotDirectory = Path.Combine(root, "snapshots");
            o.AdditionalDataRoots = [Path.GetTempPath()]; // tests write sources to temporary directories
            o.CacheDirectory = cache;
            o.BuildDirectory = Path.Combine(root, "build");
            o.MergeInterval = TimeSpan.Zero;
            o.MergeThresholdOperations = AutoMergeThreshold;
            o.MergeInMemoryMaxDocuments = mergeInMemoryMaxDocuments;
        }));
        var cluster = builder.Build();
        await cluster.DeployAsync();
        return cluster;
    }

    private IIndexGrain Index(string name) => _cluster.Client.GetGrain<IIndexGrain>(name);

    private Task<SearchResponse> SearchAsync(SearchRequest request) => _cluster.Client.GetGrain<IQueryCoordinatorGrain>(0).SearchAsync(request);

    private static byte[] Pack(params float[] v) => MemoryMarshal.AsBytes(v.AsSpan()).ToArray();

    /// <summary>A passage of the generated corpus: text, two sparse tokens, a 3-d dense vector.</summary>
    private sealed record Passage(string Id, string Text, (string Token, float Weight)[] Sparse, float[] Dense);

    private static List<Passage> Corpus(int n)
    {
        var rng = new Random(5);
        var list = new List<Passage>(n);
        for (int i = 0; i < n; i++)
        {
            // p000 holds the largest sparse weight and is never updated, so the index-wide scale stays put.
            float w1 = i == 0 ? 5f : 1 + rng.Next(100) / 50f;
            list.Add(new Passage(
                $"p{i:D3}",
                $"passage {i} about {Words[i % 6]} and {Words[(i * 7 + 1) % 6]}",
                [(Words[i % 6], w1), (Words[(i * 7 + 1) % 6], 0.1f + rng.Next(100) / 100f)],
                [(float)(rng.NextDouble() - 0.5), (float)(rng.NextDouble() - 0.5), (float)(rng.NextDouble() - 0.5)]));
        }
        return list;
    }

    /// <summary>Writes a corpus as TSV text, Anserini sparse vectors and dense jsonl; returns the ingest request.</summary>
    private async Task<IngestRequest> WriteAsync(string name, IEnumerable<Passage> passages, int shards, int replicas)
    {
        string dir = Directory.CreateDirectory(Path.Combine(_root, "corpora", name)).FullName;
        var inv = CultureInfo.InvariantCulture;
        var list = passages.ToList();
        await File.WriteAllLinesAsync(Path.Combine(dir, "c.tsv"), list.Select(p => $"{p.Id}\t{p.Text}"));
        await File.WriteAllLinesAsync(Path.Combine(dir, "s.jsonl"), list.Select(p =>
            "{\"id\": \"" + p.Id + "\", \"vector\": {" + string.Join(", ", p.Sparse.Select(t => string.Format(inv, "\"{0}\": {1:R}", t.Token, t.Weight))) + "}}"));
        await File.WriteAllLinesAsync(Path.Combine(dir, "d.jsonl"), list.Select(p =>
            "{\"id\": \"" + p.Id + "\", \"vector\": [" + string.Join(", ", p.Dense.Select(x => x.ToString("R", inv))) + "]}"));
        return new IngestRequest
        {
            CorpusPath = Path.Combine(dir, "c.tsv"),
            SparseVectorsPath = Path.Combine(dir, "s.jsonl"),
            DenseVectorsPath = Path.Combine(dir, "d.jsonl"),
            Shards = shards,
            Replicas = replicas,
            DenseIndex = "hnsw",
        };
    }

    private async Task<IndexInfo> IngestAsync(string name, IngestRequest request)
    {
        var grain = Index(name);
        await grain.StartIngestAsync(request);
        while (true)
        {
            await Task.Delay(50);
            var status = await grain.GetIngestStatusAsync();
            if (status.State == IngestState.Failed) throw new InvalidOperationException(status.Error);
            if (status.State == IngestState.Succeeded) return (await grain.GetInfoAsync())!;
        }
    }

    private async Task<IndexInfo> WaitForMergeAsync(string name)
    {
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while (true)
        {
            var info = (await Index(name).GetInfoAsync())!;
            if (info.Updates?.Merge is { State: IngestState.Failed } failed) throw new InvalidOperationException(failed.Error);
            if (info.Updates?.Merge is { State: IngestState.Succeeded }) return info;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"merge of {name} did not finish: {info.Updates?.Merge?.Phase}");
            await Task.Delay(50);
        }
    }

    private static UpsertDocument Upsert(Passage p) => new()
    {
        Id = p.Id,
        Text = p.Text,
        SparseTokens = p.Sparse.Select(s => s.Token).ToArray(),
        SparseTokenWeights = p.Sparse.Select(s => s.Weight).ToArray(),
        DenseVector = Pack(p.Dense),
    };

    private static SearchRequest Text(string index, string text, int k = 10) => new() { Index = index, Text = text, K = k, Channels = ["bm25"] };

    private static SearchRequest Sparse(string index, string token, int k = 10) =>
        new() { Index = index, K = k, Sparse = new SparseQuerySpec { Tokens = [token], TokenWeights = [1f], Exact = true } };

    private static SearchRequest Dense(string index, bool exact, int k = 10, params float[] v) =>
        new() { Index = index, K = k, Dense = new DenseQuerySpec { Vector = Pack(v), Exact = exact } };

    private async Task<string[]> IdsAsync(SearchRequest request)
    {
        var response = await SearchAsync(request);
        Assert.True(response.Status == SearchStatus.Ok, response.Error);
        Assert.False(response.Coverage.Partial);
        return response.Hits.Select(h => h.Id).ToArray();
    }

    [Fact]
    public async Task Upsert_then_search_sees_it_on_every_channel_delete_then_not()
    {
        await IngestAsync("live", await WriteAsync("live", Corpus(60), shards: 3, replicas: 2));
        Assert.Contains("p005", await IdsAsync(Text("live", "5")));
        Assert.Contains("p007", await IdsAsync(Text("live", "7")));

        var fresh = new Passage("n1", "a zanzibarite crystal from the volcano", [("volcano", 3f), ("river", 0.5f)], [9f, 0f, 0f]);
        var replaced = new Passage("p005", "quokka island passage", [("island", 2f)], [0f, 0f, 9f]);
        var result = await Index("live").UpdateAsync(new UpdateRequest { Upserts = [Upsert(fresh), Upsert(replaced)] });
        Assert.Equal(2, result.Upserted);
        Assert.Equal(2, result.PendingOperations);
        Assert.Equal(1, result.Version);

        // Every search is answered by one replica of each shard; repeat so both replicas are asked.
        for (int round = 0; round < 4; round++)
        {
            var hit = (await SearchAsync(Text("live", "zanzibarite"))).Hits;
            Assert.Equal("n1", Assert.Single(hit).Id);
            Assert.Contains("zanzibarite", hit[0].Snippet);
            Assert.Equal("n1", (await IdsAsync(Sparse("live", "volcano")))[0]);
            Assert.Equal("n1", (await IdsAsync(Dense("live", exact: true, 10, 1f, 0f, 0f)))[0]);
            Assert.Equal("n1", (await IdsAsync(Dense("live", exact: false, 10, 1f, 0f, 0f)))[0]);
            // The replaced passage answers for its new text only.
            Assert.Equal(["p005"], await IdsAsync(Text("live", "quokka")));
            Assert.DoesNotContain("p005", await IdsAsync(Text("live", "5")));
            Assert.Equal("p005", (await IdsAsync(Dense("live", exact: true, 10, 0f, 0f, 1f)))[0]);
            // Hybrid (all three channels fused) sees it too.
            var hybrid = await SearchAsync(new SearchRequest
            {
                Index = "live", Text = "zanzibarite", K = 5,
                Sparse = new SparseQuerySpec { Tokens = ["volcano"], TokenWeights = [1f] },
                Dense = new DenseQuerySpec { Vector = Pack(1f, 0f, 0f) },
            });
            Assert.Equal("n1", hybrid.Hits[0].Id);
        }

        await Index("live").UpdateAsync(new UpdateRequest { Deletes = ["n1", "p007"] });
        for (int round = 0; round < 4; round++)
        {
            Assert.Empty(await IdsAsync(Text("live", "zanzibarite")));
            Assert.DoesNotContain("n1", await IdsAsync(Sparse("live", "volcano", 100)));
            Assert.DoesNotContain("n1", await IdsAsync(Dense("live", exact: true, 100, 1f, 0f, 0f)));
            Assert.DoesNotContain("n1", await IdsAsync(Dense("live", exact: false, 100, 1f, 0f, 0f)));
            Assert.DoesNotContain("p007", await IdsAsync(Text("live", "7", 100)));
            Assert.DoesNotContain("p007", await IdsAsync(Sparse("live", Words[7 % 6], 100)));
        }

        // Every replica applied the same batches.
        var shardInfos = await Task.WhenAll(Enumerable.Range(0, 6).Select(i =>
            _cluster.Client.GetGrain<IShardGrain>(ShardGrain.KeyOf("live", i / 2, i % 2)).GetInfoAsync()));
        for (int s = 0; s < 3; s++) Assert.Equal(shardInfos[2 * s].UpdateSequence, shardInfos[2 * s + 1].UpdateSequence);
        Assert.Equal(3, shardInfos.Sum(i => i.HiddenDocuments) / 2); // p005, p007 and n1
        Assert.Equal(1, shardInfos.Sum(i => i.LiveDocuments) / 2);   // p005's new copy
    }

    /// <summary>Replaces the cluster with one whose merges spill to disk (the bounded-memory path large indexes take).</summary>
    private async Task UseSpillingMergesAsync()
    {
        await _cluster.StopAllSilosAsync();
        await _cluster.DisposeAsync();
        _cluster = await StartAsync(Path.Combine(_root, "cache-spill"), mergeInMemoryMaxDocuments: 0);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_merge_publishes_a_version_equal_to_building_the_updated_corpus(bool spill)
    {
        if (spill) await UseSpillingMergesAsync();
        var corpus = Corpus(90);
        await IngestAsync("merged", await WriteAsync("merged-v1", corpus, shards: 3, replicas: 1));

        var rng = new Random(9);
        var upserts = new List<Passage>();
        for (int i = 0; i < 12; i++)
            upserts.Add(new Passage($"u{i:D2}", $"update {i} about {Words[i % 6]} tundra", [("glacier", 0.5f + i / 10f), (Words[i % 6], 1f)],
                [(float)rng.NextDouble(), (float)rng.NextDouble(), (float)rng.NextDouble()]));
        upserts.Add(corpus[10] with { Text = "replaced passage about tundra", Sparse = [("glacier", 2.5f)] });
        upserts.Add(corpus[11] with { Dense = [0.9f, 0.9f, 0.9f] });
        string[] deletes = ["p020", "p021", "p022", "u03"];
        await Index("merged").UpdateAsync(new UpdateRequest { Upserts = upserts.Take(7).Select(Upsert).ToArray() });
        await Index("merged").UpdateAsync(new UpdateRequest { Upserts = upserts.Skip(7).Select(Upsert).ToArray(), Deletes = deletes[..3] });
        await Index("merged").UpdateAsync(new UpdateRequest { Deletes = deletes[3..] });

        var queries = new List<Func<string, SearchRequest>>
        {
            n => Text(n, "tundra", 20), n => Text(n, "river passage", 20), n => Text(n, "update about lake", 20),
            n => Sparse(n, "glacier", 20), n => Sparse(n, "forest", 20),
            n => Dense(n, true, 20, 0.3f, 0.5f, -0.2f), n => Dense(n, true, 20, 1f, 1f, 1f),
        };
        var beforeMerge = new List<string[]>();
        foreach (var q in queries) beforeMerge.Add(await IdsAsync(q("merged")));

        var status = await Index("merged").StartMergeAsync();
        Assert.Equal(IngestState.Running, status.State);
        var info = await WaitForMergeAsync("merged");
        Assert.Equal(2, info.Version);
        Assert.Equal(0, info.Updates!.PendingOperations);
        Assert.Equal(90 + 12 - 4, info.DocCount);
        var shards = await Task.WhenAll(Enumerable.Range(0, 3).Select(s => _cluster.Client.GetGrain<IShardGrain>(ShardGrain.KeyOf("merged", s)).GetInfoAsync()));
        Assert.All(shards, s => Assert.Equal((2L, 0, 0), (s.Version, s.LiveDocuments, s.HiddenDocuments)));

        // The same corpus with the updates applied, built from scratch.
        var byId = corpus.ToDictionary(p => p.Id);
        foreach (var u in upserts) byId[u.Id] = u;
        foreach (var d in deletes) byId.Remove(d);
        await IngestAsync("merged-ref", await WriteAsync("merged-ref", byId.Values.OrderBy(p => p.Id, StringComparer.Ordinal), shards: 3, replicas: 1));

        for (int i = 0; i < queries.Count; i++)
        {
            var merged = await SearchAsync(queries[i]("merged"));
            var reference = await SearchAsync(queries[i]("merged-ref"));
            Assert.Equal(reference.Hits.Select(h => h.Id), merged.Hits.Select(h => h.Id));
            Assert.Equal(reference.Hits.Select(h => h.Score), merged.Hits.Select(h => h.Score));
            Assert.Equal(reference.Hits.Select(h => h.Snippet), merged.Hits.Select(h => h.Snippet));
            // Before the merge, segments plus live buffers gave the same sparse and dense rankings; bm25
            // scored the buffered documents with the old collection statistics, so only "tundra" (fewer
            // matches than k) is sure to find the same set.
            if (i >= 3) Assert.Equal(merged.Hits.Select(h => h.Id), beforeMerge[i]);
            else if (i == 0) Assert.Equal(merged.Hits.Select(h => h.Id).Order(), beforeMerge[i].Order());
        }

        // Updates keep working on the merged version and survive the next merge.
        await Index("merged").UpdateAsync(new UpdateRequest { Upserts = [Upsert(new Passage("after", "written after the merge", [("glacier", 0.1f)], [0f, 0f, 0f]))] });
        Assert.Equal(["after"], await IdsAsync(Text("merged", "written")));
        await Index("merged").StartMergeAsync();
        await WaitForMergeAsync("merged");
        Assert.Equal(3, (await Index("merged").GetInfoAsync())!.Version);
        Assert.Equal(["after"], await IdsAsync(Text("merged", "written")));
    }

    [Fact]
    public async Task Updates_survive_a_restart_of_the_whole_cluster_from_the_update_log()
    {
        await IngestAsync("durable", await WriteAsync("durable", Corpus(40), shards: 2, replicas: 1));
        await Index("durable").UpdateAsync(new UpdateRequest
        {
            Upserts = [Upsert(new Passage("kept", "a wombat burrow", [("cave", 1f)], [0f, 1f, 0f]))],
            Deletes = ["p001"],
        });
        await Index("durable").UpdateAsync(new UpdateRequest { Upserts = [Upsert(new Passage("p002", "wombat again", [("cave", 0.5f)], [0f, 0.5f, 0f]))] });

        await _cluster.StopAllSilosAsync();
        await _cluster.DisposeAsync();
        _cluster = await StartAsync(Path.Combine(_root, "cache-2")); // a new cluster, empty cache, same store

        Assert.Equal(["kept", "p002"], await IdsAsync(Text("durable", "wombat")));
        Assert.DoesNotContain("p001", await IdsAsync(Text("durable", "1", 100)));
        var info = (await Index("durable").GetInfoAsync())!;
        Assert.Equal(1, info.Version);
        Assert.Equal(3, info.Updates!.PendingOperations);
        Assert.InRange(info.Updates.PendingBatches, 2, 3); // "kept" and "p001" may share a shard or not
    }

    [Fact]
    public async Task A_bad_batch_is_refused_whole_with_the_document_named()
    {
        await IngestAsync("strict", await WriteAsync("strict", Corpus(20), shards: 2, replicas: 1));
        var good = Upsert(new Passage("good", "platypus", [("river", 1f)], [1f, 0f, 0f]));
        async Task<string> Refused(UpdateRequest r) => (await Assert.ThrowsAsync<ArgumentException>(() => Index("strict").UpdateAsync(r))).Message;

        Assert.Contains("bad", await Refused(new() { Upserts = [good, Upsert(new Passage("bad", "x", [("river", 1f)], [1f, 0f]))] }));
        Assert.Contains("zzqq-not-a-token", await Refused(new() { Upserts = [good, Upsert(new Passage("bad", "x", [("zzqq-not-a-token", 1f)], [1f, 0f, 0f]))] }));
        Assert.Contains("bad", await Refused(new() { Upserts = [good, Upsert(new Passage("bad", "x", [("river", -1f)], [1f, 0f, 0f]))] }));
        Assert.Contains("bad", await Refused(new() { Upserts = [good, Upsert(new Passage("bad", "x", [("river", 1f)], [float.NaN, 0f, 0f]))] }));
        Assert.Contains("bad", await Refused(new() { Upserts = [good, Upsert(new Passage("bad", "x", [("river", 1f)], [1f, 0f, 0f])) with { Text = null }] }));
        Assert.Contains("good", await Refused(new() { Upserts = [good], Deletes = ["good"] }));
        Assert.Contains("good", await Refused(new() { Upserts = [good, good] }));
        Assert.Contains("no documents", await Refused(new()));

        // Nothing of a refused batch was applied.
        Assert.Empty(await IdsAsync(Text("strict", "platypus")));
        Assert.Equal(0, (await Index("strict").GetInfoAsync())!.Updates?.PendingOperations ?? 0);

        await Assert.ThrowsAsync<InvalidOperationException>(() => Index("no-such-index").UpdateAsync(new UpdateRequest { Deletes = ["x"] }));
    }

    [Fact]
    public async Task Reaching_the_threshold_merges_on_its_own()
    {
        await UseSpillingMergesAsync();
        await IngestAsync("auto", await WriteAsync("auto", Corpus(30), shards: 2, replicas: 1));
        var many = Enumerable.Range(0, AutoMergeThreshold)
            .Select(i => Upsert(new Passage($"a{i:D4}", $"bulk document {i} numbat", [("river", 1f)], [0f, 0f, 1f])))
            .ToArray();
        await Index("auto").UpdateAsync(new UpdateRequest { Upserts = many });
        var info = await WaitForMergeAsync("auto");
        Assert.Equal(2, info.Version);
        Assert.Equal(30 + AutoMergeThreshold, info.DocCount);
        Assert.Equal(10, (await IdsAsync(Text("auto", "numbat"))).Length);
    }
}
