using System.Collections.Concurrent;
using Orleans;
using Orleans.Concurrency;
using Orleans.GrainDirectory;
using Orleans.Runtime;
using Shoal.Grains.Contracts;
using Shoal.Grains.Placement;
using Shoal.Grains.Shards;

namespace Shoal.Grains.Query;

/// <summary>
/// Where shard replicas answered from last, as seen by this silo's coordinators (each shard reply
/// names its silo). The coordinator sends the shards it believes share a remote silo one message
/// together (<see cref="ISiloShardSearchGrain"/>) instead of one message each. A stale entry
/// costs nothing but speed: the batch grain calls the shard wherever it now lives, and that reply
/// corrects the entry.
/// </summary>
public sealed class ShardLocations
{
    private readonly ConcurrentDictionary<(string Index, int Shard, int Replica), SiloAddress> _silos = new();

    /// <summary>The silo replica <paramref name="replica"/> of shard <paramref name="shard"/> answered from last, or null.</summary>
    public SiloAddress? Get(string index, int shard, int replica) => _silos.TryGetValue((index, shard, replica), out var silo) ? silo : null;

    /// <summary>Remembers the silo a reply came from.</summary>
    public void Remember(string index, ShardSearchResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        if (result.Silo is not { } silo) return;
        var key = (index, result.Shard, result.Replica);
        if (!_silos.TryGetValue(key, out var known) || !known.Equals(silo)) _silos[key] = silo;
    }

    /// <summary>Forgets the locations of <paramref name="index"/> (its shard count changed).</summary>
    public void Forget(string index)
    {
        foreach (var key in _silos.Keys)
            if (string.Equals(key.Index, index, StringComparison.Ordinal)) _silos.TryRemove(key, out _);
    }
}

/// <summary>One shard's part of a <see cref="ISiloShardSearchGrain"/> answer: its result, or why it has none.</summary>
[GenerateSerializer, Immutable, Alias("shoal.ShardOutcome")]
public sealed record ShardOutcome
{
    [Id(0)] public ShardSearchResult? Result { get; init; }
    /// <summary>"{exception type}: {message}" when the shard failed.</summary>
    [Id(1)] public string? Failure { get; init; }
    /// <summary>The failure was one of delivery (the shard was moving or its silo stopping), which a second call can get past.</summary>
    [Id(2)] public bool Transport { get; init; }
    /// <summary>The shard's search was cancelled (the deadline passed).</summary>
    [Id(3)] public bool Cancelled { get; init; }
}

/// <summary>
/// Searches several shard replicas that live on one silo with one message from the coordinator
/// (key "{silo}|{slot}", placed on that silo): the calls to the shards are local there, so a
/// query over S shards on N silos costs at most N remote messages instead of S.
/// </summary>
[Alias("shoal.ISiloShardSearchGrain")]
public interface ISiloShardSearchGrain : IGrainWithStringKey
{
    /// <summary>Searches replica <c>replicas[i]</c> of shard <c>shards[i]</c> of <paramref name="index"/>; one outcome per shard, in order.</summary>
    Task<ShardOutcome[]> SearchAsync(string index, int[] shards, int[] replicas, ShardQuery query, CancellationToken cancellationToken = default);
}

/// <inheritdoc cref="ISiloShardSearchGrain"/>
[SiloTargetPlacement]
[Reentrant]
[GrainDirectory(GrainDirectoryName = UnlistedGrainDirectory.Name)]
public sealed class SiloShardSearchGrain(LocalShards localShards) : Grain, ISiloShardSearchGrain
{
    /// <summary>Activations per silo that share the batches (each is reentrant; several spread the turns over the scheduler).</summary>
    public const int Slots = 4;

    /// <summary>The key of slot <paramref name="slot"/> on <paramref name="silo"/>.</summary>
    public static string KeyOf(SiloAddress silo, int slot)
    {
        ArgumentNullException.ThrowIfNull(silo);
        return string.Concat(silo.ToParsableString(), "|", slot.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <inheritdoc />
    public async Task<ShardOutcome[]> SearchAsync(string index, int[] shards, int[] replicas, ShardQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(shards);
        ArgumentNullException.ThrowIfNull(replicas);
        if (shards.Length != replicas.Length) throw new ArgumentException($"{shards.Length} shards but {replicas.Length} replicas.", nameof(replicas));
        var calls = new Task<ShardSearchResult>[shards.Length];
        for (int i = 0; i < calls.Length; i++)
            calls[i] = localShards.TrySearch(index, shards[i], replicas[i], query, cancellationToken)
                ?? GrainFactory.GetGrain<IShardGrain>(ShardGrain.KeyOf(index, shards[i], replicas[i])).SearchAsync(query, cancellationToken);
        try
        {
            await Task.WhenAll(calls);
        }
#pragma warning disable CA1031 // each shard's failure goes back to the coordinator in its outcome
        catch (Exception)
#pragma warning restore CA1031
        {
        }
        var outcomes = new ShardOutcome[calls.Length];
        for (int i = 0; i < calls.Length; i++)
        {
            var call = calls[i];
            if (call.IsCompletedSuccessfully)
            {
                outcomes[i] = new ShardOutcome { Result = await call }; // completed (checked): no wait
            }
            else
            {
                var cause = call.Exception?.GetBaseException() ?? new OperationCanceledException("cancelled");
                outcomes[i] = new ShardOutcome
                {
                    Failure = $"{cause.GetType().Name}: {cause.Message}",
                    Transport = SearchCoordinator.IsTransportFailure(cause),
                    Cancelled = cause is OperationCanceledException,
                };
            }
        }
        return outcomes;
    }
}

/// <summary>A shard's failure reported inside a silo batch (<see cref="ShardOutcome"/>).</summary>
public sealed class ShardBatchFailureException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ShardBatchFailureException(string failure, bool transport) : base(failure) => Transport = transport;

    /// <summary>Creates the exception.</summary>
    public ShardBatchFailureException() : base("A shard failed in a silo batch.")
    {
    }

    /// <summary>Creates the exception.</summary>
    public ShardBatchFailureException(string message) : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    public ShardBatchFailureException(string message, Exception innerException) : base(message, innerException)
    {
    }

    /// <summary>The failure was one of delivery.</summary>
    public bool Transport { get; }
}
