using System.Text;
using Orleans.Runtime;
using Orleans.Storage;
using Shoal.Engine.Snapshots;
using Shoal.Grains.Jobs;
using static Shoal.Integration.Tests.Snapshots.SnapshotTestSupport;

namespace Shoal.Integration.Tests.Snapshots;

/// <summary>
/// Conditional writes on blob storage: a write that checked one content fails when another
/// writer changed the blob between the read and the write, so job state written by a stale
/// activation in another process cannot overwrite the live one's.
/// </summary>
public sealed class BlobCompareAndSwapTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    private static byte[] B(string s) => Encoding.UTF8.GetBytes(s);

    [Fact]
    public async Task A_change_between_the_check_and_the_write_makes_the_swap_fail()
    {
        var store = Store(azurite, "cas");
        var other = Store(azurite, "cas"); // another process's client
        await store.PutBytesAsync("k", B("v1"));

        // The other writer lands while this one is deciding: the conditional write must not overwrite it.
        bool swapped = await store.CompareAndSwapAsync("k", current =>
        {
            other.PutBytesAsync("k", B("theirs")).GetAwaiter().GetResult();
            return current is not null && Encoding.UTF8.GetString(current) == "v1";
        }, B("mine"));
        Assert.False(swapped);
        Assert.Equal("theirs", Encoding.UTF8.GetString((await store.GetBytesAsync("k"))!));

        // Creation races the same way: absent when checked, created by the other before the write.
        bool created = await store.CompareAndSwapAsync("new", current =>
        {
            other.PutBytesAsync("new", B("theirs")).GetAwaiter().GetResult();
            return current is null;
        }, B("mine"));
        Assert.False(created);
        Assert.Equal("theirs", Encoding.UTF8.GetString((await store.GetBytesAsync("new"))!));

        // Without interference it swaps, refuses a failed check, and deletes conditionally.
        Assert.True(await store.CompareAndSwapAsync("k", c => c is not null && Encoding.UTF8.GetString(c) == "theirs", B("mine")));
        Assert.False(await store.CompareAndSwapAsync("k", c => c is null, B("x")));
        Assert.Equal("mine", Encoding.UTF8.GetString((await store.GetBytesAsync("k"))!));
        Assert.True(await store.CompareAndSwapAsync("k", c => c is not null, null));
        Assert.Null(await store.GetBytesAsync("k"));
    }

    private sealed class State
    {
        public int Chunks { get; set; }
    }


    [Fact]
    public async Task Grain_state_written_by_a_stale_activation_in_another_process_is_refused()
    {
        var live = new SnapshotGrainStorage(Store(azurite, "cas-state"), "jobs/state");
        var stale = new SnapshotGrainStorage(Store(azurite, "cas-state"), "jobs/state");
        var id = GrainId.Create("job", "j1");
        var a = new GrainState<State>(new State());
        var b = new GrainState<State>(new State());
        await live.ReadStateAsync("job", id, a);
        await stale.ReadStateAsync("job", id, b);
        a.State!.Chunks = 1;
        await live.WriteStateAsync("job", id, a);
        b.State!.Chunks = 99;
        await Assert.ThrowsAsync<InconsistentStateException>(() => stale.WriteStateAsync("job", id, b));
        var check = new GrainState<State>(new State());
        await live.ReadStateAsync("job", id, check);
        Assert.Equal(1, check.State!.Chunks);
        a.State!.Chunks = 2;
        await live.WriteStateAsync("job", id, a);
        await live.ClearStateAsync("job", id, a);
        await live.ReadStateAsync("job", id, check);
        Assert.False(check.RecordExists);
    }
}
