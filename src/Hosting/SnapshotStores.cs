using Shoal.Engine.Snapshots;
using Shoal.Grains.Hosting;
using Shoal.Storage.AzureBlob;

namespace Shoal.Hosting;

/// <summary>The snapshot store a process's settings name.</summary>
public static class SnapshotStores
{
    /// <summary>
    /// An <see cref="AzureBlobSnapshotStore"/> in <see cref="ShoalOptions.BlobContainer"/> when
    /// <see cref="ShoalOptions.BlobConnectionString"/> is set, otherwise a
    /// <see cref="LocalDirectorySnapshotStore"/> in <see cref="ShoalOptions.SnapshotDirectory"/>.
    /// </summary>
    public static ISnapshotStore Create(ShoalOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return string.IsNullOrEmpty(options.BlobConnectionString)
            ? new LocalDirectorySnapshotStore(options.SnapshotDirectory)
            : AzureBlobSnapshotStore.Create(options.BlobConnectionString, options.BlobContainer);
    }
}
