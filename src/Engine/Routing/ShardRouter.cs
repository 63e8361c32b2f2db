using System.IO.Hashing;
using System.Text;

namespace Shoal.Engine.Routing;

/// <summary>
/// Routes a document id to a shard: XXH3-64 of the id's UTF-8 bytes, then Jump Consistent Hash
/// (Lamping and Veach, 2014) so that growing from n to n+1 shards moves only 1/(n+1) of the ids.
/// Stable across processes, platforms and releases: changing it would re-shard every index.
/// </summary>
public static class ShardRouter
{
    /// <summary>The shard (0..shardCount-1) that owns <paramref name="documentId"/>.</summary>
    public static int ShardOf(string documentId, int shardCount)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(shardCount, 1);
        int max = Encoding.UTF8.GetMaxByteCount(documentId.Length);
        Span<byte> buffer = max <= 512 ? stackalloc byte[max] : new byte[max];
        int n = Encoding.UTF8.GetBytes(documentId, buffer);
        return JumpHash(XxHash3.HashToUInt64(buffer[..n]), shardCount);
    }

    /// <summary>Jump Consistent Hash: maps a 64-bit key to a bucket in [0, buckets).</summary>
    public static int JumpHash(ulong key, int buckets)
    {
        long b = -1, j = 0;
        while (j < buckets)
        {
            b = j;
            key = key * 2862933555777941757UL + 1;
            j = (long)((b + 1) * ((double)(1L << 31) / ((key >> 33) + 1)));
        }
        return (int)b;
    }
}
