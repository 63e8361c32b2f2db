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
}
