using Shoal.Engine.Snapshots;
using Shoal.Engine.Tests.Snapshots;
using static Shoal.Integration.Tests.Snapshots.SnapshotTestSupport;

namespace Shoal.Integration.Tests.Snapshots;

/// <summary>
/// The store contract (<see cref="SnapshotStoreContract"/>, shared with the local directory store)
/// on <c>AzureBlobSnapshotStore</c> against a real Azurite: each name is a container of this test
/// class, each <see cref="Open"/> a new client of it, as another process would have. Small chunks,
/// so files move as several blocks and ranges.
/// </summary>
public sealed class AzureBlobStoreContractTests(AzuriteFixture azurite) : SnapshotStoreContract, IClassFixture<AzuriteFixture>
{
    private readonly string _id = Guid.NewGuid().ToString("N")[..10];

    protected override ISnapshotStore Open(string name) => Store(azurite, $"contract-{name}-{_id}");
}
