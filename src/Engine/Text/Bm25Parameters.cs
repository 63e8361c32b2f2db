namespace Shoal.Engine.Text;

/// <summary>
/// BM25 parameters of a text channel. Defaults are Anserini's BEIR settings (k1 = 0.9, b = 0.4)
/// with Lucene's one-byte document-length encoding, which is what published BM25 baselines use.
/// </summary>
/// <param name="K1">Term-frequency saturation; must be finite and non-negative.</param>
/// <param name="B">Length normalisation in [0, 1].</param>
/// <param name="LuceneLengthNorm">
/// When true, document lengths are rounded through Lucene's SmallFloat byte encoding before
/// scoring (as Lucene/Anserini do); when false the exact length is used.
/// </param>
public sealed record Bm25Parameters(double K1 = Bm25Parameters.DefaultK1, double B = Bm25Parameters.DefaultB, bool LuceneLengthNorm = true)
{
    /// <summary>The default k1.</summary>
    public const double DefaultK1 = 0.9;

    /// <summary>The default b.</summary>
    public const double DefaultB = 0.4;

    /// <summary>Anserini's defaults for BEIR.</summary>
    public static Bm25Parameters Default { get; } = new();

    /// <summary>Throws <see cref="ArgumentException"/> with a clear message when out of range.</summary>
    public void Validate()
    {
        if (!double.IsFinite(K1) || K1 < 0) throw new ArgumentException($"BM25 k1 must be a finite number >= 0 (got {K1}).");
        if (!double.IsFinite(B) || B < 0 || B > 1) throw new ArgumentException($"BM25 b must be between 0 and 1 (got {B}).");
    }

    /// <summary>Robertson-Sparck Jones idf as Lucene computes it: ln(1 + (N - df + 0.5) / (df + 0.5)).</summary>
    public static double Idf(long docFreq, long docCount) =>
        Math.Log(1.0 + (docCount - docFreq + 0.5) / (docFreq + 0.5));

    /// <summary>The score contribution of one posting (without the query-term weight).</summary>
    public double Impact(double idf, int termFrequency, int docLength, double avgDocLength)
    {
        double length = LuceneLengthNorm ? LuceneLengthEncoding.Decode(LuceneLengthEncoding.Encode(docLength)) : docLength;
        double norm = K1 * (1 - B + B * length / avgDocLength);
        return idf * termFrequency / (termFrequency + norm);
    }
}
