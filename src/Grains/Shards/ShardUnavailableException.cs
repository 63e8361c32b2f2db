using Orleans;

namespace Shoal.Grains.Shards;

/// <summary>
/// A shard replica serves no version (nothing published yet, or every version failed to restore),
/// so it cannot answer. The coordinator counts the shard missing (after trying its other replicas)
/// and flags the answer partial. Serialisable, so it crosses grain calls.
/// </summary>
[GenerateSerializer, Alias("shoal.shards.ShardUnavailableException")]
public sealed class ShardUnavailableException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ShardUnavailableException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public ShardUnavailableException(string message) : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the error that caused it.</summary>
    public ShardUnavailableException(string message, Exception innerException) : base(message, innerException)
    {
    }
}
