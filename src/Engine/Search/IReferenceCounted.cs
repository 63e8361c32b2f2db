namespace Shoal.Engine.Search;

/// <summary>
/// Something shared by concurrent readers and released when the last one is done (a shard's
/// memory-mapped segments): work that may outlive its caller takes a reference first.
/// </summary>
public interface IReferenceCounted
{
    /// <summary>Takes a reference; false when the object has already been released.</summary>
    bool TryAcquire();

    /// <summary>Drops a reference taken by <see cref="TryAcquire"/>.</summary>
    void Release();
}
