using Microsoft.Extensions.DependencyInjection;
using Orleans;
using Shoal.Grains.Contracts;
using Shoal.Grains.Query;

namespace Shoal.Gateway;

/// <summary>
/// Where the gateway sends a search. A gateway that runs in a silo's process (the embedded
/// mode) calls that silo's <see cref="SearchCoordinator"/> as a method: no grain message to a
/// coordinator activation and no thread switches to and from its turn, which on a small machine
/// were most of a search's time outside the engine. A client-mode gateway sends it to a
/// coordinator grain in the cluster, with <see cref="SearchFailover"/>.
/// <c>Shoal:DirectLocalSearch=false</c> sends every search through a coordinator grain.
/// </summary>
internal sealed class SearchRouter(IGrainFactory grains, IServiceProvider services)
{
    private readonly SearchCoordinator? _local = services.GetService<SearchCoordinator>() is { DirectCalls: true } coordinator ? coordinator : null;
    private long _localSearches;

    /// <summary>Searches run in this process's silo.</summary>
    public bool Local => _local is not null;

    /// <summary>Searches this gateway ran on its own silo's coordinator so far.</summary>
    public long LocalSearches => Interlocked.Read(ref _localSearches);

    /// <summary>Runs one search on this process's silo when it has one, else through a coordinator grain.</summary>
    public Task<SearchResponse> SearchAsync(SearchRequest request, CancellationToken cancellationToken)
    {
        if (_local is null) return SearchFailover.SearchAsync(grains, request, cancellationToken);
        Interlocked.Increment(ref _localSearches);
        return _local.SearchAsync(request, cancellationToken);
    }
}
