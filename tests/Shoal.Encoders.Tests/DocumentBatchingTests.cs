namespace Shoal.Encoders.Tests;

public sealed class DocumentBatchingTests
{
    [Fact]
    public void Plans_cover_every_text_once_within_the_limits()
    {
        var rng = new Random(7);
        var lengths = Enumerable.Range(0, 1000).Select(_ => rng.Next(3, 513)).ToArray();
        foreach (var batching in new[] { new DocumentBatching(32, 8192), new DocumentBatching(32, int.MaxValue, ByLength: false), new DocumentBatching(7, 600) })
        {
            var plan = batching.Plan(lengths);
            Assert.Equal(Enumerable.Range(0, lengths.Length), plan.SelectMany(b => b).Order());
            foreach (var batch in plan)
            {
                Assert.InRange(batch.Length, 1, batching.MaxBatchSize);
                if (batch.Length > 1) Assert.True(batch.Length * batch.Max(i => lengths[i]) <= batching.MaxBatchTokens);
            }
        }
    }

    [Fact]
    public void Length_buckets_pad_far_less_than_input_order()
    {
        var rng = new Random(11);
        var lengths = Enumerable.Range(0, 2000).Select(_ => rng.Next(20, 513)).ToArray();
        long real = lengths.Sum(l => (long)l);
        long bucketed = DocumentBatching.PaddedTokens(lengths, new DocumentBatching(32, int.MaxValue).Plan(lengths));
        long inOrder = DocumentBatching.PaddedTokens(lengths, new DocumentBatching(32, int.MaxValue, ByLength: false).Plan(lengths));
        Assert.True(bucketed - real < (inOrder - real) / 10, $"bucketed padding {bucketed - real}, in order {inOrder - real}");
    }

    [Fact]
    public void A_text_longer_than_the_budget_runs_alone()
    {
        var plan = new DocumentBatching(8, 100).Plan([10, 500, 10]);
        Assert.Contains(plan, b => b.SequenceEqual([1]));
        Assert.Throws<ArgumentOutOfRangeException>(() => new DocumentBatching(0).Plan([1]));
    }

    [Fact]
    public void Query_runs_by_cost_cover_every_query_once_at_the_least_modelled_cost()
    {
        var rng = new Random(3);
        for (int trial = 0; trial < 200; trial++)
        {
            var lengths = Enumerable.Range(0, rng.Next(1, 12)).Select(_ => rng.Next(4, 60)).ToArray();
            int overhead = rng.Next(0, 40);
            var plan = DocumentBatching.PlanByCost(lengths, overhead);
            Assert.Equal(Enumerable.Range(0, lengths.Length), plan.SelectMany(b => b).Order());
            long Cost(IEnumerable<int[]> runs) => runs.Sum(r => overhead + (long)r.Length * r.Max(i => lengths[i]));
            // Brute force over every way to cut the length-sorted queries into consecutive runs.
            int[] sorted = [.. Enumerable.Range(0, lengths.Length).OrderBy(i => lengths[i])];
            long bestCost = long.MaxValue;
            for (int mask = 0; mask < 1 << (lengths.Length - 1); mask++)
            {
                var runs = new List<int[]>();
                int start = 0;
                for (int i = 1; i <= lengths.Length; i++)
                {
                    if (i == lengths.Length || (mask & (1 << (i - 1))) != 0)
                    {
                        runs.Add(sorted[start..i]);
                        start = i;
                    }
                }
                bestCost = Math.Min(bestCost, Cost(runs));
            }
            Assert.Equal(bestCost, Cost(plan));
        }
    }

    [Fact]
    public void Query_runs_follow_the_price_of_a_run()
    {
        int[] lengths = [10, 40, 11, 41, 12];
        // Free runs: one per distinct length group is never worse than padding; here every query alone.
        Assert.Equal(5, DocumentBatching.PlanByCost(lengths, 0).Count);
        // Expensive runs: everything in one.
        Assert.Single(DocumentBatching.PlanByCost(lengths, 1000));
        // In between: the short ones together, the long ones together.
        var plan = DocumentBatching.PlanByCost(lengths, 13);
        Assert.Equal(2, plan.Count);
        Assert.Equal([0, 2, 4], plan[0].Order());
        Assert.Equal([1, 3], plan[1].Order());
        Assert.Empty(DocumentBatching.PlanByCost([], 13));
    }
}
