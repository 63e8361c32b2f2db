namespace Shoal.Engine.Text;

/// <summary>
/// An analysed bag-of-words query: distinct terms with weights (the term's count in the query,
/// as Anserini's bag-of-words queries boost repeated terms).
/// </summary>
public sealed record TextQuery(IReadOnlyList<string> Terms, IReadOnlyList<float> Weights)
{
    /// <summary>Builds a query from analysed query tokens, merging repeats into weights (first-seen order).</summary>
    public static TextQuery FromTokens(IEnumerable<string> tokens)
    {
        var order = new List<string>();
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var t in tokens)
        {
            if (counts.TryGetValue(t, out int c)) counts[t] = c + 1;
            else { counts[t] = 1; order.Add(t); }
        }
        return new TextQuery(order, order.Select(t => (float)counts[t]).ToArray());
    }

    /// <summary>True when no term survived analysis (for example a query of stopwords only).</summary>
    public bool IsEmpty => Terms.Count == 0;
}
