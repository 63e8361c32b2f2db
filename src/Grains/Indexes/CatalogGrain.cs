using Orleans;
using Orleans.Concurrency;
using Shoal.Engine.Snapshots;
using Shoal.Grains.Contracts;

namespace Shoal.Grains.Indexes;

/// <summary>Lists indexes from the snapshot store; stateless, so every silo answers locally.</summary>
[StatelessWorker]
public sealed class CatalogGrain(SnapshotCatalog catalog) : Grain, ICatalogGrain
{
    /// <inheritdoc />
    public async Task<string[]> ListIndexesAsync() => [.. await catalog.ListIndexesAsync()];
}
