namespace Shoal.Encoders;

/// <summary>
/// How a corpus is cut into model runs. A batch is padded to its longest text, so batches formed
/// from texts of similar length (<see cref="ByLength"/>) waste little work on padding; a token
/// budget keeps batches of long texts small.
/// </summary>
/// <param name="MaxBatchSize">The most texts per model run.</param>
/// <param name="MaxBatchTokens">The most padded tokens (texts × longest) per model run; a single longer text still runs alone.</param>
/// <param name="ByLength">Whether texts are sorted by length before batching (length buckets); false keeps the input order (each batch padded to its longest).</param>
public sealed record DocumentBatching(int MaxBatchSize = 32, int MaxBatchTokens = 8192, bool ByLength = true)
{
    /// <summary>Shoal's default: length-bucketed batches of up to 32 texts and 8,192 padded tokens.</summary>
    public static DocumentBatching Default { get; } = new();

    /// <summary>Checks the settings.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A size below 1.</exception>
    public void Validate()
    {
        if (MaxBatchSize < 1) throw new ArgumentOutOfRangeException(nameof(MaxBatchSize), MaxBatchSize, "The document batch size must be at least 1.");
        if (MaxBatchTokens < 1) throw new ArgumentOutOfRangeException(nameof(MaxBatchTokens), MaxBatchTokens, "The document batch token budget must be at least 1.");
    }

    /// <summary>
    /// Cuts texts of the given token <paramref name="lengths"/> into batches: each batch is a list
    /// of indices into <paramref name="lengths"/>; together they hold every index exactly once.
    /// </summary>
    public IReadOnlyList<int[]> Plan(IReadOnlyList<int> lengths)
    {
        ArgumentNullException.ThrowIfNull(lengths);
        Validate();
        var order = Enumerable.Range(0, lengths.Count).ToArray();
        // Stable sort by length: equal lengths keep their order, so the plan is deterministic.
        if (ByLength) order = [.. order.OrderBy(i => lengths[i])];
        var batches = new List<int[]>();
        var current = new List<int>(MaxBatchSize);
        int longest = 0;
        foreach (int i in order)
        {
            int longestWith = Math.Max(longest, lengths[i]);
            if (current.Count > 0 && (current.Count == MaxBatchSize || (long)longestWith * (current.Count + 1) > MaxBatchTokens))
            {
                batches.Add([.. current]);
                current.Clear();
                longestWith = lengths[i];
            }
            current.Add(i);
            longest = longestWith;
        }
        if (current.Count > 0) batches.Add([.. current]);
        return batches;
    }

    /// <summary>
    /// Cuts one micro-batch of queries into model runs of similar length, at the least modelled
    /// cost: a run costs <paramref name="runOverheadTokens"/> (what a model run costs beyond its
    /// tokens, in token-equivalents) plus its padded tokens (texts × longest). Short queries of
    /// mixed lengths padded into one run waste up to half the work on padding; one run per query
    /// pays the overhead each time; the optimum (found exactly over the length-sorted texts) is
    /// usually two to four runs. Each run is a list of indices into <paramref name="lengths"/>;
    /// together they hold every index exactly once.
    /// </summary>
    public static IReadOnlyList<int[]> PlanByCost(IReadOnlyList<int> lengths, int runOverheadTokens)
    {
        ArgumentNullException.ThrowIfNull(lengths);
        ArgumentOutOfRangeException.ThrowIfNegative(runOverheadTokens);
        int n = lengths.Count;
        if (n <= 1) return n == 0 ? [] : [[0]];
        int[] order = [.. Enumerable.Range(0, n).OrderBy(i => lengths[i])];
        // best[j]: least cost of the first j sorted texts; cut[j]: where their last run starts.
        var best = new long[n + 1];
        var cut = new int[n + 1];
        for (int j = 1; j <= n; j++)
        {
            best[j] = long.MaxValue;
            long longest = lengths[order[j - 1]]; // sorted: the run's last text is its longest
            for (int i = 0; i < j; i++)
            {
                long cost = best[i] + runOverheadTokens + (j - i) * longest;
                if (cost < best[j]) { best[j] = cost; cut[j] = i; }
            }
        }
        var runs = new List<int[]>();
        for (int j = n; j > 0; j = cut[j]) runs.Add(order[cut[j]..j]);
        runs.Reverse();
        return runs;
    }

    /// <summary>Padded tokens the <paramref name="plan"/> runs (texts × longest, summed over batches).</summary>
    public static long PaddedTokens(IReadOnlyList<int> lengths, IReadOnlyList<int[]> plan)
    {
        ArgumentNullException.ThrowIfNull(lengths);
        ArgumentNullException.ThrowIfNull(plan);
        long total = 0;
        foreach (var batch in plan) total += (long)batch.Length * batch.Max(i => lengths[i]);
        return total;
    }
}
