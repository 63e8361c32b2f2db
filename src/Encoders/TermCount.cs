namespace Shoal.Encoders;

/// <summary>An analysed BM25 query term and how often it occurs in the text.</summary>
/// <param name="Term">The term as the index stores it (analysed: lowercased, stemmed, ...).</param>
/// <param name="Count">Occurrences in the text (at least 1).</param>
public readonly record struct TermCount(string Term, int Count);
