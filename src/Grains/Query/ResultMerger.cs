using Shoal.Engine.Search;
using Shoal.Grains.Contracts;

namespace Shoal.Grains.Query;

/// <summary>
/// The gather side of a search, apart from the coordinator grain: the shards' hit lists per
/// channel, merged (k-way, score then id) into each channel's top-k, fused when several
/// channels answer, and each final hit's rank in every channel. Hits stay the wire's
/// <see cref="Hit"/> from the shard to the response: nothing is copied into another type.
/// </summary>
internal sealed class ResultMerger
{
    /// <summary>Single-channel rank lists ([1], [2], ...) are shared: they never change.</summary>
    private static readonly int[][] SingleRanks = CreateSingleRanks(1024);

    private readonly QueryPlan _plan;
    private readonly List<Hit[]>[] _perChannel;
    private readonly Dictionary<string, int>? _shardOf;

    /// <summary>A gather for <paramref name="plan"/> over <paramref name="shards"/> shards.</summary>
    public ResultMerger(QueryPlan plan, int shards)
    {
        _plan = plan;
        _perChannel = new List<Hit[]>[plan.Channels.Count];
        for (int c = 0; c < _perChannel.Length; c++) _perChannel[c] = new List<Hit[]>(shards);
        _shardOf = plan.Fused ? new Dictionary<string, int>(StringComparer.Ordinal) : null;
    }

    /// <summary>For a fused query: the shard that returned each hit (where the fetch phase asks for stored fields).</summary>
    public Dictionary<string, int>? ShardOf => _shardOf;

    /// <summary>Adds shard <paramref name="shard"/>'s answer.</summary>
    public void Add(int shard, ShardSearchResult result)
    {
        for (int c = 0; c < _perChannel.Length; c++)
        {
            var hits = result.Of(_plan.Channels[c].Name) ?? [];
            _perChannel[c].Add(hits);
            if (_shardOf is not null)
                foreach (var hit in hits) _shardOf.TryAdd(hit.Id, shard);
        }
    }

    /// <summary>The final top <paramref name="k"/>: merged, fused when several channels answered, with their ranks per channel.</summary>
    public Hit[] Merge(int k)
    {
        if (!_plan.Fused)
        {
            var top = TopKMerge.Merge<Hit>(_perChannel[0], k);
            for (int i = 0; i < top.Length; i++) top[i] = top[i] with { Ranks = SingleRank(i + 1) };
            return top;
        }
        var lists = new IReadOnlyList<Hit>[_plan.Channels.Count];
        var weights = new double[lists.Length];
        for (int c = 0; c < lists.Length; c++)
        {
            lists[c] = TopKMerge.Merge<Hit>(_perChannel[c], _plan.Channels[c].K);
            weights[c] = _plan.Channels[c].Weight;
        }
        var fused = _plan.Fusion == "weighted"
            ? Fusion.WeightedSum(lists, k, weights)
            : Fusion.ReciprocalRank(lists, k, _plan.RankConstant, weights);
        var ranks = RanksOf(fused, lists);
        var final = new Hit[fused.Count];
        for (int i = 0; i < final.Length; i++) final[i] = fused[i] with { Ranks = ranks[i] };
        return final;
    }

    /// <summary>The shared rank list [<paramref name="rank"/>].</summary>
    private static int[] SingleRank(int rank) => rank <= SingleRanks.Length ? SingleRanks[rank - 1] : [rank];

    private static int[][] CreateSingleRanks(int count)
    {
        var ranks = new int[count][];
        for (int i = 0; i < count; i++) ranks[i] = [i + 1];
        return ranks;
    }

    /// <summary>Each final hit's 1-based rank in every channel's merged list (0 when that channel did not return it).</summary>
    private static int[][] RanksOf(List<Hit> final, IReadOnlyList<Hit>[] channelLists)
    {
        var positions = new Dictionary<string, int>[channelLists.Length];
        for (int c = 0; c < channelLists.Length; c++)
        {
            positions[c] = new Dictionary<string, int>(channelLists[c].Count, StringComparer.Ordinal);
            for (int r = 0; r < channelLists[c].Count; r++) positions[c].TryAdd(channelLists[c][r].Id, r + 1);
        }
        var ranks = new int[final.Count][];
        for (int i = 0; i < ranks.Length; i++)
        {
            ranks[i] = new int[channelLists.Length];
            for (int c = 0; c < channelLists.Length; c++)
                ranks[i][c] = positions[c].TryGetValue(final[i].Id, out int r) ? r : 0;
        }
        return ranks;
    }
}
