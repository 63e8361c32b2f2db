using Shoal.Encoders;
using Shoal.Engine.Sparse;
using Shoal.Grains.Encoders;

namespace Shoal.Grains.Query;

/// <summary>What an encoder produces, for checking an index schema against it.</summary>
/// <param name="Name">Encoder name.</param>
/// <param name="Kind">"dense" or "sparse".</param>
/// <param name="Dims">Dense: output dimensions. Sparse: vocabulary size (term ids are below it).</param>
public sealed record EncoderDescription(string Name, string Kind, int Dims);

/// <summary>The checks a build makes of the encoders it names, the same for an ingest and a job.</summary>
public static class ChannelEncoders
{
    /// <summary>
    /// Describes <paramref name="encoder"/>, which a build names for its <paramref name="kind"/>
    /// ("sparse" or "dense") channel; an encoder the cluster cannot serve, or one of another kind,
    /// is an <see cref="ArgumentException"/> naming it.
    /// </summary>
    public static async Task<EncoderDescription> DescribeAsync(ITextEncoderClient encoders, string encoder, string kind)
    {
        ArgumentNullException.ThrowIfNull(encoders);
        EncoderDescription described;
        try
        {
            described = await encoders.DescribeAsync(encoder, CancellationToken.None);
        }
        catch (Exception e) when (PooledTextEncoderClient.IsUnavailable(e))
        {
            throw new ArgumentException(e.Message, e);
        }
        if (described.Kind != kind) throw new ArgumentException($"Encoder '{encoder}' is a {described.Kind} encoder, not a {kind} one.");
        return described;
    }

    /// <summary>Refuses a dense encoder whose dimensions differ from the ones the build asked for.</summary>
    public static void CheckDims(EncoderDescription dense, int? requested)
    {
        ArgumentNullException.ThrowIfNull(dense);
        if (requested is { } given && given != dense.Dims) throw new ArgumentException($"Encoder '{dense.Name}' gives {dense.Dims} dimensions, not {given}.");
    }

    /// <summary>Refuses a sparse encoder whose term ids go beyond the index vocabulary.</summary>
    public static void CheckVocabulary(string encoder, int encoderTokens, int vocabularySize)
    {
        if (encoderTokens > vocabularySize)
            throw new ArgumentException($"Encoder '{encoder}' has a vocabulary of {encoderTokens} tokens but the index vocabulary has {vocabularySize}.");
    }
}

/// <summary>
/// Turns text into a channel's vectors with a named encoder: queries in the coordinator, documents
/// in index builds. Failures are <see cref="UnknownEncoderException"/> (no such encoder in the
/// cluster), <see cref="EncoderQueueFullException"/> (back-pressure) or
/// <see cref="EncoderUnavailableException"/> (no silo hosting it could answer).
/// </summary>
public interface ITextEncoderClient
{
    /// <summary>Describes encoder <paramref name="encoder"/>.</summary>
    Task<EncoderDescription> DescribeAsync(string encoder, CancellationToken cancellationToken);

    /// <summary>Encodes texts with sparse encoder <paramref name="encoder"/> (term ids of its vocabulary), as queries or as documents.</summary>
    Task<SparseVector[]> EncodeSparseAsync(string encoder, IReadOnlyList<string> texts, TextRole role, CancellationToken cancellationToken);

    /// <summary>Encodes texts with dense encoder <paramref name="encoder"/>, as queries or as documents.</summary>
    Task<float[][]> EncodeDenseAsync(string encoder, IReadOnlyList<string> texts, TextRole role, CancellationToken cancellationToken);
}

/// <summary>
/// <see cref="ITextEncoderClient"/> over the cluster's encoder pools (<see cref="IEncoderService"/>):
/// queries go one by one (micro-batched with concurrent queries), documents as document batches.
/// </summary>
public sealed class PooledTextEncoderClient(IEncoderService encoders) : ITextEncoderClient
{
    /// <summary>True for the errors that mean "an encoder cannot serve now" rather than a bad request.</summary>
    public static bool IsUnavailable(Exception e) => e is UnknownEncoderException or EncoderQueueFullException or EncoderUnavailableException;

    /// <inheritdoc />
    public async Task<EncoderDescription> DescribeAsync(string encoder, CancellationToken cancellationToken)
    {
        var d = await encoders.DescribeAsync(encoder, cancellationToken);
        return d.Kind switch
        {
            EncoderKind.Dense => new EncoderDescription(d.Name, "dense", d.Dimensions),
            EncoderKind.Sparse => new EncoderDescription(d.Name, "sparse", d.VocabularySize),
            _ => new EncoderDescription(d.Name, d.Kind.ToString().ToLowerInvariant(), d.Dimensions),
        };
    }

    /// <inheritdoc />
    public async Task<SparseVector[]> EncodeSparseAsync(string encoder, IReadOnlyList<string> texts, TextRole role, CancellationToken cancellationToken)
    {
        if (role == TextRole.Query)
        {
            var queries = new SparseVector[texts.Count];
            for (int i = 0; i < queries.Length; i++)
            {
                var one = await encoders.EncodeQueryAsync(encoder, texts[i], cancellationToken);
                queries[i] = one.Kind == EncoderKind.Sparse ? one.Sparse : throw NotOfKind(encoder, one.Kind, "sparse");
            }
            return queries;
        }
        var batch = await encoders.EncodeDocumentsAsync(encoder, texts, cancellationToken);
        return batch.Sparse is { } sparse ? [.. sparse] : throw NotOfKind(encoder, batch.Kind, "sparse");
    }

    /// <inheritdoc />
    public async Task<float[][]> EncodeDenseAsync(string encoder, IReadOnlyList<string> texts, TextRole role, CancellationToken cancellationToken)
    {
        if (role == TextRole.Query)
        {
            var queries = new float[texts.Count][];
            for (int i = 0; i < queries.Length; i++)
            {
                var one = await encoders.EncodeQueryAsync(encoder, texts[i], cancellationToken);
                queries[i] = one.Dense ?? throw NotOfKind(encoder, one.Kind, "dense");
            }
            return queries;
        }
        var batch = await encoders.EncodeDocumentsAsync(encoder, texts, cancellationToken);
        if (batch.DenseValues is not { } values) throw NotOfKind(encoder, batch.Kind, "dense");
        var rows = new float[batch.Count][];
        for (int i = 0; i < rows.Length; i++) rows[i] = values.AsSpan(i * batch.Dimensions, batch.Dimensions).ToArray();
        return rows;
    }

    private static ArgumentException NotOfKind(string encoder, EncoderKind kind, string wanted) =>
        new($"Encoder '{encoder}' is a {kind.ToString().ToLowerInvariant()} encoder, not a {wanted} one.");
}
