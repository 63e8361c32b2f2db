using Shoal.Engine.Sparse;

namespace Shoal.Grains.Query;

/// <summary>What an encoder produces, for checking an index schema against it.</summary>
/// <param name="Name">Encoder name.</param>
/// <param name="Kind">"dense" or "sparse".</param>
/// <param name="Dims">Dense: output dimensions. Sparse: vocabulary size (term ids are below it).</param>
public sealed record EncoderDescription(string Name, string Kind, int Dims);

/// <summary>
/// Turns text into a channel's vectors with a named encoder: queries in the coordinator, documents
/// in index builds. Silos with encoder pools register the pool client; without them every call
/// fails with <see cref="EncoderUnavailableException"/>.
/// </summary>
public interface ITextEncoderClient
{
    /// <summary>Describes encoder <paramref name="encoder"/>; throws <see cref="EncoderUnavailableException"/> when the cluster has no such encoder.</summary>
    Task<EncoderDescription> DescribeAsync(string encoder, CancellationToken cancellationToken);

    /// <summary>Encodes texts with sparse encoder <paramref name="encoder"/> (term ids of its vocabulary).</summary>
    Task<SparseVector[]> EncodeSparseAsync(string encoder, IReadOnlyList<string> texts, CancellationToken cancellationToken);

    /// <summary>Encodes texts with dense encoder <paramref name="encoder"/>.</summary>
    Task<float[][]> EncodeDenseAsync(string encoder, IReadOnlyList<string> texts, CancellationToken cancellationToken);
}

/// <summary>An encoder cannot serve now: not configured in the cluster, or its queue is full.</summary>
public sealed class EncoderUnavailableException : Exception
{
    /// <summary>Creates the exception.</summary>
    public EncoderUnavailableException() { }

    /// <summary>Creates the exception with a message.</summary>
    public EncoderUnavailableException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and cause.</summary>
    public EncoderUnavailableException(string message, Exception innerException) : base(message, innerException) { }
}

/// <summary>The encoder client of a cluster without encoder pools: every call says so.</summary>
public sealed class NoTextEncoderClient : ITextEncoderClient
{
    /// <inheritdoc />
    public Task<EncoderDescription> DescribeAsync(string encoder, CancellationToken cancellationToken) =>
        Task.FromException<EncoderDescription>(Unavailable(encoder));

    /// <inheritdoc />
    public Task<SparseVector[]> EncodeSparseAsync(string encoder, IReadOnlyList<string> texts, CancellationToken cancellationToken) =>
        Task.FromException<SparseVector[]>(Unavailable(encoder));

    /// <inheritdoc />
    public Task<float[][]> EncodeDenseAsync(string encoder, IReadOnlyList<string> texts, CancellationToken cancellationToken) =>
        Task.FromException<float[][]>(Unavailable(encoder));

    private static EncoderUnavailableException Unavailable(string encoder) =>
        new($"Encoder '{encoder}' is not available: no silo in this cluster runs encoder pools (configure Shoal:Encoders), so send vectors instead of text.");
}
