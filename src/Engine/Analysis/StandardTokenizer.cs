using System.Globalization;
using System.Runtime.CompilerServices;

namespace Shoal.Engine.Analysis;

/// <summary>
/// An allocation-free re-implementation of Lucene's <c>StandardTokenizer</c> (the JFlex grammar of
/// Lucene 8/9): word boundaries from Unicode UAX#29, tokens of at most <see cref="MaxTokenLength"/>
/// chars. Enumerate it with <c>foreach</c> (each item is the token's text as a span of the input) or
/// with <see cref="MoveNext"/> plus <see cref="TokenStart"/>/<see cref="TokenLength"/>.
/// </summary>
/// <remarks>
/// <para>What becomes a token:</para>
/// <list type="bullet">
/// <item>Words and numbers: runs of letters (UAX#29 ALetter / Hebrew_Letter — letters, letter numbers,
/// circled letters), decimal digits (Numeric) and ExtendNumLet chars (<c>_</c> and other connector
/// punctuation). Letters and digits join directly (<c>p53</c>); a single MidLetter (<c>: · ‧</c>…),
/// MidNumLet (<c>. ’ ‘ ․</c>…) or <c>'</c> between two letters joins them (<c>don't</c>, <c>u.s.a</c>);
/// a single MidNum (<c>, ;</c>…), MidNumLet or <c>'</c> between two digits joins them (<c>3.14</c>,
/// <c>1,000</c>). Katakana runs join with each other but not with letters or digits. Any other char
/// — whitespace, hyphens, slashes, brackets, most punctuation and symbols — ends the token and is
/// dropped.</item>
/// <item>Each Han ideograph and each Hiragana char is a token of its own.</item>
/// <item>Runs of South-East-Asian script chars (Thai, Lao, Myanmar, Khmer, …) are one token.</item>
/// <item>Emoji (Extended_Pictographic chars, including © ® ™, with their modifiers, presentation
/// selectors and ZWJ sequences, keycaps and flag pairs) are tokens, as in Lucene 8+.</item>
/// </list>
/// <para>
/// Combining marks, format chars (soft hyphen, …) and ZWJ directly after a token char stay in the
/// token (UAX#29 WB4). The longest match from a token's start is taken, looking at most
/// <see cref="MaxTokenLength"/> chars ahead: a longer word is chopped into pieces of at most 255 chars,
/// exactly as Lucene's scanner does with its 255-char buffer.
/// </para>
/// <para>Token text is returned as in the input (no case folding); see <see cref="EnglishAnalyzer"/>.</para>
/// <para>
/// Verified token-for-token against Lucene on fuzzed and English text. Known differences, all confined
/// to text that English corpora do not contain: Lucene's grammar uses Unicode 9.0 character data, so
/// letters, marks and digits assigned since then (Georgian Mtavruli, recent Latin/Arabic extensions,
/// newer scripts) are word characters here but dropped there — except ideographs newer than Unicode 9.0,
/// which are dropped here as well; and when the input ends in an unpaired high surrogate, Lucene's
/// scanner drops the tokens of its last buffer fill, which is not reproduced.
/// </para>
/// </remarks>
public ref struct StandardTokenizer
{
    /// <summary>The longest token emitted, in UTF-16 chars (Lucene's default max token length).</summary>
    public const int MaxTokenLength = 255;

    // Character classes (UAX#29 word-break properties plus the extra classes the grammar needs).
    private const byte Other = 0;
    private const byte ALetter = 1;
    private const byte HebrewLetter = 2;
    private const byte Numeric = 3;
    private const byte Katakana = 4;
    private const byte ExtendNumLet = 5;
    private const byte MidLetter = 6;
    private const byte MidNumLet = 7;
    private const byte MidNum = 8;
    private const byte SingleQuote = 9;
    private const byte DoubleQuote = 10;
    private const byte Extend = 11;          // WB Extend and Format (absorbed after a token char)
    private const byte Zwj = 12;             // U+200D, absorbed like Extend; joins emoji
    private const byte PresentationSelector = 13; // U+FE0E / U+FE0F, absorbed like Extend
    private const byte Han = 14;
    private const byte Hiragana = 15;
    private const byte SouthEastAsian = 16;  // Line_Break = Complex_Context
    private const byte Pictographic = 17;    // Extended_Pictographic (not a letter)
    private const byte EmojiModifier = 18;   // U+1F3FB..U+1F3FF
    private const byte RegionalIndicator = 19;
    private const byte KeycapBase = 20;      // '#' and '*' ('0'-'9' are Numeric)
    private const byte ALetterPictographic = 21; // both ALetter and Extended_Pictographic (Ⓜ, 🅰 …)
    private const byte SouthEastAsianMark = 22; // a Complex_Context mark: extends a preceding char, or starts a run

    private const char ZwjChar = '\u200D';
    private const char EmojiPresentation = '\uFE0F';
    private const char CombiningKeycap = '\u20E3';

    /// <summary>Class of every BMP code point (surrogates map to <see cref="Other"/>).</summary>
    private static readonly byte[] BmpClasses = BuildBmpTable();

    private readonly ReadOnlySpan<char> _text;
    private int _position;
    private int _tokenStart;
    private int _tokenLength;

    /// <summary>Creates a tokenizer positioned before the first token of <paramref name="text"/>.</summary>
    public StandardTokenizer(ReadOnlySpan<char> text)
    {
        _text = text;
        _position = 0;
        _tokenStart = 0;
        _tokenLength = 0;
    }

    /// <summary>Offset of the current token in the input text, in chars.</summary>
    public readonly int TokenStart => _tokenStart;

    /// <summary>Length of the current token in chars (1 to <see cref="MaxTokenLength"/>).</summary>
    public readonly int TokenLength => _tokenLength;

    /// <summary>The current token's text: a slice of the input.</summary>
    public readonly ReadOnlySpan<char> Current => _text.Slice(_tokenStart, _tokenLength);

    /// <summary>Returns this tokenizer so that it can be used directly in <c>foreach</c>.</summary>
    public readonly StandardTokenizer GetEnumerator() => this;

    /// <summary>Advances to the next token.</summary>
    /// <returns><see langword="false"/> when the input has no more tokens.</returns>
    public bool MoveNext()
    {
        ReadOnlySpan<char> text = _text;
        int pos = _position;
        while (pos < text.Length)
        {
            byte cls = ClassAt(text, pos, text.Length, out int length);
            if (cls is Other or Extend or Zwj or PresentationSelector or MidLetter or MidNumLet or MidNum
                or SingleQuote or DoubleQuote)
            {
                // No token starts here, except an emoji sequence with leading ZWJs.
                if (cls != Zwj)
                {
                    pos += length;
                    continue;
                }
            }

            int limit = Limit(text, pos);
            int end = cls switch
            {
                ALetter or HebrewLetter or Numeric or Katakana or ExtendNumLet => ScanWord(text, pos, limit),
                ALetterPictographic => Math.Max(ScanWord(text, pos, limit), ScanEmoji(text, pos, limit)),
                Pictographic or EmojiModifier or Zwj => ScanEmoji(text, pos, limit),
                Han or Hiragana => SkipExtend(text, pos + length, limit, stopAtPresentation: false),
                SouthEastAsian or SouthEastAsianMark => ScanSouthEastAsian(text, pos + length, limit),
                RegionalIndicator => ScanFlag(text, pos + length, limit),
                KeycapBase => ScanKeycap(text, pos + length, limit),
                _ => -1,
            };

            if (end > pos)
            {
                _tokenStart = pos;
                _tokenLength = end - pos;
                _position = end;
                return true;
            }
            pos += length;
        }

        _position = pos;
        _tokenStart = pos;
        _tokenLength = 0;
        return false;
    }

    /// <summary>
    /// The end of what the scanner may look at for a token starting at <paramref name="start"/>: Lucene's
    /// scanner sees at most 255 chars from the token start (and never the high half of a split pair).
    /// </summary>
    private static int Limit(ReadOnlySpan<char> text, int start)
    {
        int limit = start + MaxTokenLength;
        if (limit >= text.Length) return text.Length;
        return char.IsHighSurrogate(text[limit - 1]) ? limit - 1 : limit;
    }

    /// <summary>
    /// Longest match of the word/number rules (UAX#29 WB5–WB13b) from <paramref name="start"/>, or -1
    /// when nothing but ExtendNumLet chars is found.
    /// </summary>
    /// <remarks>
    /// Lucene's grammar is a sequence of parts — a letter run whose letters may be joined by single
    /// MidLetter/MidNumLet/quote chars, a digit run joined likewise by MidNum/MidNumLet/quote chars, a
    /// Hebrew letter with a trailing quote or <c>"</c> + Hebrew letter, a Katakana run — that abut
    /// directly or through ExtendNumLet chars. So a join through a connector is only possible when the
    /// char before it can belong to the same part: <see cref="ScanWord"/> tracks how the last unit was
    /// reached.
    /// </remarks>
    private static int ScanWord(ReadOnlySpan<char> text, int start, int limit)
    {
        const byte Start = 0xFF;
        const byte HebrewQuote = 0xFE; // Hebrew_Letter followed by ' (WB7a): only a new part may follow

        // How the last unit was reached: directly (it may start a new part), or through a connector.
        const byte Direct = 0;
        const byte ViaMidLetter = 1;
        const byte ViaMidNum = 2;
        const byte ViaDoubleQuote = 3;

        int pos = start;
        int accept = -1;
        bool sawCore = false;
        byte prev = Start;
        byte via = Direct;

        while (pos < limit)
        {
            byte cls = ClassAt(text, pos, limit, out int length);
            if (cls == ALetterPictographic) cls = ALetter;
            int unitEnd = SkipExtend(text, pos + length, limit, stopAtPresentation: false);

            if (cls is ALetter or HebrewLetter or Numeric or Katakana or ExtendNumLet)
            {
                if (!CanJoin(prev, cls)) break;
                pos = unitEnd;
                prev = cls;
                via = Direct;
                if (cls != ExtendNumLet) sawCore = true;
                if (sawCore) accept = pos;
                continue;
            }

            if (cls is MidLetter or MidNumLet or MidNum or SingleQuote or DoubleQuote
                && prev is ALetter or HebrewLetter or Numeric)
            {
                byte next = Other;
                int nextEnd = unitEnd;
                if (unitEnd < limit)
                {
                    next = ClassAt(text, unitEnd, limit, out int nextLength);
                    if (next == ALetterPictographic) next = ALetter;
                    nextEnd = SkipExtend(text, unitEnd + nextLength, limit, stopAtPresentation: false);
                }

                bool letters = prev is ALetter or HebrewLetter && next is ALetter or HebrewLetter;
                byte joinedVia = Other;
                if (letters && cls is MidLetter or MidNumLet or SingleQuote && via is Direct or ViaMidLetter)
                {
                    // WB6/WB7; a Hebrew ' Hebrew that could also be WB7a + a new part stays "direct".
                    joinedVia = prev == HebrewLetter && cls == SingleQuote && via == Direct ? Direct : ViaMidLetter;
                }
                else if (prev == Numeric && next == Numeric && cls is MidNum or MidNumLet or SingleQuote
                    && via is Direct or ViaMidNum)
                {
                    joinedVia = ViaMidNum; // WB11/WB12
                }
                else if (prev == HebrewLetter && next == HebrewLetter && cls == DoubleQuote && via == Direct)
                {
                    joinedVia = ViaDoubleQuote; // WB7b/WB7c
                }

                if (joinedVia != Other)
                {
                    pos = nextEnd;
                    prev = next;
                    via = joinedVia;
                    accept = pos;
                    continue;
                }
                if (prev == HebrewLetter && cls == SingleQuote && via == Direct)
                {
                    pos = unitEnd; // WB7a: the quote ends this part
                    prev = HebrewQuote;
                    via = Direct;
                    accept = pos;
                    continue;
                }
            }
            break;
        }

        return accept;

        static bool CanJoin(byte prev, byte next) => prev switch
        {
            Start or ExtendNumLet => true,
            Katakana => next is Katakana or ExtendNumLet,
            _ => next is not Katakana, // letters, digits and a Hebrew letter + quote
        };
    }

    /// <summary>A run of Complex_Context chars (with their marks), starting after the first one.</summary>
    private static int ScanSouthEastAsian(ReadOnlySpan<char> text, int pos, int limit)
    {
        while (pos < limit)
        {
            byte cls = ClassAt(text, pos, limit, out int length);
            if (cls is not (SouthEastAsian or SouthEastAsianMark or Extend or Zwj or PresentationSelector)) break;
            pos += length;
        }
        return pos;
    }

    /// <summary>A pair of regional indicators (a flag), starting after the first one; -1 when unpaired.</summary>
    private static int ScanFlag(ReadOnlySpan<char> text, int pos, int limit)
    {
        pos = SkipExtend(text, pos, limit, stopAtPresentation: false);
        if (pos >= limit || ClassAt(text, pos, limit, out int length) != RegionalIndicator) return -1;
        return SkipExtend(text, pos + length, limit, stopAtPresentation: false);
    }

    /// <summary>A keycap sequence <c>[#*] FE0F? 20E3</c>, starting after the base; -1 when absent.</summary>
    private static int ScanKeycap(ReadOnlySpan<char> text, int pos, int limit)
    {
        int start = pos;
        int end = SkipExtend(text, pos, limit, stopAtPresentation: true);
        if (end < limit - 1 && text[end] == EmojiPresentation && text[end + 1] == CombiningKeycap)
        {
            return SkipExtend(text, end + 2, limit, stopAtPresentation: true);
        }
        // U+20E3 is itself an Extend char: any keycap among the absorbed chars completes the sequence.
        return text[start..end].Contains(CombiningKeycap) ? end : -1;
    }

    /// <summary>
    /// Longest emoji sequence from <paramref name="start"/> (Lucene's EMOJI rule: emoji chars with
    /// their extenders, optional U+FE0F, modifiers, joined by ZWJ); -1 when none.
    /// </summary>
    private static int ScanEmoji(ReadOnlySpan<char> text, int start, int limit)
    {
        int pos = start;
        while (pos < limit && text[pos] == ZwjChar) pos++;
        bool loneModifierAllowed = pos == start; // a modifier alone needs no ZWJ before it (or exactly one)
        bool firstElement = true;
        int accept = -1;

        while (pos < limit)
        {
            byte cls = ClassAt(text, pos, limit, out int length);
            int end;
            if (cls is Pictographic or ALetterPictographic)
            {
                int codePoint = length == 2 ? char.ConvertToUtf32(text[pos], text[pos + 1]) : text[pos];
                end = SkipExtend(text, pos + length, limit, stopAtPresentation: true);
                if (end < limit && IsEmojiModifierBase(codePoint)
                    && ClassAt(text, end, limit, out int modifierLength) == EmojiModifier)
                {
                    end = SkipExtend(text, end + modifierLength, limit, stopAtPresentation: true);
                }
                else if (end < limit && text[end] == EmojiPresentation)
                {
                    // The element ends at the selector: a tag sequence (first element only) or
                    // ZWJ + another element may follow.
                    accept = end + 1;
                    int next = end + 1;
                    if (firstElement)
                    {
                        int tagsEnd = ScanTagSequence(text, next, limit);
                        if (tagsEnd > 0) return tagsEnd;
                    }
                    int zwjCount = 0;
                    while (next < limit && text[next] == ZwjChar) { next++; zwjCount++; }
                    if (zwjCount == 0) break;
                    pos = next;
                    loneModifierAllowed = zwjCount == 1;
                    firstElement = false;
                    continue;
                }
            }
            else if (cls == EmojiModifier && loneModifierAllowed)
            {
                end = SkipExtend(text, pos + length, limit, stopAtPresentation: true);
            }
            else
            {
                break;
            }

            accept = end;
            // The absorbed extenders must end with a ZWJ for another element to join.
            if (end >= limit || end == pos + length || text[end - 1] != ZwjChar) break;
            pos = end;
            loneModifierAllowed = true;
            firstElement = false;
        }

        return accept;
    }

    /// <summary>Tag characters U+E0020..U+E007E followed by the cancel tag U+E007F; -1 when absent.</summary>
    private static int ScanTagSequence(ReadOnlySpan<char> text, int pos, int limit)
    {
        int count = 0;
        while (pos + 1 < limit && text[pos] == '\uDB40' && text[pos + 1] is >= '\uDC20' and <= '\uDC7E')
        {
            pos += 2;
            count++;
        }
        return count > 0 && pos + 1 < limit && text[pos] == '\uDB40' && text[pos + 1] == '\uDC7F' ? pos + 2 : -1;
    }

    /// <summary>
    /// Skips the Extend / Format / ZWJ chars (and, unless <paramref name="stopAtPresentation"/>, the
    /// presentation selectors) that UAX#29 WB4 attaches to the preceding char.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int SkipExtend(ReadOnlySpan<char> text, int pos, int limit, bool stopAtPresentation)
    {
        while (pos < limit)
        {
            char c = text[pos];
            if (c < '\u00AD') return pos; // nothing below the soft hyphen extends
            byte cls = ClassAt(text, pos, limit, out int length);
            if (cls is Extend or Zwj or SouthEastAsianMark || (cls == PresentationSelector && !stopAtPresentation))
            {
                pos += length;
                continue;
            }
            return pos;
        }
        return pos;
    }

    /// <summary>The class of the code point at <paramref name="pos"/> and its length in chars.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static byte ClassAt(ReadOnlySpan<char> text, int pos, int limit, out int length)
    {
        char c = text[pos];
        if (!char.IsSurrogate(c))
        {
            length = 1;
            return BmpClasses[c];
        }
        if (char.IsHighSurrogate(c) && pos + 1 < limit && char.IsLowSurrogate(text[pos + 1]))
        {
            length = 2;
            return Classify(char.ConvertToUtf32(c, text[pos + 1]));
        }
        length = 1;
        return Other;
    }

    private static byte[] BuildBmpTable()
    {
        var table = new byte[0x10000];
        for (int c = 0; c < table.Length; c++)
        {
            table[c] = c is >= 0xD800 and <= 0xDFFF ? Other : Classify(c);
        }
        return table;
    }

    /// <summary>The word-break class of one code point (UAX#29 as of Unicode 9, as in Lucene's grammar).</summary>
    private static byte Classify(int cp)
    {
        if (cp < 0x80)
        {
            return cp switch
            {
                >= 'a' and <= 'z' or >= 'A' and <= 'Z' => ALetter,
                >= '0' and <= '9' => Numeric,
                '_' => ExtendNumLet,
                '\'' => SingleQuote,
                '"' => DoubleQuote,
                '.' => MidNumLet,
                ':' => MidLetter,
                ',' or ';' => MidNum,
                '#' or '*' => KeycapBase,
                _ => Other,
            };
        }

        switch (cp)
        {
            case 0x00B7:
            case 0x02D7:
            case 0x0387:
            case 0x05F4:
            case 0x2027:
            case 0xFE13:
            case 0xFE55:
            case 0xFF1A:
                return MidLetter;
            case 0x2018:
            case 0x2019:
            case 0x2024:
            case 0xFE52:
            case 0xFF07:
            case 0xFF0E:
                return MidNumLet;
            case 0x037E:
            case 0x0589:
            case 0x060C:
            case 0x060D:
            case 0x066C:
            case 0x07F8:
            case 0x2044:
            case 0xFE10:
            case 0xFE14:
            case 0xFE50:
            case 0xFE54:
            case 0xFF0C:
            case 0xFF1B:
                return MidNum;
            case 0x066B:
                return Numeric;
            case 0x200B:
                return Other; // ZERO WIDTH SPACE is Format by category but no WB4 extender
            case 0x200C:
            case 0xFF9E:
            case 0xFF9F:
                return Extend;
            case 0x200D:
                return Zwj;
            case 0xFE0E:
            case 0xFE0F:
                return PresentationSelector;
            case 0x3006:
                return Other; // ideographic but not Han script
            case 0x3005:
            case 0x303B:
                return ALetter; // Han-script iteration marks that are letters, not ideographs
            case 0x202F:
                return ExtendNumLet; // NARROW NO-BREAK SPACE
        }

        if (cp is >= 0x1F1E6 and <= 0x1F1FF) return RegionalIndicator;
        if (cp is >= 0x1F3FB and <= 0x1F3FF) return EmojiModifier;
        if (IsKatakana(cp)) return Katakana;
        if (IsHan(cp)) return Han;
        if (IsHiragana(cp)) return Hiragana;
        if (cp is (>= 0x17000 and <= 0x18D08) or (>= 0x1B170 and <= 0x1B2FB)) return Other; // Tangut, Nüshu
        if (cp is (>= 0x4DB6 and <= 0x4DBF) or (>= 0x9FD6 and <= 0x9FFF) or (>= 0x20000 and <= 0x3FFFF))
        {
            return Other; // ideographs added after Unicode 9.0: unknown to Lucene's grammar
        }

        UnicodeCategory category = CharUnicodeInfo.GetUnicodeCategory(cp);
        switch (category)
        {
            case UnicodeCategory.NonSpacingMark:
            case UnicodeCategory.SpacingCombiningMark:
            case UnicodeCategory.EnclosingMark:
                return IsComplexContextScript(cp) ? SouthEastAsianMark : Extend;
            case UnicodeCategory.Format:
                return Extend;
            case UnicodeCategory.UppercaseLetter:
            case UnicodeCategory.LowercaseLetter:
            case UnicodeCategory.TitlecaseLetter:
            case UnicodeCategory.ModifierLetter:
            case UnicodeCategory.OtherLetter:
                if (IsComplexContextScript(cp)) return SouthEastAsian;
                if (IsHebrewLetter(cp)) return HebrewLetter;
                return cp == 0x2139 ? ALetterPictographic : ALetter; // U+2139 ℹ is a letter and an emoji
            case UnicodeCategory.LetterNumber:
                return ALetter;
            case UnicodeCategory.DecimalDigitNumber:
                return Numeric;
            case UnicodeCategory.ConnectorPunctuation:
                return ExtendNumLet;
        }

        if (IsComplexContextPunctuation(cp)) return SouthEastAsian;
        if (IsOtherALetter(cp)) return IsExtendedPictographic(cp) ? ALetterPictographic : ALetter;
        if (IsExtendedPictographic(cp)) return Pictographic;
        return Other;
    }

    /// <summary>Non-letter chars that UAX#29 nevertheless classes as ALetter (and circled/squared letters).</summary>
    private static bool IsOtherALetter(int cp) => cp is
        0x05F3 or (>= 0x24B6 and <= 0x24E9)
        or (>= 0x1F130 and <= 0x1F149) or (>= 0x1F150 and <= 0x1F169) or (>= 0x1F170 and <= 0x1F189);

    private static bool IsHebrewLetter(int cp) => cp is
        (>= 0x05D0 and <= 0x05EA) or (>= 0x05EF and <= 0x05F2) or 0xFB1D or (>= 0xFB1F and <= 0xFB28)
        or (>= 0xFB2A and <= 0xFB4F);

    private static bool IsKatakana(int cp) => cp is
        (>= 0x3031 and <= 0x3035) or (>= 0x309B and <= 0x309C) or (>= 0x30A0 and <= 0x30FA)
        or (>= 0x30FC and <= 0x30FF) or (>= 0x31F0 and <= 0x31FF) or (>= 0x32D0 and <= 0x32FE)
        or (>= 0x3300 and <= 0x3357) or (>= 0xFF66 and <= 0xFF9D) or 0x1B000;

    /// <summary>Script=Han as of Unicode 9.0 (Lucene's grammar): later ideographs are not tokens there.</summary>
    private static bool IsHan(int cp) => cp is
        (>= 0x2E80 and <= 0x2E99) or (>= 0x2E9B and <= 0x2EF3) or (>= 0x2F00 and <= 0x2FD5)
        or 0x3005 or 0x3007 or (>= 0x3021 and <= 0x3029) or (>= 0x3038 and <= 0x303B)
        or (>= 0x3400 and <= 0x4DB5) or (>= 0x4E00 and <= 0x9FD5)
        or (>= 0xF900 and <= 0xFA6D) or (>= 0xFA70 and <= 0xFAD9)
        or (>= 0x20000 and <= 0x2A6D6) or (>= 0x2A700 and <= 0x2B734) or (>= 0x2B740 and <= 0x2B81D)
        or (>= 0x2B820 and <= 0x2CEA1) or (>= 0x2F800 and <= 0x2FA1D);

    private static bool IsHiragana(int cp) => cp is
        (>= 0x3041 and <= 0x3096) or (>= 0x309D and <= 0x309F) or 0x1B001 or 0x1F200;

    /// <summary>Blocks whose letters and marks have Line_Break = Complex_Context (SA).</summary>
    private static bool IsComplexContextScript(int cp) => cp is
        (>= 0x0E00 and <= 0x0EFF)     // Thai, Lao
        or (>= 0x1000 and <= 0x109F)  // Myanmar
        or (>= 0x1780 and <= 0x17FF)  // Khmer
        or (>= 0x1950 and <= 0x19DF)  // Tai Le, New Tai Lue
        or (>= 0x1A20 and <= 0x1AAF)  // Tai Tham
        or (>= 0xA9E0 and <= 0xA9FF)  // Myanmar Extended-B
        or (>= 0xAA60 and <= 0xAADF)  // Myanmar Extended-A, Tai Viet
        or (>= 0x11700 and <= 0x1174F); // Ahom

    /// <summary>The few symbols and punctuation marks that are Complex_Context too.</summary>
    private static bool IsComplexContextPunctuation(int cp) => cp is
        (>= 0x109E and <= 0x109F) or 0x19DA or (>= 0x19DE and <= 0x19DF) or (>= 0x1AA0 and <= 0x1AAD)
        or (>= 0xAA77 and <= 0xAA79) or (>= 0xAADE and <= 0xAADF) or (>= 0x1173A and <= 0x1173B) or 0x1173F;

    private static bool IsEmojiModifierBase(int cp) => cp is
        0x261D or 0x26F9 or (>= 0x270A and <= 0x270D) or 0x1F385 or (>= 0x1F3C2 and <= 0x1F3C4) or 0x1F3C7
        or (>= 0x1F3CA and <= 0x1F3CC) or (>= 0x1F442 and <= 0x1F443) or (>= 0x1F446 and <= 0x1F450)
        or (>= 0x1F466 and <= 0x1F478) or 0x1F47C or (>= 0x1F481 and <= 0x1F483)
        or (>= 0x1F485 and <= 0x1F487) or 0x1F48F or 0x1F491 or 0x1F4AA or (>= 0x1F574 and <= 0x1F575)
        or 0x1F57A or 0x1F590 or (>= 0x1F595 and <= 0x1F596) or (>= 0x1F645 and <= 0x1F647)
        or (>= 0x1F64B and <= 0x1F64F) or 0x1F6A3 or (>= 0x1F6B4 and <= 0x1F6B6) or 0x1F6C0 or 0x1F6CC
        or 0x1F90C or 0x1F90F or (>= 0x1F918 and <= 0x1F91F) or 0x1F926 or (>= 0x1F930 and <= 0x1F939)
        or (>= 0x1F93C and <= 0x1F93E) or 0x1F977 or (>= 0x1F9B5 and <= 0x1F9B6)
        or (>= 0x1F9B8 and <= 0x1F9B9) or 0x1F9BB or (>= 0x1F9CD and <= 0x1F9CF)
        or (>= 0x1F9D1 and <= 0x1F9DD) or (>= 0x1FAC3 and <= 0x1FAC5) or (>= 0x1FAF0 and <= 0x1FAF6);

    /// <summary>Unicode's Extended_Pictographic property (emoji-data, Unicode 14).</summary>
    private static bool IsExtendedPictographic(int cp)
    {
        if (cp < 0x2000) return cp is 0x00A9 or 0x00AE;
        if (cp < 0x1F000)
        {
            return cp is 0x203C or 0x2049 or 0x2122 or 0x2139 or (>= 0x2194 and <= 0x2199)
                or (>= 0x21A9 and <= 0x21AA) or (>= 0x231A and <= 0x231B) or 0x2328 or 0x2388 or 0x23CF
                or (>= 0x23E9 and <= 0x23F3) or (>= 0x23F8 and <= 0x23FA) or 0x24C2
                or (>= 0x25AA and <= 0x25AB) or 0x25B6 or 0x25C0 or (>= 0x25FB and <= 0x25FE)
                or (>= 0x2600 and <= 0x2605) or (>= 0x2607 and <= 0x2612) or (>= 0x2614 and <= 0x2685)
                or (>= 0x2690 and <= 0x2705) or (>= 0x2708 and <= 0x2712) or 0x2714 or 0x2716 or 0x271D
                or 0x2721 or 0x2728 or (>= 0x2733 and <= 0x2734) or 0x2744 or 0x2747 or 0x274C or 0x274E
                or (>= 0x2753 and <= 0x2755) or 0x2757 or (>= 0x2763 and <= 0x2767)
                or (>= 0x2795 and <= 0x2797) or 0x27A1 or 0x27B0 or 0x27BF or (>= 0x2934 and <= 0x2935)
                or (>= 0x2B05 and <= 0x2B07) or (>= 0x2B1B and <= 0x2B1C) or 0x2B50 or 0x2B55
                or 0x3030 or 0x303D or 0x3297 or 0x3299;
        }
        return cp is (>= 0x1F000 and <= 0x1F0FF) or (>= 0x1F10D and <= 0x1F10F) or 0x1F12F
            or (>= 0x1F16C and <= 0x1F171) or (>= 0x1F17E and <= 0x1F17F) or 0x1F18E
            or (>= 0x1F191 and <= 0x1F19A) or (>= 0x1F1AD and <= 0x1F1E5) or (>= 0x1F201 and <= 0x1F20F)
            or 0x1F21A or 0x1F22F or (>= 0x1F232 and <= 0x1F23A) or (>= 0x1F23C and <= 0x1F23F)
            or (>= 0x1F249 and <= 0x1F3FA) or (>= 0x1F400 and <= 0x1F53D) or (>= 0x1F546 and <= 0x1F64F)
            or (>= 0x1F680 and <= 0x1F6FF) or (>= 0x1F774 and <= 0x1F77F) or (>= 0x1F7D5 and <= 0x1F7FF)
            or (>= 0x1F80C and <= 0x1F80F) or (>= 0x1F848 and <= 0x1F84F) or (>= 0x1F85A and <= 0x1F85F)
            or (>= 0x1F888 and <= 0x1F88F) or (>= 0x1F8AE and <= 0x1F8FF) or (>= 0x1F90C and <= 0x1F93A)
            or (>= 0x1F93C and <= 0x1F945) or (>= 0x1F947 and <= 0x1FAFF) or (>= 0x1FC00 and <= 0x1FFFD);
    }
}
