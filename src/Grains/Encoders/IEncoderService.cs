using Shoal.Encoders;

namespace Shoal.Grains.Encoders;

/// <summary>
/// Encodes texts with the cluster's named encoders, wherever they are hosted: the local silo's
/// pool when this silo holds the encoder role and hosts the encoder, otherwise the
/// <see cref="IEncoderPoolGrain"/> of an encoder silo (round-robin over them, moving on to the next
/// when one is full or unreachable). Registered by <c>AddShoalEncoderPools</c> on silos and by
/// <c>AddShoalEncoderClient</c> on clients (the gateway); thread-safe, use it as a singleton.
/// </summary>
/// <remarks>
/// Errors, all typed and immediate (never a timeout):
/// <list type="bullet">
/// <item><see cref="UnknownEncoderException"/>: no silo hosts an encoder of that name (the message lists those that exist);</item>
/// <item><see cref="EncoderQueueFullException"/>: back-pressure — every silo hosting the encoder has a full
/// queue (documents are retried with back-off first, see <see cref="EncoderClientOptions.DocumentQueueFullRetries"/>);</item>
/// <item><see cref="EncoderUnavailableException"/>: the encoder exists but no silo hosting it could answer;</item>
/// <item><see cref="ArgumentException"/>: a null text, or a bad encoder name.</item>
/// </list>
/// </remarks>
public interface IEncoderService
{
    /// <summary>The encoders the cluster hosts, described (kind, dimensions, vocabulary size).</summary>
    Task<IReadOnlyList<EncoderDescriptor>> ListEncodersAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// What <paramref name="encoder"/> produces, to check an index schema against
    /// (<see cref="EncoderDescriptor.EnsureCompatible"/>). Cached after the first call.
    /// </summary>
    Task<EncoderDescriptor> DescribeAsync(string encoder, CancellationToken cancellationToken = default);

    /// <summary>
    /// Encodes one query text: <see cref="EncodedText.Dense"/> (float[]) for dense encoders,
    /// <see cref="EncodedText.Sparse"/> (term ids ascending + weights) for sparse ones,
    /// <see cref="EncodedText.Terms"/> for BM25. Concurrent queries are micro-batched by the pool; the
    /// encoder's query instruction is put before the text.
    /// </summary>
    Task<EncodedText> EncodeQueryAsync(string encoder, string text, CancellationToken cancellationToken = default);

    /// <summary>
    /// Encodes documents for indexing: one encoding per text, in order (dense: one row-major array
    /// <c>Count x Dimensions</c>). The texts are sent in chunks of
    /// <see cref="EncoderClientOptions.DocumentChunkSize"/>, several at a time, spread over the
    /// encoder silos; inside a pool each chunk is encoded with the encoder's document instruction in
    /// batches of similar length (<see cref="EncoderPool.EncodeDocumentsAsync"/>), one at a time per pool.
    /// </summary>
    Task<EncodedBatch> EncodeDocumentsAsync(string encoder, IReadOnlyList<string> texts, CancellationToken cancellationToken = default);

    /// <summary>The pool counters of <paramref name="encoder"/> on every silo hosting it.</summary>
    Task<IReadOnlyList<EncoderPoolStats>> GetStatsAsync(string encoder, CancellationToken cancellationToken = default);
}

/// <summary>Settings of <see cref="EncoderClient"/>.</summary>
public sealed class EncoderClientOptions
{
    /// <summary>Use the local silo's pool when it hosts the encoder (default true); false always goes through grains.</summary>
    public bool PreferLocalPool { get; set; } = true;

    /// <summary>How long a client outside the silos reuses the encoder catalog before asking again. Default 10 s.</summary>
    public TimeSpan CatalogRefreshInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long a request for an encoder nobody is known to host waits while some active silo's
    /// metadata has not arrived yet (just after it joined). Default 5 s.
    /// </summary>
    public TimeSpan SettleTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Texts per grain call of <see cref="IEncoderService.EncodeDocumentsAsync"/>. Default 64.</summary>
    public int DocumentChunkSize { get; set; } = 64;

    /// <summary>Chunks of one <see cref="IEncoderService.EncodeDocumentsAsync"/> call in flight at once. Default 4.</summary>
    public int MaxConcurrentDocumentChunks { get; set; } = 4;

    /// <summary>
    /// How many times a document chunk refused by every hosting silo (queue full) is retried, after
    /// <see cref="QueueFullRetryDelay"/> doubling up to 2 s, before <see cref="EncoderQueueFullException"/>.
    /// Queries are not retried: a full queue is reported at once. Default 8.
    /// </summary>
    public int DocumentQueueFullRetries { get; set; } = 8;

    /// <summary>First back-off delay of <see cref="DocumentQueueFullRetries"/>. Default 50 ms.</summary>
    public TimeSpan QueueFullRetryDelay { get; set; } = TimeSpan.FromMilliseconds(50);
}
