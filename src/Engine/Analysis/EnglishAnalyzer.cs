using System.Buffers;
using System.Text;

namespace Shoal.Engine.Analysis;

/// <summary>
/// The English analysis chain of Lucene's <c>EnglishAnalyzer</c> and Anserini's default analyzer, so
/// that BM25 scores match theirs:
/// <see cref="StandardTokenizer"/> (UAX#29 words, max 255 chars) →
/// English possessive removal (a trailing <c>'s</c>, <c>’s</c> or <c>＇s</c>, either case of s) →
/// lowercasing (per code point, locale-independent) →
/// stop word removal (<see cref="EnglishStopwords"/>, optional) →
/// <see cref="PorterStemmer"/> (optional).
/// </summary>
/// <remarks>
/// Instances are immutable and thread-safe; <see cref="Analyze(ReadOnlySpan{char}, List{string})"/>
/// allocates only the emitted term strings.
/// </remarks>
public sealed class EnglishAnalyzer : ITextAnalyzer
{
    /// <summary>The default chain: stop words removed and Porter stemming on (name <c>"english"</c>).</summary>
    public static EnglishAnalyzer Instance { get; } = new();

    /// <summary>Creates an English analyzer.</summary>
    /// <param name="stem">Apply the Porter stemmer (Lucene's <c>PorterStemFilter</c>).</param>
    /// <param name="removeStopwords">Drop Lucene's 33 English stop words.</param>
    public EnglishAnalyzer(bool stem = true, bool removeStopwords = true)
    {
        Stem = stem;
        RemoveStopwords = removeStopwords;
        Name = (stem, removeStopwords) switch
        {
            (true, true) => "english",
            (false, true) => "english-nostem",
            (true, false) => "english-nostop",
            (false, false) => "english-nostem-nostop",
        };
    }

    /// <summary>
    /// <c>"english"</c> for the default chain; <c>"english-nostem"</c>, <c>"english-nostop"</c> or
    /// <c>"english-nostem-nostop"</c> when stemming and/or stop word removal are turned off.
    /// </summary>
    public string Name { get; }

    /// <summary>Whether terms are Porter-stemmed.</summary>
    public bool Stem { get; }

    /// <summary>Whether stop words are removed.</summary>
    public bool RemoveStopwords { get; }

    /// <summary>Analyzes <paramref name="text"/> and returns its terms in order.</summary>
    public List<string> Analyze(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var terms = new List<string>();
        Analyze(text.AsSpan(), terms);
        return terms;
    }

    /// <inheritdoc />
    public void Analyze(ReadOnlySpan<char> text, List<string> terms)
    {
        ArgumentNullException.ThrowIfNull(terms);
        Span<char> buffer = stackalloc char[StandardTokenizer.MaxTokenLength];
        var tokenizer = new StandardTokenizer(text);
        while (tokenizer.MoveNext())
        {
            ReadOnlySpan<char> token = tokenizer.Current;
            int length = RemovePossessive(token);
            if (length == 0) continue;

            LowerCase(token[..length], buffer);
            if (RemoveStopwords && EnglishStopwords.Contains(buffer[..length])) continue;
            if (Stem) length = PorterStemmer.Stem(buffer, length);
            terms.Add(new string(buffer[..length]));
        }
    }

    /// <summary>Lucene's <c>EnglishPossessiveFilter</c>: the token's length without a trailing 's.</summary>
    private static int RemovePossessive(ReadOnlySpan<char> token)
    {
        int length = token.Length;
        if (length >= 2)
        {
            char last = token[length - 1];
            char quote = token[length - 2];
            if (last is 's' or 'S' && quote is '\'' or '\u2019' or '\uFF07') return length - 2;
        }
        return length;
    }

    /// <summary>
    /// Lucene's <c>LowerCaseFilter</c>: Java's <c>Character.toLowerCase</c> per code point, written into
    /// <paramref name="destination"/> (same length as <paramref name="source"/>).
    /// </summary>
    private static void LowerCase(ReadOnlySpan<char> source, Span<char> destination)
    {
        if (Ascii.ToLower(source, destination, out int done) == OperationStatus.Done) return;

        for (int i = done; i < source.Length; i++)
        {
            char c = source[i];
            if (c < 0x80)
            {
                destination[i] = c is >= 'A' and <= 'Z' ? (char)(c | 0x20) : c;
            }
            else if (char.IsHighSurrogate(c) && i + 1 < source.Length && char.IsLowSurrogate(source[i + 1]))
            {
                var lower = Rune.ToLowerInvariant(new Rune(c, source[i + 1]));
                if (lower.Utf16SequenceLength == 2)
                {
                    lower.EncodeToUtf16(destination[i..]);
                }
                else
                {
                    destination[i] = c;
                    destination[i + 1] = source[i + 1];
                }
                i++;
            }
            else
            {
                // .NET's invariant casing leaves U+0130 alone; Java maps it to 'i'.
                destination[i] = c == '\u0130' ? 'i' : char.ToLowerInvariant(c);
            }
        }
    }
}
