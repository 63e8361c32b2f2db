using Shoal.Engine.Snapshots;

namespace Shoal.Engine.Tests.Snapshots;

/// <summary>The store contract on <see cref="LocalDirectorySnapshotStore"/>.</summary>
public sealed class LocalDirectoryStoreContractTests : SnapshotStoreContract
{
    private readonly string _root = Directory.CreateTempSubdirectory("shoal-local-store-").FullName;

    protected override ISnapshotStore Open(string name) => new LocalDirectorySnapshotStore(Path.Combine(_root, name));

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            try { Directory.Delete(_root, recursive: true); }
            catch (IOException) { }
        }
        base.Dispose(disposing);
    }
}
