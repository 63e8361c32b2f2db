using Shoal.Engine.Sparse;

namespace Shoal.Encoders;

/// <summary>
/// The result of <see cref="ITextEncoder.EncodeAsync"/>: one encoding per input text, in input
/// order. Dense batches hold one flattened row-major array (<see cref="Count"/> x
/// <see cref="Dimensions"/>); sparse batches one <see cref="SparseVector"/> per text; BM25 batches
/// one term list per text.
/// </summary>
public sealed class EncodedBatch
{
    private readonly float[]? _dense;
    private readonly SparseVector[]? _sparse;
    private readonly IReadOnlyList<TermCount>[]? _terms;

    private EncodedBatch(EncoderKind kind, int count, int dimensions, float[]? dense, SparseVector[]? sparse, IReadOnlyList<TermCount>[]? terms)
    {
        Kind = kind;
        Count = count;
        Dimensions = dimensions;
        _dense = dense;
        _sparse = sparse;
        _terms = terms;
    }

    /// <summary>Which representation the batch holds.</summary>
    public EncoderKind Kind { get; }

    /// <summary>Number of texts encoded.</summary>
    public int Count { get; }

    /// <summary>Floats per dense vector; 0 for sparse and BM25 batches.</summary>
    public int Dimensions { get; }

    /// <summary>
    /// The dense vectors, row-major: vector <c>i</c> is <c>DenseValues[i * Dimensions .. (i + 1) * Dimensions]</c>.
    /// Null unless <see cref="Kind"/> is <see cref="EncoderKind.Dense"/>.
    /// </summary>
    public float[]? DenseValues => _dense;

    /// <summary>The sparse vectors, one per text; null unless <see cref="Kind"/> is <see cref="EncoderKind.Sparse"/>.</summary>
    public IReadOnlyList<SparseVector>? Sparse => _sparse;

    /// <summary>The BM25 terms per text; null unless <see cref="Kind"/> is <see cref="EncoderKind.Bm25"/>.</summary>
    public IReadOnlyList<IReadOnlyList<TermCount>>? Terms => _terms;

    /// <summary>An empty batch of the given kind.</summary>
    public static EncodedBatch Empty(EncoderKind kind, int dimensions = 0) => kind switch
    {
        EncoderKind.Dense => new EncodedBatch(kind, 0, dimensions, [], null, null),
        EncoderKind.Sparse => new EncodedBatch(kind, 0, 0, null, [], null),
        _ => new EncodedBatch(kind, 0, 0, null, null, []),
    };

    /// <summary>A dense batch over <paramref name="values"/> (taken, not copied).</summary>
    /// <exception cref="ArgumentException">The array length is not <paramref name="count"/> x <paramref name="dimensions"/>.</exception>
    public static EncodedBatch FromDense(float[] values, int count, int dimensions)
    {
        ArgumentNullException.ThrowIfNull(values);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfNegative(dimensions);
        if ((long)count * dimensions != values.Length)
            throw new ArgumentException($"A dense batch of {count} x {dimensions} needs {(long)count * dimensions} values, got {values.Length}.", nameof(values));
        return new EncodedBatch(EncoderKind.Dense, count, dimensions, values, null, null);
    }

    /// <summary>A sparse batch (the array is taken, not copied).</summary>
    public static EncodedBatch FromSparse(SparseVector[] vectors)
    {
        ArgumentNullException.ThrowIfNull(vectors);
        return new EncodedBatch(EncoderKind.Sparse, vectors.Length, 0, null, vectors, null);
    }

    /// <summary>A BM25 batch (the array is taken, not copied).</summary>
    public static EncodedBatch FromTerms(IReadOnlyList<TermCount>[] terms)
    {
        ArgumentNullException.ThrowIfNull(terms);
        return new EncodedBatch(EncoderKind.Bm25, terms.Length, 0, null, null, terms);
    }

    /// <summary>The dense vector of text <paramref name="index"/> (a view into <see cref="DenseValues"/>).</summary>
    /// <exception cref="InvalidOperationException">The batch is not dense.</exception>
    public ReadOnlySpan<float> DenseRow(int index)
    {
        if (_dense is null) throw new InvalidOperationException($"This is a {Kind} batch, not a dense one.");
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
        return _dense.AsSpan(index * Dimensions, Dimensions);
    }

    /// <summary>The encoding of text <paramref name="index"/> on its own (a dense row is copied).</summary>
    public EncodedText this[int index]
    {
        get
        {
            ArgumentOutOfRangeException.ThrowIfNegative(index);
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
            return Kind switch
            {
                EncoderKind.Dense => EncodedText.FromDense(DenseRow(index).ToArray()),
                EncoderKind.Sparse => EncodedText.FromSparse(_sparse![index]),
                _ => EncodedText.FromTerms(_terms![index]),
            };
        }
    }
}
