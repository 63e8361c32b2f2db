using Orleans;
using Orleans.Runtime;
using Orleans.Runtime.Messaging;
using Shoal.Grains.Contracts;

namespace Shoal.Gateway;

/// <summary>
/// Sends a search to a query coordinator and, when the silo that carried it died under it (the
/// process was killed, its connection dropped, the message was rejected), sends it again: a
/// search is a read, so repeating it is safe, and the cluster client routes the repeat through
/// another silo. Without this, every search in flight on a killed silo is a 500 for the caller.
/// </summary>
internal static class SearchFailover
{
    /// <summary>Sends beyond the first.</summary>
    internal const int MaxRepeats = 2;

    /// <summary>
    /// How long one send may take beyond the search's own deadline before it is given up and sent
    /// again: the coordinator may wait up to 5 s for an unreachable index grain before it falls back
    /// to the snapshot store, then searches within the deadline. A message carried by a silo that was
    /// killed under it is otherwise answered only by the Orleans response timeout (30 s).
    /// </summary>
    internal static readonly TimeSpan AttemptSlack = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How many coordinator keys searches are spread over. An Orleans client sends every message for
    /// one grain through the same silo gateway (grains map to buckets, buckets to gateway
    /// connections), and a stateless worker activates on the silo that receives the call: with one
    /// key every search was coordinated by one silo, which capped a cluster's throughput at what
    /// that silo could plan, scatter and merge (found by bench/scale-out.sh: 3 silos did 1.4x the
    /// queries of one). A random key per send spreads the coordination over every silo's gateway,
    /// and a repeated send most likely goes through another one.
    /// </summary>
    internal const int CoordinatorKeys = 128;

    /// <summary>The search deadline the coordinator applies when the request gives none (ShoalOptions.DefaultDeadline).</summary>
    internal static readonly TimeSpan DefaultDeadline = TimeSpan.FromSeconds(5);

    /// <summary>Runs the search, repeating it after a silo failure or a send that went unanswered.</summary>
    public static async Task<SearchResponse> SearchAsync(IGrainFactory grains, SearchRequest request, CancellationToken cancellationToken)
    {
        var limit = (request.DeadlineMs is { } ms ? TimeSpan.FromMilliseconds(ms) : DefaultDeadline) + AttemptSlack;
        for (int attempt = 0; ; attempt++)
        {
            using var attemptToken = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            attemptToken.CancelAfter(limit);
            try
            {
                return await grains.GetGrain<IQueryCoordinatorGrain>(Random.Shared.Next(CoordinatorKeys)).SearchAsync(request, attemptToken.Token);
            }
            catch (Exception e) when (attempt < MaxRepeats && !cancellationToken.IsCancellationRequested && (IsSiloFailure(e) || attemptToken.IsCancellationRequested))
            {
                // A silo failed or never answered: the repeat goes through another silo.
                if (!attemptToken.IsCancellationRequested)
                    await Task.Delay(TimeSpan.FromMilliseconds(50 * (attempt + 1)), cancellationToken);
            }
            catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException($"The cluster did not answer the search within {limit.TotalSeconds:0.#} s, {MaxRepeats + 1} times.", e);
            }
        }
    }

    /// <summary>True for the failures that mean "the silo went away", not "the search is wrong".</summary>
    internal static bool IsSiloFailure(Exception e) =>
        e is SiloUnavailableException or ConnectionFailedException or OrleansMessageRejectionException or GatewayTooBusyException
        || e.InnerException is { } inner && IsSiloFailure(inner);
}
