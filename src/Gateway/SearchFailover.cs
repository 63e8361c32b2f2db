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

    /// <summary>Runs the search, repeating it after a silo failure.</summary>
    public static async Task<SearchResponse> SearchAsync(IGrainFactory grains, SearchRequest request, CancellationToken cancellationToken)
    {
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                return await grains.GetGrain<IQueryCoordinatorGrain>(0).SearchAsync(request, cancellationToken);
            }
            catch (Exception e) when (attempt < MaxRepeats && IsSiloFailure(e) && !cancellationToken.IsCancellationRequested)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(50 * (attempt + 1)), cancellationToken);
            }
        }
    }

    /// <summary>True for the failures that mean "the silo went away", not "the search is wrong".</summary>
    internal static bool IsSiloFailure(Exception e) =>
        e is SiloUnavailableException or ConnectionFailedException or OrleansMessageRejectionException or GatewayTooBusyException
        || e.InnerException is { } inner && IsSiloFailure(inner);
}
