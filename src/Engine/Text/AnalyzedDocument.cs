namespace Shoal.Engine.Text;

/// <summary>
/// A document after analysis: distinct term ids (into a <see cref="TermDictionary"/>) with
/// their frequencies, its analysed length, and the stored fields kept for display.
/// </summary>
public sealed class AnalyzedDocument
{
    /// <summary>Creates an analysed document.</summary>
    public AnalyzedDocument(string id, string? title, string text, int[] termIds, int[] frequencies, int length)
    {
        Id = id;
        Title = title;
        Text = text;
        TermIds = termIds;
        Frequencies = frequencies;
        Length = length;
    }

    /// <summary>External id.</summary>
    public string Id { get; }

    /// <summary>Stored title, if any.</summary>
    public string? Title { get; }

    /// <summary>Stored text.</summary>
    public string Text { get; }

    /// <summary>Distinct term ids, parallel to <see cref="Frequencies"/>.</summary>
    public int[] TermIds { get; }

    /// <summary>Frequency of each term in <see cref="TermIds"/>.</summary>
    public int[] Frequencies { get; }

    /// <summary>Number of analysed tokens (the BM25 document length).</summary>
    public int Length { get; }
}
