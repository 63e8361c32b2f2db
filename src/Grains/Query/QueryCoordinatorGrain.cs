using Orleans;
using Orleans.Concurrency;
using Orleans.GrainDirectory;
using Shoal.Grains.Contracts;

namespace Shoal.Grains.Query;

/// <summary>
/// The coordinator as a grain: searches that arrive as grain calls (a client-mode gateway, the
/// SDK's cluster client, another silo) run <see cref="SearchCoordinator"/> on the silo that took
/// the call. Stateless, so Orleans scales activations with load on every silo; reentrant, so an
/// activation waiting on shards keeps taking new searches (a search's turns only plan and merge).
/// </summary>
[StatelessWorker]
[Reentrant]
[GrainDirectory(GrainDirectoryName = Placement.UnlistedGrainDirectory.Name)]
public sealed class QueryCoordinatorGrain(SearchCoordinator coordinator) : Grain, IQueryCoordinatorGrain
{
    /// <inheritdoc />
    public Task<SearchResponse> SearchAsync(SearchRequest request, CancellationToken cancellationToken = default) =>
        coordinator.SearchAsync(request, cancellationToken);
}
