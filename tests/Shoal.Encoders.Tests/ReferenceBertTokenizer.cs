using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Shoal.Encoders.Tests;

/// <summary>
/// An independent, deliberately plain implementation of the reference algorithm that a Hugging
/// Face <c>tokenizer.json</c> with BertNormalizer + BertPreTokenizer + WordPiece describes, used
/// to check the production tokenizer (which runs on Microsoft.ML.Tokenizers). Works on lists of
/// code points; no Microsoft.ML.Tokenizers, no production code.
/// <list type="number">
/// <item>clean text: drop 0, 0xFFFD and "Other" (Cc Cf Cn Co Cs) except \t \n \r; whitespace → ' '</item>
/// <item>pad CJK ideographs with spaces</item>
/// <item>strip accents: NFD, drop Mn</item>
/// <item>lowercase</item>
/// <item>split on whitespace; isolate punctuation (ASCII punctuation or Unicode P*)</item>
/// <item>greedy longest-match-first WordPiece with "##"; more than max chars per word, or no
/// cover → [UNK]</item>
/// </list>
/// </summary>
internal sealed class ReferenceBertTokenizer
{
    // Unicode White_Space property.
    private static readonly HashSet<int> WhiteSpace =
    [
        0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, 0x1680,
        0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200A,
        0x2028, 0x2029, 0x202F, 0x205F, 0x3000,
    ];

    private readonly Dictionary<string, int> _vocab;
    private readonly bool _clean, _chinese, _strip, _lower;
    private readonly string _unk, _prefix;
    private readonly int _maxChars;

    private ReferenceBertTokenizer(Dictionary<string, int> vocab, bool clean, bool chinese, bool strip, bool lower, string unk, string prefix, int maxChars)
    {
        _vocab = vocab;
        _clean = clean;
        _chinese = chinese;
        _strip = strip;
        _lower = lower;
        _unk = unk;
        _prefix = prefix;
        _maxChars = maxChars;
    }

    public int Id(string token) => _vocab[token];

