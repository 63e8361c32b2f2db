namespace Shoal.Engine.Analysis;

/// <summary>
/// Turns text into the sequence of index terms used for both documents and queries (BM25 bag of words).
/// </summary>
/// <remarks>
/// Implementations must be stateless or otherwise thread-safe: one instance is shared and called
/// concurrently from many indexing and query threads.
/// </remarks>
public interface ITextAnalyzer
{
    /// <summary>
    /// A short, stable identifier of the analysis chain and its options (recorded with an index so that
    /// queries are analyzed the same way the documents were).
    /// </summary>
    string Name { get; }

    /// <summary>
    /// Analyzes <paramref name="text"/> and appends its terms, in text order, to <paramref name="terms"/>
    /// (existing entries are kept). Duplicates are appended as often as they occur.
    /// </summary>
    void Analyze(ReadOnlySpan<char> text, List<string> terms);
}
