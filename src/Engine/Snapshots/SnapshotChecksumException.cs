namespace Shoal.Engine.Snapshots;

/// <summary>
/// A snapshot object's bytes do not match what its manifest promises (size or XXH3-64). The
/// message names the store, the key, the index and version the key belongs to, and both
/// checksums. Whoever throws it has not left the bad bytes in any cache.
/// </summary>
public sealed class SnapshotChecksumException : IOException
{
    /// <summary>Creates the exception; <paramref name="actual"/>'s hash is null when only the size was compared.</summary>
    /// <param name="store">The store's <see cref="ISnapshotStore.Description"/>.</param>
    /// <param name="key">The object's key.</param>
    /// <param name="expected">What the manifest promises.</param>
    /// <param name="actualBytes">The object's size as found.</param>
    /// <param name="actualXxh3">The checksum of the bytes found, or null when the size alone already differed.</param>
    /// <param name="outcome">What was done about it (e.g. "the download was discarded").</param>
    public SnapshotChecksumException(string store, string key, ObjectChecksum expected, long actualBytes, ulong? actualXxh3, string outcome)
        : base(FormatMessage(store, key, expected, actualBytes, actualXxh3, outcome))
    {
        Store = store;
        Key = key;
        Expected = expected;
        ActualBytes = actualBytes;
        ActualXxh3 = actualXxh3;
        if (SnapshotCatalog.TryParseKey(key, out string index, out long version))
        {
            Index = index;
            Version = version;
        }
    }

    /// <summary>The store that holds the object.</summary>
    public string Store { get; }

    /// <summary>The object's key.</summary>
    public string Key { get; }

    /// <summary>The index the key belongs to, when it follows the catalog layout.</summary>
    public string? Index { get; }

    /// <summary>The index version the key belongs to, when it follows the catalog layout.</summary>
    public long? Version { get; }

    /// <summary>Size and checksum the manifest promises.</summary>
    public ObjectChecksum Expected { get; }

    /// <summary>The object's size as found.</summary>
    public long ActualBytes { get; }

    /// <summary>XXH3-64 of the bytes found, or null when the size alone already differed.</summary>
    public ulong? ActualXxh3 { get; }

    private static string FormatMessage(string store, string key, ObjectChecksum expected, long actualBytes, ulong? actualXxh3, string outcome)
    {
        string where = SnapshotCatalog.TryParseKey(key, out string index, out long version) ? $" (index '{index}', version {version})" : "";
        string actual = actualXxh3 is { } h ? $"xxh3 {h:x16} over {actualBytes} bytes" : $"{actualBytes} bytes (not hashed)";
        return $"Snapshot object '{key}'{where} in {store} fails its checksum: the manifest says {expected}, the object has {actual}; {outcome}.";
    }
}
