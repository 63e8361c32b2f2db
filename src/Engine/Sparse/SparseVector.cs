using System.Globalization;

namespace Shoal.Engine.Sparse;

/// <summary>
/// A sparse vector over a term vocabulary: parallel arrays of term ids and weights.
/// </summary>
/// <remarks>
/// Invariants (established by <see cref="Create"/>, checked by <see cref="Validate"/>): the arrays have
/// the same length, term ids are non-negative and strictly ascending, and every weight is finite and
/// greater than zero. The positional constructor does not check them; consumers that accept vectors
/// from outside (segment writer, search) call <see cref="Validate"/>. <c>default(SparseVector)</c> is
/// the empty vector.
/// </remarks>
/// <param name="Terms">Term ids, strictly ascending.</param>
/// <param name="Weights">Weights, finite and &gt; 0, one per term.</param>
public readonly record struct SparseVector(int[] Terms, float[] Weights)
{
    /// <summary>The empty vector.</summary>
    public static SparseVector Empty { get; } = new([], []);

    /// <summary>Number of non-zero entries.</summary>
    public int Count => Terms?.Length ?? 0;

    /// <summary>
    /// Builds a vector from (term, weight) pairs in any order: the pairs are sorted by term id.
    /// </summary>
    /// <exception cref="SparseVectorException">A term id is negative or repeated, or a weight is not
    /// finite and &gt; 0; the message names the term.</exception>
    public static SparseVector Create(IEnumerable<(int Term, float Weight)> pairs)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        var list = pairs.ToList();
        var terms = new int[list.Count];
        var weights = new float[list.Count];
        for (int i = 0; i < list.Count; i++)
        {
            terms[i] = list[i].Term;
            weights[i] = list[i].Weight;
        }
        Array.Sort(terms, weights);
        var v = new SparseVector(terms, weights);
        v.Validate();
        return v;
    }

    /// <summary>
    /// Checks the invariants and throws <see cref="SparseVectorException"/> naming the first offending
    /// term when one does not hold.
    /// </summary>
    public void Validate()
    {
        var terms = Terms ?? [];
        var weights = Weights ?? [];
        if (terms.Length != weights.Length)
            throw new SparseVectorException($"Sparse vector has {terms.Length} term ids but {weights.Length} weights.");
        for (int i = 0; i < terms.Length; i++)
        {
            int t = terms[i];
            if (t < 0) throw new SparseVectorException($"Term id {t} is negative.");
            if (i > 0 && t <= terms[i - 1])
            {
                throw new SparseVectorException(t == terms[i - 1]
                    ? $"Term id {t} occurs more than once."
                    : $"Term ids are not ascending ({terms[i - 1]} before {t}).");
            }
            float w = weights[i];
            if (!float.IsFinite(w) || w <= 0)
                throw new SparseVectorException($"Term id {t} has weight {w.ToString(CultureInfo.InvariantCulture)}; weights must be finite and > 0.");
        }
    }

    /// <summary>
    /// Dot product with <paramref name="other"/>: the products of matching terms, each computed in double,
    /// summed in ascending term-id order.
    /// </summary>
    public double Dot(SparseVector other)
    {
        var at = Terms ?? [];
        var aw = Weights ?? [];
        var bt = other.Terms ?? [];
        var bw = other.Weights ?? [];
        double sum = 0;
        int i = 0, j = 0;
        while (i < at.Length && j < bt.Length)
        {
            int a = at[i], b = bt[j];
            if (a == b) { sum += (double)aw[i] * bw[j]; i++; j++; }
            else if (a < b) i++;
            else j++;
        }
        return sum;
    }

    /// <summary>The largest weight, or 0 for the empty vector.</summary>
    public float MaxWeight()
    {
        float max = 0;
        foreach (float w in Weights ?? []) max = Math.Max(max, w);
        return max;
    }

    /// <summary>Value equality over the contents of the arrays (not their references).</summary>
    public bool Equals(SparseVector other) =>
        (Terms ?? []).AsSpan().SequenceEqual(other.Terms ?? []) && (Weights ?? []).AsSpan().SequenceEqual(other.Weights ?? []);

    /// <inheritdoc />
    public override int GetHashCode()
    {
        var h = new HashCode();
        foreach (int t in Terms ?? []) h.Add(t);
        foreach (float w in Weights ?? []) h.Add(w);
        return h.ToHashCode();
    }
}
