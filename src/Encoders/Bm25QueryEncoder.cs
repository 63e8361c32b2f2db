using Shoal.Engine.Analysis;

namespace Shoal.Encoders;

/// <summary>
/// BM25 query "encoding": the engine's text analysis (by default <see cref="EnglishAnalyzer"/>:
/// Lucene-compatible tokenisation, possessives, lowercasing, stop words, Porter stemming), with
/// repeated terms merged into counts. No model.
/// </summary>
/// <remarks>
/// Terms are listed in the order of their first occurrence; <see cref="TermCount.Count"/> is the
/// number of occurrences (BM25 query-term frequency). A text with no indexable term gives an
/// empty list. Immutable and thread-safe; encoding is done inline.
/// </remarks>
public sealed class Bm25QueryEncoder : ITextEncoder
{
    /// <summary>Creates the encoder over <paramref name="analyzer"/> (default: <see cref="EnglishAnalyzer.Instance"/>).</summary>
    public Bm25QueryEncoder(ITextAnalyzer? analyzer = null)
    {
        Analyzer = analyzer ?? EnglishAnalyzer.Instance;
        Name = "bm25:" + Analyzer.Name;
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <inheritdoc />
    public EncoderKind Kind => EncoderKind.Bm25;

    /// <summary>The analysis chain (must be the one the index was built with).</summary>
    public ITextAnalyzer Analyzer { get; }

    /// <summary>Analyses one text into terms with counts.</summary>
    public IReadOnlyList<TermCount> Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var terms = new List<string>();
        Analyzer.Analyze(text.AsSpan(), terms);
        var order = new List<string>();
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var t in terms)
        {
            if (counts.TryGetValue(t, out int c)) counts[t] = c + 1;
            else { counts[t] = 1; order.Add(t); }
        }
        var result = new TermCount[order.Count];
        for (int i = 0; i < result.Length; i++) result[i] = new TermCount(order[i], counts[order[i]]);
        return result;
    }

    /// <summary>Analyses each text.</summary>
    public EncodedBatch Encode(IReadOnlyList<string> texts)
    {
        ArgumentNullException.ThrowIfNull(texts);
        var result = new IReadOnlyList<TermCount>[texts.Count];
        for (int i = 0; i < result.Length; i++) result[i] = Encode(texts[i] ?? throw new ArgumentNullException(nameof(texts), $"Text {i} is null."));
        return EncodedBatch.FromTerms(result);
    }

    /// <inheritdoc />
    public Task<EncodedBatch> EncodeAsync(IReadOnlyList<string> texts, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(texts);
        if (ct.IsCancellationRequested) return Task.FromCanceled<EncodedBatch>(ct);
        return Task.FromResult(Encode(texts));
    }
}
