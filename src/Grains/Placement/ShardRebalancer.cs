using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans;
using Orleans.Core.Internal;
using Orleans.Runtime;
using Orleans.Runtime.Placement;
using Shoal.Grains.Contracts;
using Shoal.Grains.Hosting;
using Shoal.Grains.Shards;

namespace Shoal.Grains.Placement;

/// <summary>
/// Keeps shard replicas where <see cref="ShardPlacementMap"/> puts them over the active silos.
/// Every silo runs one; the one with the lowest address among the active, non-draining silos (the
/// leader) acts. After a membership change (and every <see cref="ShoalOptions.RebalanceInterval"/>)
/// the leader reads where each replica is, publishes that to the index grain (the index
/// description's <c>placement</c>), and moves each misplaced replica, at most
/// <see cref="ShoalOptions.RebalanceMaxConcurrentMoves"/> at a time: it first warms the replica on
/// the target silo (segments restored, checked and opened there), then migrates the activation with
/// the target as placement hint. The old activation answers until the migration starts; requests
/// that arrive during the hand-over wait and go to the new activation, which starts with its
/// segments already open. A silo stopping gracefully first announces that it is leaving and moves
/// its own replicas to the other silos the same way, then stops.
/// </summary>
public sealed partial class ShardRebalancer(
    IClusterMembershipService membership,
    IGrainFactory grains,
    ILocalSiloDetails local,
    DrainingSilos draining,
    IOptions<ShoalOptions> options,
    ILogger<ShardRebalancer> logger) : ILifecycleParticipant<ISiloLifecycle>, IDisposable
{
    private static readonly TimeSpan MoveTimeout = TimeSpan.FromSeconds(30);
    private readonly ShoalOptions _options = options.Value;
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _wake = new(0, int.MaxValue);
    private Task _loop = Task.CompletedTask;
    private Task _watch = Task.CompletedTask;
    private volatile bool _leaving;

    /// <summary>Moves this silo has completed (as leader or while draining).</summary>
    public int MovesCompleted => _moves;
    private int _moves;

    /// <inheritdoc />
    public void Participate(ISiloLifecycle lifecycle)
    {
        ArgumentNullException.ThrowIfNull(lifecycle);
        lifecycle.Subscribe(nameof(ShardRebalancer), ServiceLifecycleStage.Active, OnStartAsync, OnStopAsync);
    }

    private Task OnStartAsync(CancellationToken cancellationToken)
    {
        if (!_options.RebalanceEnabled) return Task.CompletedTask;
        _watch = Task.Run(() => WatchMembershipAsync(_stop.Token), CancellationToken.None);
        _loop = Task.Run(() => RunAsync(_stop.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    private async Task OnStopAsync(CancellationToken cancellationToken)
    {
        _leaving = true;
        await _stop.CancelAsync();
        try
        {
            await Task.WhenAll(_loop, _watch).WaitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            // The loops end by cancellation.
        }
        if (_options.RebalanceEnabled) await DrainAsync(cancellationToken);
    }

    private async Task WatchMembershipAsync(CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var _ in membership.MembershipUpdates.WithCancellation(cancellationToken))
                _wake.Release();
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                bool woken = await _wake.WaitAsync(_options.RebalanceInterval, cancellationToken);
                if (woken)
                {
                    // Coalesce a burst of membership changes into one plan.
                    await Task.Delay(_options.RebalanceSettleDelay, cancellationToken);
                    while (_wake.CurrentCount > 0) await _wake.WaitAsync(cancellationToken);
                }
                int moved = await PassAsync(cancellationToken);
                if (moved > 0) _wake.Release(); // look again at once: the map may still be off (a silo joined meanwhile)
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // the loop must survive any failure of one pass (a silo gone mid-pass, a store hiccup); it logs and tries again
            catch (Exception e)
#pragma warning restore CA1031
            {
                LogPassFailed(logger, e);
            }
        }
    }

    private SiloAddress[] ActiveSilos() =>
        [.. membership.CurrentSnapshot.Members.Values.Where(m => m.Status == SiloStatus.Active).Select(m => m.SiloAddress)];

    private async Task RefreshDrainingAsync()
    {
        var names = await grains.GetGrain<IPlacementRegistryGrain>(0).GetDrainingAsync();
        var active = ActiveSilos();
        var set = active.Where(s => names.Contains(s.ToParsableString(), StringComparer.Ordinal)).ToList();
        if (_leaving) set.Add(local.SiloAddress);
        draining.Set(set);
    }

    /// <summary>One look at the placement; moves misplaced replicas when this silo leads. Returns the moves made.</summary>
    internal async Task<int> PassAsync(CancellationToken cancellationToken)
    {
        await RefreshDrainingAsync();
        var eligible = ShardPlacementMap.Order(draining.Without(ActiveSilos()));
        if (eligible.Length == 0 || !eligible[0].Equals(local.SiloAddress)) return 0;
        var plan = await PlanAsync(eligible, cancellationToken);
        if (plan.Count == 0) return 0;
        if (logger.IsEnabled(LogLevel.Information))
        {
            string list = string.Join(", ", eligible.Select(s => s.ToString()));
            LogPlan(logger, plan.Count, eligible.Length, list);
        }
        return await MoveAllAsync(plan, cancellationToken);
    }

    /// <summary>A replica to move.</summary>
    private sealed record Move(string Index, int Shard, int Replica, long Version, string From, SiloAddress To);

    /// <summary>Reads where every replica is, publishes it per index and lists the replicas off their target.</summary>
    private async Task<List<Move>> PlanAsync(SiloAddress[] eligible, CancellationToken cancellationToken)
    {
        var moves = new List<Move>();
        var names = eligible.Select(s => s.ToParsableString()).ToArray();
        foreach (var index in await grains.GetGrain<ICatalogGrain>(0).ListIndexesAsync())
        {
            cancellationToken.ThrowIfCancellationRequested();
            var info = await grains.GetGrain<IIndexGrain>(index).GetInfoAsync();
            if (info is null || info.Version == 0 || info.ShardCount == 0) continue;
            int replicas = Math.Max(1, info.Replicas);
            var reads = new List<Task<ShardInfo>>(info.ShardCount * replicas);
            for (int s = 0; s < info.ShardCount; s++)
                for (int r = 0; r < replicas; r++)
                    reads.Add(grains.GetGrain<IShardGrain>(ShardGrain.KeyOf(index, s, r)).GetInfoAsync());
            var found = await Task.WhenAll(reads);
            var locations = new ShardReplicaLocation[found.Length];
            for (int i = 0; i < found.Length; i++)
            {
                var f = found[i];
                var target = ShardPlacementMap.Target(index, f.Shard, f.Replica, eligible);
                locations[i] = new ShardReplicaLocation { Shard = f.Shard, Replica = f.Replica, Silo = f.SiloAddress, Target = target.ToParsableString(), Version = f.Version };
                if (!string.Equals(f.SiloAddress, locations[i].Target, StringComparison.Ordinal))
                    moves.Add(new Move(index, f.Shard, f.Replica, info.Version, f.SiloAddress, target));
            }
            var placement = new IndexPlacement
            {
                ObservedUtc = DateTimeOffset.UtcNow,
                Replicas = locations,
                Skew = ShardPlacementMap.Skew(locations.Select(l => l.Silo), names),
                Balanced = locations.All(l => string.Equals(l.Silo, l.Target, StringComparison.Ordinal)),
            };
            await grains.GetGrain<IIndexGrain>(index).SetPlacementAsync(placement);
        }
        return moves;
    }

    private async Task<int> MoveAllAsync(IReadOnlyList<Move> moves, CancellationToken cancellationToken)
    {
        int done = 0;
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, _options.RebalanceMaxConcurrentMoves), CancellationToken = cancellationToken };
        await Parallel.ForEachAsync(moves, parallel, async (move, ct) =>
        {
            if (await MoveAsync(move, ct)) Interlocked.Increment(ref done);
        });
        Interlocked.Add(ref _moves, done);
        return done;
    }

    /// <summary>Warms the replica on its target, migrates it there and waits until it answers from there.</summary>
    private async Task<bool> MoveAsync(Move move, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        string to = move.To.ToParsableString();
        LogMoving(logger, move.Index, move.Shard, move.Replica, move.From, to);
        try
        {
            await grains.GetGrain<IShardWarmerGrain>(ShardWarmerGrain.KeyOf(move.To, move.Index, move.Shard, move.Replica)).WarmAsync(move.Version, cancellationToken);
            var shard = grains.GetGrain<IShardGrain>(ShardGrain.KeyOf(move.Index, move.Shard, move.Replica));
            RequestContext.Set(IPlacementDirector.PlacementHintKey, move.To);
            try
            {
#pragma warning disable CA2016 // the grain extension call takes no token; it only starts the migration and returns at once
                await shard.Cast<IGrainManagementExtension>().MigrateOnIdle();
#pragma warning restore CA2016
            }
            finally
            {
                RequestContext.Remove(IPlacementDirector.PlacementHintKey);
            }
            var until = DateTime.UtcNow + MoveTimeout;
            while (true)
            {
                var now = await shard.GetInfoAsync();
                if (string.Equals(now.SiloAddress, to, StringComparison.Ordinal))
                {
                    LogMoved(logger, move.Index, move.Shard, move.Replica, to, now.Version, clock.ElapsedMilliseconds);
                    return true;
                }
                if (DateTime.UtcNow > until)
                {
                    LogMoveMissed(logger, move.Index, move.Shard, move.Replica, to, now.SiloAddress);
                    return false;
                }
                await Task.Delay(50, cancellationToken);
            }
        }
        catch (Exception e) when (e is OrleansException or TimeoutException or InvalidOperationException or IOException or InvalidDataException)
        {
            LogMoveFailed(logger, e, move.Index, move.Shard, move.Replica, to);
            return false;
        }
    }

    /// <summary>Graceful leave: announces it, then moves this silo's replicas to the map's silos over the others.</summary>
    private async Task DrainAsync(CancellationToken cancellationToken)
    {
        var self = local.SiloAddress;
        draining.Add(self);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(_options.DrainTimeout);
        var clock = Stopwatch.StartNew();
        try
        {
            await grains.GetGrain<IPlacementRegistryGrain>(0).MarkDrainingAsync(self.ToParsableString());
            await RefreshDrainingAsync();
            var others = ShardPlacementMap.Order(ActiveSilos().Where(s => !s.Equals(self) && !draining.Current.Contains(s)));
            if (others.Length == 0)
            {
                LogDrainAlone(logger, self);
                return;
            }
            int moved = 0;
            string mine = self.ToParsableString();
            for (int round = 0; round < 3; round++)
            {
                var plan = (await PlanAsync(others, cts.Token)).Where(m => string.Equals(m.From, mine, StringComparison.Ordinal)).ToList();
                if (plan.Count == 0) break;
                moved += await MoveAllAsync(plan, cts.Token);
            }
            LogDrained(logger, self, moved, others.Length, clock.ElapsedMilliseconds);
        }
        catch (OperationCanceledException)
        {
            LogDrainTimedOut(logger, self, clock.ElapsedMilliseconds);
        }
        catch (Exception e) when (e is OrleansException or TimeoutException or InvalidOperationException)
        {
            LogPassFailed(logger, e);
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _stop.Dispose();
        _wake.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Shard rebalancing pass failed; it is tried again")]
    private static partial void LogPassFailed(ILogger logger, Exception error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Placement: {Moves} shard replica(s) off their place in the map over {Silos} silo(s) [{List}]; moving them")]
    private static partial void LogPlan(ILogger logger, int moves, int silos, string list);

    [LoggerMessage(Level = LogLevel.Information, Message = "Placement: moving shard replica {Index}/{Shard}/{Replica} from {From} to {To} (warming it there first)")]
    private static partial void LogMoving(ILogger logger, string index, int shard, int replica, string from, string to);

    [LoggerMessage(Level = LogLevel.Information, Message = "Placement: shard replica {Index}/{Shard}/{Replica} serves version {Version} on {To}; moved in {Ms} ms")]
    private static partial void LogMoved(ILogger logger, string index, int shard, int replica, string to, long version, long ms);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Placement: shard replica {Index}/{Shard}/{Replica} did not arrive on {To} (it is on {Now}); the next pass retries")]
    private static partial void LogMoveMissed(ILogger logger, string index, int shard, int replica, string to, string now);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Placement: moving shard replica {Index}/{Shard}/{Replica} to {To} failed; it keeps serving where it is and the next pass retries")]
    private static partial void LogMoveFailed(ILogger logger, Exception error, string index, int shard, int replica, string to);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Placement: silo {Silo} is leaving and no other silo is active; its shard replicas stop with it")]
    private static partial void LogDrainAlone(ILogger logger, SiloAddress silo);

    [LoggerMessage(Level = LogLevel.Information, Message = "Placement: silo {Silo} is leaving; moved {Moves} shard replica(s) to {Silos} other silo(s) in {Ms} ms")]
    private static partial void LogDrained(ILogger logger, SiloAddress silo, int moves, int silos, long ms);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Placement: silo {Silo} is leaving; moving its shard replicas away took longer than the drain timeout ({Ms} ms), it stops anyway")]
    private static partial void LogDrainTimedOut(ILogger logger, SiloAddress silo, long ms);
}
