using System.Text;
using Shoal.Engine.Snapshots;
using Xunit;

namespace Shoal.Engine.Tests.Snapshots;

public sealed class UpdateLogTests : IDisposable
{
    private readonly TempFiles _tmp = new();

    public void Dispose() => _tmp.Dispose();

    private UpdateLog NewLog() => new(new LocalDirectorySnapshotStore(_tmp.PathOf("store")));

    private static byte[] B(string s) => Encoding.UTF8.GetBytes(s);

    [Fact]
    public async Task Batches_read_back_in_order_after_a_point()
    {
        var log = NewLog();
        for (int s = 1; s <= 12; s++) await log.AppendAsync("idx", 1, 3, s, B($"batch {s}"));
        await log.AppendAsync("idx", 1, 4, 1, B("other shard"));

        Assert.Equal(12, await log.HeadAsync("idx", 1, 3));
        Assert.Equal(0, await log.HeadAsync("idx", 1, 0));
        var read = await log.ReadAsync("idx", 1, 3, after: 9);
        Assert.Equal([10L, 11, 12], read.Select(r => r.Sequence));
        Assert.Equal("batch 11", Encoding.UTF8.GetString(read[1].Payload));
        var bounded = await log.ReadAsync("idx", 1, 3, after: 2, through: 4);
        Assert.Equal([3L, 4], bounded.Select(r => r.Sequence));
        Assert.Empty(await log.ReadAsync("idx", 1, 3, after: 12));
    }

    [Fact]
    public async Task A_gap_is_an_error_naming_the_missing_batch()
    {
        var log = NewLog();
        await log.AppendAsync("idx", 1, 0, 1, B("a"));
        await log.AppendAsync("idx", 1, 0, 3, B("c"));
        var e = await Assert.ThrowsAsync<InvalidDataException>(() => log.ReadAsync("idx", 1, 0, after: 0));
        Assert.Contains("lacks batch 2", e.Message);
        // Asking beyond the head is a gap too: those batches were promised by a manifest.
        var beyond = await Assert.ThrowsAsync<InvalidDataException>(() => log.ReadAsync("idx", 1, 0, after: 3, through: 5));
        Assert.Contains("lacks batch 4", beyond.Message);
    }

    [Fact]
    public async Task Truncation_and_old_lineages_are_removed()
    {
        var log = NewLog();
        for (int s = 1; s <= 5; s++) await log.AppendAsync("idx", 7, 0, s, B("x"));
        await log.AppendAsync("idx", 2, 0, 1, B("old"));
        await log.AppendAsync("idx", 9, 0, 1, B("new"));

        Assert.Equal(3, await log.TruncateAsync("idx", 7, 0, through: 3));
        Assert.Equal([4L, 5], await log.ListAsync("idx", 7, 0));
        Assert.Equal([4L, 5], (await log.ReadAsync("idx", 7, 0, after: 3)).Select(r => r.Sequence));

        Assert.Equal([2L], await log.DeleteLineagesBeforeAsync("idx", 7));
        Assert.Equal(0, await log.HeadAsync("idx", 2, 0));
        Assert.Equal(1, await log.HeadAsync("idx", 9, 0));
    }

    [Fact]
    public void Manifests_without_update_fields_read_as_their_own_lineage()
    {
        var manifest = new IndexManifest
        {
            Index = "idx",
            Version = 4,
            CreatedUtc = DateTimeOffset.UnixEpoch,
            ShardCount = 1,
            Schema = IndexSchema.DefaultText,
            DocCount = 1,
            Shards = [new ShardManifest(0, 1, [])],
        };
        string json = Encoding.UTF8.GetString(manifest.ToJson());
        var old = json.Replace("\"updateLineage\": 0,", "").Replace(",\n      \"updatesThrough\": 0", "");
        Assert.DoesNotContain("updatesThrough", old);
        var parsed = IndexManifest.FromJson(Encoding.UTF8.GetBytes(old), "test");
        Assert.Equal(4, parsed.Lineage);
        Assert.Equal(0, parsed.Shards[0].UpdatesThrough);

        var merged = IndexManifest.FromJson((manifest with { Version = 5, UpdateLineage = 4, Shards = [new ShardManifest(0, 1, [], 17)] }).ToJson(), "test");
        Assert.Equal(4, merged.Lineage);
        Assert.Equal(17, merged.Shards[0].UpdatesThrough);
    }
}

public sealed class LocalCompareAndSwapTests : IDisposable
{
    private readonly TempFiles _tmp = new();

    public void Dispose() => _tmp.Dispose();

    [Fact]
    public async Task Local_compare_and_swap_writes_refuses_and_deletes()
    {
        ISnapshotStore store = new LocalDirectorySnapshotStore(_tmp.PathOf("store"));
        Assert.True(await store.CompareAndSwapAsync("a/k", c => c is null, new byte[] { 1 }));
        Assert.False(await store.CompareAndSwapAsync("a/k", c => c is null, new byte[] { 2 }));
        Assert.Equal([1], (await store.GetBytesAsync("a/k"))!);
        Assert.True(await store.CompareAndSwapAsync("a/k", c => c is { Length: 1 }, null));
        Assert.Null(await store.GetBytesAsync("a/k"));
    }
}
