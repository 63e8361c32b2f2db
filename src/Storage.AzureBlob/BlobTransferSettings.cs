namespace Shoal.Storage.AzureBlob;

/// <summary>
/// How <see cref="AzureBlobSnapshotStore"/> moves files: objects larger than
/// <see cref="SingleRequestBytes"/> travel as <see cref="ChunkBytes"/>-sized staged blocks (upload)
/// or byte ranges (download), <see cref="Parallelism"/> at a time, each retried on its own.
/// </summary>
public sealed record BlobTransferSettings
{
    /// <summary>Default <see cref="ChunkBytes"/>: 16 MiB.</summary>
    public const int DefaultChunkBytes = 16 << 20;

    /// <summary>Default <see cref="Parallelism"/>: 4.</summary>
    public const int DefaultParallelism = 4;

    /// <summary>
    /// Block size of uploads and range size of downloads (64 KiB to 256 MiB). Larger chunks mean
    /// fewer requests (each costs the service a signature check and a metadata lookup) but more
    /// memory: up to (<see cref="Parallelism"/> + 1) chunks per upload and
    /// (<see cref="Parallelism"/> - 1 + <see cref="ReorderWindow"/>) per download.
    /// </summary>
    public int ChunkBytes { get; init; } = DefaultChunkBytes;

    /// <summary>
    /// Blocks or ranges in flight per file (1 to 64; a download's streaming first range counts as
    /// one). Several files usually move at once (one per shard), so per-file parallelism is modest;
    /// on a 2-core machine 8 connections per file cost several times the CPU of 4 for no gain.
    /// </summary>
    public int Parallelism { get; init; } = DefaultParallelism;

    /// <summary>
    /// Files up to this size are uploaded with one request (no block list); 0 means
    /// <see cref="ChunkBytes"/>.
    /// </summary>
    public int SingleRequestBytes { get; init; }

    /// <summary>Default <see cref="InitialDownloadBytes"/>: 64 MiB.</summary>
    public const long DefaultInitialDownloadBytes = 64 << 20;

    /// <summary>
    /// Size of a download's first range, which streams straight to the file through a small
    /// buffer (hashed while it is still in cache) while the rest of the object is fetched as
    /// <see cref="ChunkBytes"/> ranges alongside it; an object this small is downloaded with one
    /// request. Ranges beyond the first are held in memory until their turn to be hashed, which
    /// costs more CPU per byte than streaming, so the first range is the larger (the SDK's own
    /// <c>DownloadToAsync</c> uses 256 MiB). 0 means <see cref="ChunkBytes"/>.
    /// </summary>
    public long InitialDownloadBytes { get; init; } = DefaultInitialDownloadBytes;

    /// <summary>
    /// Completed download ranges that may wait for an earlier range to be hashed, beyond those in
    /// flight (buffers held per file: <see cref="Parallelism"/> plus this, times <see cref="ChunkBytes"/>).
    /// </summary>
    public int ReorderWindow { get; init; } = 2;

    /// <summary>Retries of one request (a block, a range, a commit) after a transient failure.</summary>
    public int MaxRetries { get; init; } = 4;

    /// <summary>First retry delay; later ones back off exponentially with jitter.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>The effective first download range.</summary>
    internal long InitialDownloadLimit => InitialDownloadBytes > 0 ? InitialDownloadBytes : ChunkBytes;

    /// <summary>The effective single-request threshold.</summary>
    internal int SingleRequestLimit => SingleRequestBytes > 0 ? SingleRequestBytes : ChunkBytes;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> for settings out of range.</summary>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(ChunkBytes, 64 << 10, nameof(ChunkBytes));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(ChunkBytes, 256 << 20, nameof(ChunkBytes));
        ArgumentOutOfRangeException.ThrowIfLessThan(Parallelism, 1, nameof(Parallelism));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(Parallelism, 64, nameof(Parallelism));
        ArgumentOutOfRangeException.ThrowIfNegative(SingleRequestBytes, nameof(SingleRequestBytes));
        ArgumentOutOfRangeException.ThrowIfNegative(InitialDownloadBytes, nameof(InitialDownloadBytes));
        ArgumentOutOfRangeException.ThrowIfNegative(ReorderWindow, nameof(ReorderWindow));
        ArgumentOutOfRangeException.ThrowIfNegative(MaxRetries, nameof(MaxRetries));
        ArgumentOutOfRangeException.ThrowIfLessThan(RetryDelay, TimeSpan.Zero, nameof(RetryDelay));
    }
}
