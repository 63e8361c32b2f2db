using System.Globalization;

namespace Shoal.Engine.Snapshots;

/// <summary>
/// The durable log of online updates, one ordered sequence of batches per shard and lineage
/// (see <see cref="IndexManifest.UpdateLineage"/>), in the snapshot store beside the versions:
/// <c>updates/{index}/L{lineage}/s{shard}/{sequence}.upd</c>. Sequence numbers start at 1 and have
/// no gaps; the index grain is the single writer, so a batch is written once before any shard
/// applies it, and every shard activation replays the batches its version has not folded in.
/// The log stores opaque payloads; <c>Shoal.Engine.Updates.UpdateBatchCodec</c> gives their format.
/// </summary>
public sealed class UpdateLog
{
    private const string Extension = ".upd";
    private readonly ISnapshotStore _store;

    /// <summary>A log over <paramref name="store"/>.</summary>
    public UpdateLog(ISnapshotStore store) => _store = store;

    /// <summary>The store the log lives in.</summary>
    public ISnapshotStore Store => _store;

    /// <summary>Prefix of every lineage of an index.</summary>
    public static string IndexPrefix(string index) => $"updates/{index}/";

    /// <summary>Prefix of one lineage of an index.</summary>
    public static string LineagePrefix(string index, long lineage) =>
        string.Create(CultureInfo.InvariantCulture, $"updates/{index}/L{lineage:D8}/");

    /// <summary>Prefix of one shard's batches in a lineage.</summary>
    public static string ShardPrefix(string index, long lineage, int shard) =>
        string.Create(CultureInfo.InvariantCulture, $"updates/{index}/L{lineage:D8}/s{shard:D5}/");

    /// <summary>Key of one batch.</summary>
    public static string Key(string index, long lineage, int shard, long sequence) =>
        string.Create(CultureInfo.InvariantCulture, $"{ShardPrefix(index, lineage, shard)}{sequence:D12}{Extension}");

    /// <summary>Writes batch <paramref name="sequence"/> of a shard (replacing an unacknowledged earlier write of the same number).</summary>
    public Task AppendAsync(string index, long lineage, int shard, long sequence, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(sequence, 1);
        return _store.PutBytesAsync(Key(index, lineage, shard, sequence), payload, cancellationToken);
    }

    /// <summary>Sequence numbers of a shard's batches in the store, ascending.</summary>
    public async Task<IReadOnlyList<long>> ListAsync(string index, long lineage, int shard, CancellationToken cancellationToken = default)
    {
        string prefix = ShardPrefix(index, lineage, shard);
        var sequences = new List<long>();
        foreach (var key in await _store.ListAsync(prefix, cancellationToken).ConfigureAwait(false))
        {
            var name = key.AsSpan(prefix.Length);
            if (!name.EndsWith(Extension, StringComparison.Ordinal)) continue;
            if (long.TryParse(name[..^Extension.Length], NumberStyles.None, CultureInfo.InvariantCulture, out long seq)) sequences.Add(seq);
        }
        sequences.Sort();
        return sequences;
    }

    /// <summary>The last sequence number of a shard's log (0 when empty).</summary>
    public async Task<long> HeadAsync(string index, long lineage, int shard, CancellationToken cancellationToken = default)
    {
        var all = await ListAsync(index, lineage, shard, cancellationToken).ConfigureAwait(false);
        return all.Count == 0 ? 0 : all[^1];
    }

    /// <summary>
    /// The payloads of a shard's batches after <paramref name="after"/> and up to
    /// <paramref name="through"/> (the head when null), in order. A missing batch in that range
    /// (a gap) or one that disappears while reading is an <see cref="InvalidDataException"/> naming
    /// it: replaying past a hole would apply updates out of order.
    /// </summary>
    public async Task<IReadOnlyList<(long Sequence, byte[] Payload)>> ReadAsync(string index, long lineage, int shard, long after, long? through = null, CancellationToken cancellationToken = default)
    {
        var sequences = (await ListAsync(index, lineage, shard, cancellationToken).ConfigureAwait(false))
            .Where(s => s > after && (through is null || s <= through)).ToList();
        long last = through ?? (sequences.Count == 0 ? after : sequences[^1]);
        if (sequences.Count != last - after || (sequences.Count > 0 && (sequences[0] != after + 1 || sequences[^1] != last)))
        {
            long missing = after + 1;
            foreach (var s in sequences) { if (s != missing) break; missing++; }
            throw new InvalidDataException($"The update log of index '{index}' shard {shard} (lineage {lineage}) lacks batch {missing} ({_store.Description}/{Key(index, lineage, shard, missing)}); batches {after + 1}..{last} are needed.");
        }
        var payloads = await Task.WhenAll(sequences.Select(async s =>
        {
            string key = Key(index, lineage, shard, s);
            var bytes = await _store.GetBytesAsync(key, cancellationToken).ConfigureAwait(false)
                ?? throw new InvalidDataException($"Update batch '{_store.Description}/{key}' disappeared while it was read.");
            return (s, bytes);
        })).ConfigureAwait(false);
        return payloads;
    }

    /// <summary>Deletes a shard's batches up to and including <paramref name="through"/> (folded into every version still kept).</summary>
    public async Task<int> TruncateAsync(string index, long lineage, int shard, long through, CancellationToken cancellationToken = default)
    {
        int removed = 0;
        foreach (var s in await ListAsync(index, lineage, shard, cancellationToken).ConfigureAwait(false))
        {
            if (s > through) break;
            await _store.DeleteAsync(Key(index, lineage, shard, s), cancellationToken).ConfigureAwait(false);
            removed++;
        }
        return removed;
    }

    /// <summary>Deletes every lineage of an index older than <paramref name="lineage"/> (no kept version continues them).</summary>
    public async Task<IReadOnlyList<long>> DeleteLineagesBeforeAsync(string index, long lineage, CancellationToken cancellationToken = default)
    {
        var old = new SortedSet<long>();
        string prefix = IndexPrefix(index);
        foreach (var key in await _store.ListAsync(prefix, cancellationToken).ConfigureAwait(false))
        {
            var rest = key.AsSpan(prefix.Length);
            int slash = rest.IndexOf('/');
            if (slash > 1 && rest[0] == 'L' && long.TryParse(rest[1..slash], NumberStyles.None, CultureInfo.InvariantCulture, out long l) && l < lineage)
                old.Add(l);
        }
        foreach (long l in old) await _store.DeletePrefixAsync(LineagePrefix(index, l), cancellationToken).ConfigureAwait(false);
        return [.. old];
    }
}
