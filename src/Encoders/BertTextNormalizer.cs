using System.Buffers;
using System.Globalization;
using System.Text;
using MlNormalizer = Microsoft.ML.Tokenizers.Normalizer;

namespace Shoal.Encoders;

/// <summary>
/// The normalisation of Hugging Face <c>tokenizers</c>' <c>BertNormalizer</c>, plugged into
/// Microsoft.ML.Tokenizers' WordPiece pipeline, in this order:
/// <list type="number">
/// <item><b>clean text</b>: drop U+0000, U+FFFD and every code point of a Unicode "Other" category
/// (Cc, Cf, Cn, Co, Cs) except tab, LF and CR; map tab, LF, CR and every other White_Space code
/// point to a space;</item>
/// <item><b>CJK</b>: put a space before and after every CJK ideograph (Hugging Face's ranges
/// U+4E00–9FFF, 3400–4DBF, 20000–2A6DF, 2A700–2B73F, 2B740–2B81F, 2B920–2CEAF, F900–FAFF,
/// 2F800–2FA1F; the original BERT code starts the fifth range at 2B820);</item>
/// <item><b>strip accents</b>: NFD, then drop non-spacing marks (Mn) — and nothing else: the text is
/// not recomposed (Hangul stays as conjoining jamo, as in the reference);</item>
/// <item><b>lowercase</b>: per code point (U+0130 becomes "i" + U+0307, the full mapping).</item>
/// </list>
/// </summary>
/// <remarks>
/// Microsoft.ML.Tokenizers' own <c>BertNormalizer</c> differs from the reference on inputs that
/// matter for retrieval (it deletes tab/LF/CR instead of mapping them to spaces, so
/// "a\nb" becomes one word; it also drops Mc marks and recomposes to NFC), hence this class.
/// Stateless and thread-safe.
/// </remarks>
internal sealed class BertTextNormalizer : MlNormalizer
{
    public BertTextNormalizer(bool cleanText, bool handleChineseChars, bool stripAccents, bool lowerCase)
    {
        CleanText = cleanText;
        HandleChineseChars = handleChineseChars;
        StripAccents = stripAccents;
        LowerCase = lowerCase;
    }

    public bool CleanText { get; }

    public bool HandleChineseChars { get; }

    public bool StripAccents { get; }

    public bool LowerCase { get; }

    public override string Normalize(string original) => Normalize(original.AsSpan());

    public override string Normalize(ReadOnlySpan<char> original)
    {
        if (original.IsEmpty) return string.Empty;
        if (!Ascii.IsValid(original)) return NormalizeUnicode(original);

        // ASCII (most English queries): one pass, the same result as the general path — controls
        // dropped, tab/LF/CR to spaces, A-Z lowercased; no accents or CJK can occur.
        return NormalizeAscii(original);
    }

    private string NormalizeAscii(ReadOnlySpan<char> original)
    {
        char[]? rented = original.Length > 512 ? ArrayPool<char>.Shared.Rent(original.Length) : null;
        Span<char> buffer = rented is null ? stackalloc char[512] : rented;
        int n = 0;
        foreach (char c in original)
        {
            char o = c;
            if (CleanText)
            {
                if (c is '\t' or '\n' or '\r') o = ' ';
                else if (c < ' ' || c == '\u007F') continue;
            }
            if (LowerCase && c is >= 'A' and <= 'Z') o = (char)(c + 32);
            buffer[n++] = o;
        }
        string result = new(buffer[..n]);
        if (rented is not null) ArrayPool<char>.Shared.Return(rented);
        return result;
    }

    private string NormalizeUnicode(ReadOnlySpan<char> original)
    {
        var sb = new StringBuilder(original.Length + 16);
        foreach (Rune rune in original.EnumerateRunes())
        {
            // Invalid UTF-16 (a lone surrogate) enumerates as U+FFFD: the reference cannot hold it
            // at all (Rust strings), and NFD below would throw on it.
            if (rune == Rune.ReplacementChar) continue;
            int cp = rune.Value;
            if (CleanText)
            {
                if (cp == 0) continue;
                if (cp is '\t' or '\n' or '\r') { sb.Append(' '); continue; }
                if (IsOther(Rune.GetUnicodeCategory(rune))) continue;
                if (Rune.IsWhiteSpace(rune)) { sb.Append(' '); continue; }
            }
            if (HandleChineseChars && IsCjkIdeograph(cp))
            {
                sb.Append(' ');
                AppendRune(sb, rune);
                sb.Append(' ');
                continue;
            }
            AppendRune(sb, rune);
        }

        string text = sb.ToString();
        if (StripAccents && text.Length > 0)
        {
            string decomposed = text.Normalize(NormalizationForm.FormD);
            sb.Clear();
            foreach (Rune rune in decomposed.EnumerateRunes())
            {
                if (Rune.GetUnicodeCategory(rune) != UnicodeCategory.NonSpacingMark) AppendRune(sb, rune);
            }
            text = sb.ToString();
        }

        if (LowerCase && text.Length > 0)
        {
            sb.Clear();
            foreach (Rune rune in text.EnumerateRunes())
            {
                if (rune.Value == 0x130) sb.Append("i\u0307"); // the one unconditional multi-code-point lowercase mapping
                else AppendRune(sb, Rune.ToLowerInvariant(rune));
            }
            text = sb.ToString();
        }
        return text;
    }

    /// <summary>Unicode "Other": control, format, unassigned, private use, surrogate.</summary>
    internal static bool IsOther(UnicodeCategory category) => category is UnicodeCategory.Control
        or UnicodeCategory.Format or UnicodeCategory.OtherNotAssigned or UnicodeCategory.PrivateUse or UnicodeCategory.Surrogate;

    /// <summary>The CJK ideograph ranges of Hugging Face's BertNormalizer.</summary>
    internal static bool IsCjkIdeograph(int cp) =>
        (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF)
        || (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B920 && cp <= 0x2CEAF)
        || (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);

    private static void AppendRune(StringBuilder sb, Rune rune)
    {
        if (rune.IsBmp) sb.Append((char)rune.Value);
        else
        {
            Span<char> pair = stackalloc char[2];
            int n = rune.EncodeToUtf16(pair);
            sb.Append(pair[..n]);
        }
    }
}
