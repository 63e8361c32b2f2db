using Shoal.Engine.Sparse;

namespace Shoal.Encoders;

/// <summary>
/// The encoding of one text: exactly one of <see cref="Dense"/>, <see cref="Sparse"/> or
/// <see cref="Terms"/> is meaningful, chosen by <see cref="Kind"/>.
/// </summary>
public sealed class EncodedText
{
    private EncodedText(EncoderKind kind, float[]? dense, SparseVector sparse, IReadOnlyList<TermCount>? terms)
    {
        Kind = kind;
        Dense = dense;
        Sparse = sparse;
        Terms = terms;
    }

    /// <summary>Which representation this is.</summary>
    public EncoderKind Kind { get; }

    /// <summary>The dense vector (<see cref="EncoderKind.Dense"/>); null otherwise. Owned by this instance.</summary>
    public float[]? Dense { get; }

    /// <summary>
    /// The sparse vector (<see cref="EncoderKind.Sparse"/>): term ids ascending, weights &gt; 0;
    /// <see cref="SparseVector.Empty"/> for other kinds.
    /// </summary>
    public SparseVector Sparse { get; }

    /// <summary>BM25 terms with counts, in order of first occurrence (<see cref="EncoderKind.Bm25"/>); null otherwise.</summary>
    public IReadOnlyList<TermCount>? Terms { get; }

    /// <summary>A dense encoding (the array is taken, not copied).</summary>
    public static EncodedText FromDense(float[] vector)
    {
        ArgumentNullException.ThrowIfNull(vector);
        return new EncodedText(EncoderKind.Dense, vector, SparseVector.Empty, null);
    }

    /// <summary>A sparse encoding.</summary>
    public static EncodedText FromSparse(SparseVector vector) =>
        new(EncoderKind.Sparse, null, vector.Terms is null ? SparseVector.Empty : vector, null);

    /// <summary>A BM25 term encoding.</summary>
    public static EncodedText FromTerms(IReadOnlyList<TermCount> terms)
    {
        ArgumentNullException.ThrowIfNull(terms);
        return new EncodedText(EncoderKind.Bm25, null, SparseVector.Empty, terms);
    }
}
