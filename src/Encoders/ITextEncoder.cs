namespace Shoal.Encoders;

/// <summary>
/// Turns texts into the representation a retrieval index searches with: dense vectors, sparse
/// term-weight vectors or BM25 terms (see <see cref="EncoderKind"/>).
/// </summary>
/// <remarks>
/// Implementations are thread-safe: one instance (and its ONNX Runtime session, created once in
/// the constructor) serves concurrent callers. <see cref="EncodeAsync"/> encodes the whole list as
/// one batch (one model run for model-based encoders); to merge many concurrent single-text
/// requests into batches put the encoder behind an <see cref="EncoderPool"/>.
/// </remarks>
public interface ITextEncoder
{
    /// <summary>A short name for logs and metrics (e.g. the model file name).</summary>
    string Name { get; }

    /// <summary>What <see cref="EncodeAsync"/> produces.</summary>
    EncoderKind Kind { get; }

    /// <summary>
    /// Encodes <paramref name="texts"/> as one batch. The result has one entry per text, in order,
    /// and its <see cref="EncodedBatch.Kind"/> equals <see cref="Kind"/>. An empty list gives an
    /// empty batch. Model inference runs on a thread-pool thread, never on the caller's.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="texts"/> or one of its items is null.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="ct"/> was cancelled before the work started.</exception>
    Task<EncodedBatch> EncodeAsync(IReadOnlyList<string> texts, CancellationToken ct);
}
