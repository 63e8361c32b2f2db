using Shoal.Engine.Analysis;
using Shoal.Engine.Ingest;

namespace Shoal.Engine.Tests.Text;

/// <summary>A seeded corpus with Zipf-like term popularity and varied lengths, plus a whitespace analyzer.</summary>
internal static class SyntheticCorpus
{
    public static List<SourceDocument> Documents(int count, int vocabulary, int seed)
    {
        var rng = new Random(seed);
        var docs = new List<SourceDocument>(count);
        for (int i = 0; i < count; i++)
        {
            int length = 3 + (int)Math.Exp(rng.NextDouble() * 4.5); // 4..93 words, skewed short
            var words = new string[length];
            for (int w = 0; w < length; w++) words[w] = Word(rng, vocabulary);
            docs.Add(new SourceDocument($"d{rng.Next():x8}-{i}", i % 3 == 0 ? null : Word(rng, vocabulary), string.Join(' ', words)));
        }
        return docs;
    }

    public static List<string> Query(Random rng, int vocabulary, int terms)
    {
        var q = new List<string>();
        for (int i = 0; i < terms; i++) q.Add(Word(rng, vocabulary));
        return q;
    }

    // Zipf(1) over the vocabulary by inverse transform on a harmonic approximation.
    private static string Word(Random rng, int vocabulary)
    {
        int rank = (int)Math.Floor(Math.Pow(vocabulary + 1, rng.NextDouble())) - 1;
        return "w" + Math.Clamp(rank, 0, vocabulary - 1);
    }
}

/// <summary>Splits on spaces; no normalisation. Keeps engine tests independent of the English analyzer.</summary>
internal sealed class WhitespaceAnalyzer : ITextAnalyzer
{
    public static WhitespaceAnalyzer Instance { get; } = new();

    public string Name => "whitespace";

    public void Analyze(ReadOnlySpan<char> text, List<string> terms)
    {
        foreach (var range in text.Split(' '))
        {
            var token = text[range];
            if (!token.IsEmpty) terms.Add(token.ToString());
        }
    }
}
