using Shoal.Grains.Shards;

namespace Shoal.Integration.Tests;

/// <summary>The empty view a shard serves before (or without) a loaded version.</summary>
public sealed class ShardViewTests
{
    [Fact]
    public void A_shard_leaving_its_empty_view_does_not_release_the_empty_view_of_other_shards()
    {
        // A shard retires the lease of the view it leaves (its first load swaps away from the
        // empty view). Another shard that still serves nothing, because its version failed to load,
        // must still be able to take a reference for a search; with one shared empty lease the
        // acquisition failed forever and the search spun on the grain's thread.
        var first = ShardView.None;
        first.Lease.Retire();

        var other = ShardView.None;
        Assert.NotSame(first.Lease, other.Lease);
        Assert.True(other.Lease.TryAcquire());
        other.Lease.Release();
        Assert.Equal(0, other.Version);
    }
}
