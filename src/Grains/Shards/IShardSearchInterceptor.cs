namespace Shoal.Grains.Shards;

/// <summary>
/// Runs before every shard search. The default does nothing; chaos and latency tests register
/// one that delays or fails chosen shards, to exercise deadlines and partial results against the
/// real scatter/gather path.
/// </summary>
public interface IShardSearchInterceptor
{
    /// <summary>Called before shard <paramref name="shard"/> of <paramref name="index"/> searches.</summary>
    ValueTask BeforeSearchAsync(string index, int shard, CancellationToken cancellationToken);
}

/// <summary>The default interceptor: no delay, no fault.</summary>
public sealed class NoShardSearchInterceptor : IShardSearchInterceptor
{
    /// <inheritdoc />
    public ValueTask BeforeSearchAsync(string index, int shard, CancellationToken cancellationToken) => ValueTask.CompletedTask;
}
