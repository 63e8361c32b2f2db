using Shoal.Engine.Routing;

namespace Shoal.Engine.Tests.Search;

public class ShardRouterTests
{
    [Fact]
    public void Routes_into_range_evenly_and_stably()
    {
        var counts = new int[8];
        for (int i = 0; i < 80_000; i++)
        {
            int s = ShardRouter.ShardOf($"doc-{i}", 8);
            Assert.Equal(s, ShardRouter.ShardOf($"doc-{i}", 8));
            counts[s]++;
        }
        Assert.All(counts, c => Assert.InRange(c, 9_400, 10_600));
    }

    [Fact]
    public void Growing_by_one_shard_moves_about_one_share_of_ids()
    {
        int moved = 0;
        for (int i = 0; i < 50_000; i++)
            if (ShardRouter.ShardOf($"p{i}", 4) != ShardRouter.ShardOf($"p{i}", 5)) moved++;
        Assert.InRange(moved / 50_000.0, 0.17, 0.23); // ideal 1/5
    }

    [Fact]
    public void One_shard_takes_everything() => Assert.Equal(0, ShardRouter.ShardOf("anything", 1));
}
