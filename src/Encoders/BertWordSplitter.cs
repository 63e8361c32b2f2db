using System.Globalization;
using System.Text;
using MlPreTokenizer = Microsoft.ML.Tokenizers.PreTokenizer;

namespace Shoal.Encoders;

/// <summary>
/// The pre-tokenisation of Hugging Face <c>tokenizers</c>' <c>BertPreTokenizer</c>, plugged into
/// Microsoft.ML.Tokenizers' WordPiece pipeline: split on White_Space code points (removed), and
/// isolate every punctuation code point as a word of its own. Punctuation is ASCII
/// <c>!"#$%&amp;'()*+,-./:;&lt;=&gt;?@[\]^_`{|}~</c> (so <c>$</c>, <c>+</c>, <c>^</c> and <c>_</c>
/// count, as in BERT) or any Unicode P* category. Everything else, including symbols such as emoji,
/// stays inside its word.
/// </summary>
/// <remarks>
/// Microsoft.ML.Tokenizers' default BERT pre-tokenizer (<c>\w+|[\p{P}]</c>) silently drops symbols
/// such as <c>$</c>, <c>+</c>, <c>=</c> and emoji and keeps <c>_</c> inside words, which changes
/// the ids; hence this class. Stateless and thread-safe.
/// </remarks>
internal sealed class BertWordSplitter : MlPreTokenizer
{
    public static BertWordSplitter Instance { get; } = new();

    public override IEnumerable<(int Offset, int Length)> PreTokenize(string text) => Split(text.AsSpan());

    public override IEnumerable<(int Offset, int Length)> PreTokenize(ReadOnlySpan<char> text) => Split(text);

    /// <summary>Word boundaries as (offset, length) in UTF-16 units of <paramref name="text"/>.</summary>
    internal static List<(int Offset, int Length)> Split(ReadOnlySpan<char> text)
    {
        var words = new List<(int Offset, int Length)>();
        int start = -1;
        int i = 0;
        while (i < text.Length)
        {
            Rune.DecodeFromUtf16(text[i..], out Rune rune, out int width);
            if (Rune.IsWhiteSpace(rune))
            {
                if (start >= 0) { words.Add((start, i - start)); start = -1; }
            }
            else if (IsPunctuation(rune))
            {
                if (start >= 0) { words.Add((start, i - start)); start = -1; }
                words.Add((i, width));
            }
            else if (start < 0)
            {
                start = i;
            }
            i += width;
        }
        if (start >= 0) words.Add((start, text.Length - start));
        return words;
    }

    /// <summary>ASCII punctuation (33–47, 58–64, 91–96, 123–126) or a Unicode punctuation category.</summary>
    internal static bool IsPunctuation(Rune rune)
    {
        int cp = rune.Value;
        if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126)) return true;
        return Rune.GetUnicodeCategory(rune) is UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation
            or UnicodeCategory.OpenPunctuation or UnicodeCategory.ClosePunctuation or UnicodeCategory.InitialQuotePunctuation
            or UnicodeCategory.FinalQuotePunctuation or UnicodeCategory.OtherPunctuation;
    }
}
