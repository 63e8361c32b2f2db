using System.Globalization;
using Shoal.Engine.Snapshots;

namespace Shoal.Engine.Updates;

/// <summary>The rules an operation must meet before it enters the update log.</summary>
public static class UpdateValidation
{
    /// <summary>Longest document id, in characters.</summary>
    public const int MaxIdLength = 512;

    /// <summary>Longest document title, in characters.</summary>
    public const int MaxTitleLength = 16_384;

    /// <summary>Longest document text, in characters (about 500 pages; a longer source belongs in passages).</summary>
    public const int MaxTextLength = 1_000_000;

    /// <summary>Null when the title and text are within <see cref="MaxTitleLength"/> and <see cref="MaxTextLength"/>; otherwise what is wrong, naming the document and the field.</summary>
    public static string? CheckLengths(string id, string? title, string? text) =>
        title is { Length: > MaxTitleLength }
            ? $"Document '{id}': 'title' has {title.Length:N0} characters; at most {MaxTitleLength:N0} are allowed."
            : text is { Length: > MaxTextLength }
                ? $"Document '{id}': 'text' has {text.Length:N0} characters; at most {MaxTextLength:N0} are allowed (split it into passages)."
                : null;

    /// <summary>
    /// Null when <paramref name="update"/> may be applied to an index of <paramref name="schema"/>;
    /// otherwise what is wrong, naming the document. An upsert carries every channel the schema has
    /// (text for bm25, a sparse vector, a dense vector of the right dimensions) and no vector the
    /// schema lacks; a delete carries only its id.
    /// </summary>
    public static string? Check(DocumentUpdate update, IndexSchema schema)
    {
        ArgumentNullException.ThrowIfNull(update);
        ArgumentNullException.ThrowIfNull(schema);
        string id = update.Id;
        if (string.IsNullOrEmpty(id)) return "A document id is empty.";
        if (id.Length > MaxIdLength) return $"Document id '{id[..40]}…' has {id.Length} characters; at most {MaxIdLength} are allowed.";
        if (id.Any(char.IsControl)) return $"Document id '{id.Replace("\n", "\\n", StringComparison.Ordinal)}' contains control characters.";
        if (update.Delete)
        {
            return update.Title is null && update.Text is null && update.SparseTerms is null && update.SparseWeights is null && update.Dense is null
                ? null
                : $"Delete of document '{id}' carries fields; a delete takes only the id.";
        }

        if (CheckLengths(id, update.Title, update.Text) is { } tooLong) return tooLong;
        if (schema.Text is not null && update.Text is null) return $"Document '{id}' has no text; index channel bm25 needs it.";

        if (schema.Sparse is { } sparse)
        {
            if (update.SparseTerms is not { } terms || update.SparseWeights is not { } weights) return $"Document '{id}' has no sparse vector; the index has a sparse channel.";
            if (terms.Length != weights.Length) return $"Document '{id}': sparse terms ({terms.Length}) and weights ({weights.Length}) differ in length.";
            var seen = new HashSet<int>();
            for (int i = 0; i < terms.Length; i++)
            {
                if (terms[i] < 0 || terms[i] >= sparse.VocabularySize)
                    return $"Document '{id}': sparse term id {terms[i]} is outside the vocabulary (0..{sparse.VocabularySize - 1}).";
                if (!seen.Add(terms[i])) return $"Document '{id}': sparse term id {terms[i]} appears twice.";
                if (!float.IsFinite(weights[i]) || weights[i] < 0)
                    return $"Document '{id}': sparse weight {weights[i].ToString(CultureInfo.InvariantCulture)} of term {terms[i]} is not a finite non-negative number.";
            }
        }
        else if (update.SparseTerms is not null || update.SparseWeights is not null)
        {
            return $"Document '{id}' has a sparse vector but the index has no sparse channel.";
        }

        if (schema.Dense is { } dense)
        {
            if (update.Dense is not { } v) return $"Document '{id}' has no dense vector; the index has a dense channel of {dense.Dims} dimensions.";
            if (v.Length != dense.Dims) return $"Document '{id}': the dense vector has {v.Length} dimensions; the index has {dense.Dims}.";
            double norm = 0;
            for (int i = 0; i < v.Length; i++)
            {
                if (!float.IsFinite(v[i])) return $"Document '{id}': dense component {i} is NaN or infinite.";
                norm += (double)v[i] * v[i];
            }
            if (dense.Metric == "cosine" && norm == 0) return $"Document '{id}': the dense vector is all zeros, which has no cosine.";
        }
        else if (update.Dense is not null)
        {
            return $"Document '{id}' has a dense vector but the index has no dense channel.";
        }
        return null;
    }
}