    /// <summary>Reads the vocabulary and the normaliser settings from a tokenizer.json.</summary>
    public static ReferenceBertTokenizer FromTokenizerJson(string path)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        var root = doc.RootElement;
        var model = root.GetProperty("model");
        Assert.Equal("WordPiece", model.GetProperty("type").GetString());
        Assert.Equal("BertPreTokenizer", root.GetProperty("pre_tokenizer").GetProperty("type").GetString());
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var p in model.GetProperty("vocab").EnumerateObject()) vocab.Add(p.Name, p.Value.GetInt32());
        var norm = root.GetProperty("normalizer");
        Assert.Equal("BertNormalizer", norm.GetProperty("type").GetString());
        bool lower = norm.GetProperty("lowercase").GetBoolean();
        var stripEl = norm.GetProperty("strip_accents");
        bool strip = stripEl.ValueKind == JsonValueKind.Null ? lower : stripEl.GetBoolean(); // None follows lowercase
        return new ReferenceBertTokenizer(vocab,
            norm.GetProperty("clean_text").GetBoolean(), norm.GetProperty("handle_chinese_chars").GetBoolean(), strip, lower,
            model.GetProperty("unk_token").GetString()!, model.GetProperty("continuing_subword_prefix").GetString()!,
            model.GetProperty("max_input_chars_per_word").GetInt32());
    }

    /// <summary>[CLS] + first (maxLength − 2) ids + [SEP].</summary>
    public List<int> Encode(string text, int maxLength)
    {
        var ids = Tokenize(text);
        var result = new List<int> { _vocab["[CLS]"] };
        result.AddRange(ids.Take(maxLength - 2));
        result.Add(_vocab["[SEP]"]);
        return result;
    }

    public List<int> Tokenize(string text) => WordPieces(Words(Normalize(CodePoints(text)))).Select(t => _vocab[t]).ToList();

    public List<string> TokenStrings(string text) => WordPieces(Words(Normalize(CodePoints(text))));

    private static List<int> CodePoints(string text)
    {
        var cps = new List<int>(text.Length);
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                cps.Add(char.ConvertToUtf32(c, text[i + 1]));
                i++;
            }
            else if (!char.IsSurrogate(c))
            {
                cps.Add(c);
            }
        }
        return cps;
    }

    private List<int> Normalize(List<int> cps)
    {
        if (_clean)
        {
            var cleaned = new List<int>();
            foreach (int cp in cps)
            {
                bool tabLike = cp is 9 or 10 or 13;
                if (cp == 0 || cp == 0xFFFD) continue;
                if (!tabLike && IsOtherCategory(cp)) continue;
                cleaned.Add(tabLike || WhiteSpace.Contains(cp) ? ' ' : cp);
            }
            cps = cleaned;
        }
        if (_chinese)
        {
            var padded = new List<int>();
            foreach (int cp in cps)
            {
                if (IsChinese(cp)) padded.AddRange([' ', cp, ' ']);
                else padded.Add(cp);
            }
            cps = padded;
        }
        if (_strip)
        {
            string nfd = ToText(cps).Normalize(NormalizationForm.FormD);
            cps = CodePoints(nfd).Where(cp => CharUnicodeInfo.GetUnicodeCategory(cp) != UnicodeCategory.NonSpacingMark).ToList();
        }
        if (_lower)
        {
            var lowered = new List<int>();
            foreach (int cp in cps)
            {
                if (cp == 0x130) { lowered.Add('i'); lowered.Add(0x307); continue; } // Rust's full lowercase mapping of İ
                lowered.AddRange(CodePoints(char.ConvertFromUtf32(cp).ToLowerInvariant()));
            }
            cps = lowered;
        }
        return cps;
    }

    private static List<List<int>> Words(List<int> cps)
    {
        var words = new List<List<int>>();
        var current = new List<int>();
        foreach (int cp in cps)
        {
            if (WhiteSpace.Contains(cp))
            {
                Flush();
            }
            else if (IsPunctuation(cp))
            {
                Flush();
                words.Add([cp]);
            }
            else
            {
                current.Add(cp);
            }
        }
        Flush();
        return words;

        void Flush()
        {
            if (current.Count > 0) words.Add(current);
            current = [];
        }
    }

    private List<string> WordPieces(List<List<int>> words)
    {
        var output = new List<string>();
        foreach (var word in words)
        {
            if (word.Count > _maxChars)
            {
                output.Add(_unk);
                continue;
            }
            var pieces = new List<string>();
            int start = 0;
            bool bad = false;
            while (start < word.Count)
            {
                string? found = null;
                int end = word.Count;
                for (; end > start; end--)
                {
                    string piece = (start > 0 ? _prefix : "") + ToText(word.GetRange(start, end - start));
                    if (_vocab.ContainsKey(piece))
                    {
                        found = piece;
                        break;
                    }
                }
                if (found is null)
                {
                    bad = true;
                    break;
                }
                pieces.Add(found);
                start = end;
            }
            if (bad) output.Add(_unk);
            else output.AddRange(pieces);
        }
        return output;
    }

    private static string ToText(IEnumerable<int> cps)
    {
        var sb = new StringBuilder();
        foreach (int cp in cps) sb.Append(char.ConvertFromUtf32(cp));
        return sb.ToString();
    }

    private static bool IsOtherCategory(int cp) => CharUnicodeInfo.GetUnicodeCategory(cp) switch
    {
        UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.OtherNotAssigned
            or UnicodeCategory.PrivateUse or UnicodeCategory.Surrogate => true,
        _ => false,
    };

    private static bool IsPunctuation(int cp)
    {
        if (cp < 128) return "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~".Contains((char)cp, StringComparison.Ordinal);
        var cat = CharUnicodeInfo.GetUnicodeCategory(cp);
        return cat is UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation or UnicodeCategory.OpenPunctuation
            or UnicodeCategory.ClosePunctuation or UnicodeCategory.InitialQuotePunctuation or UnicodeCategory.FinalQuotePunctuation
            or UnicodeCategory.OtherPunctuation;
    }

    // Hugging Face tokenizers' ranges (normalizers/bert.rs).
    private static bool IsChinese(int cp) =>
        cp is (>= 0x4E00 and <= 0x9FFF) or (>= 0x3400 and <= 0x4DBF) or (>= 0x20000 and <= 0x2A6DF)
            or (>= 0x2A700 and <= 0x2B73F) or (>= 0x2B740 and <= 0x2B81F) or (>= 0x2B920 and <= 0x2CEAF)
            or (>= 0xF900 and <= 0xFAFF) or (>= 0x2F800 and <= 0x2FA1F);
}
