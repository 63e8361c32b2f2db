using System.Text;
using System.Text.Json;
using Microsoft.ML.Tokenizers;

namespace Shoal.Encoders;

/// <summary>
/// BERT WordPiece tokenisation producing model inputs, on Microsoft.ML.Tokenizers'
/// <see cref="BertTokenizer"/>, with ids equal to Hugging Face <c>tokenizers</c> for
/// <c>bert-base-uncased</c>-style <c>tokenizer.json</c> files (BertNormalizer + BertPreTokenizer +
/// WordPiece + <c>[CLS] A [SEP]</c>).
/// </summary>
/// <remarks>
/// <para>Pipeline: normalise (clean text, pad CJK ideographs, NFD + drop Mn accents, lowercase — see
/// <see cref="BertTextNormalizer"/>), split on whitespace and isolate punctuation
/// (<see cref="BertWordSplitter"/>), then Microsoft.ML.Tokenizers' greedy longest-match-first
/// WordPiece with the <c>##</c> continuation prefix; a word longer than 100 characters, or one
/// that cannot be covered by vocabulary pieces, becomes a single <c>[UNK]</c>.</para>
/// <para><see cref="Encode"/> then keeps the first <see cref="MaxLength"/> − 2 pieces and wraps them
/// in <c>[CLS]</c> … <c>[SEP]</c> (Hugging Face's right truncation of a single sequence).</para>
/// <para>Special-token strings typed in the text (e.g. a literal <c>"[SEP]"</c>) are tokenised as
/// ordinary text, not mapped to the special ids: user input cannot inject control tokens. This is
/// the one deliberate difference from Hugging Face, which maps them.</para>
/// <para>Immutable and thread-safe.</para>
/// </remarks>
public sealed class WordPieceTokenizer
{
    /// <summary>The default longest input, special tokens included (BERT's position limit).</summary>
    public const int DefaultMaxLength = 512;

    private readonly BertTokenizer _bert;
    private readonly string[] _tokens;
    private readonly HashSet<int> _specialIds;

    private WordPieceTokenizer(BertTokenizer bert, string[] tokens, HashSet<int> specialIds, int maxLength, string source)
    {
        _bert = bert;
        _tokens = tokens;
        _specialIds = specialIds;
        MaxLength = maxLength;
        Source = source;
        _specialIds.Add(bert.ClassificationTokenId);
        _specialIds.Add(bert.SeparatorTokenId);
        _specialIds.Add(bert.PaddingTokenId);
        _specialIds.Add(bert.UnknownTokenId);
        _specialIds.Add(bert.MaskingTokenId);
    }

    /// <summary>The longest sequence <see cref="Encode"/> produces, <c>[CLS]</c> and <c>[SEP]</c> included.</summary>
    public int MaxLength { get; }

    /// <summary>The file the vocabulary was read from.</summary>
    public string Source { get; }

    /// <summary>Number of vocabulary entries (ids are 0 .. VocabularySize-1).</summary>
    public int VocabularySize => _tokens.Length;

    /// <summary>Id of <c>[CLS]</c>.</summary>
    public int ClsId => _bert.ClassificationTokenId;

    /// <summary>Id of <c>[SEP]</c>.</summary>
    public int SepId => _bert.SeparatorTokenId;

    /// <summary>Id of <c>[PAD]</c> (the padding id of <see cref="EncodeBatch"/>).</summary>
    public int PadId => _bert.PaddingTokenId;

    /// <summary>Id of <c>[UNK]</c>.</summary>
    public int UnkId => _bert.UnknownTokenId;

    /// <summary>
    /// Reads a <c>vocab.txt</c> (one token per line; the id of a token is its 0-based line index) and
    /// uses the bert-base-uncased settings: lowercase and strip accents (or neither, for cased
    /// vocabularies with <paramref name="lowerCase"/> false), split CJK ideographs.
    /// </summary>
    /// <exception cref="EncoderConfigurationException">The file is missing, empty, has a repeated
    /// token, or lacks one of [CLS], [SEP], [PAD], [UNK], [MASK]; or <paramref name="maxLength"/> &lt; 2.</exception>
    public static WordPieceTokenizer FromVocabFile(string vocabPath, int maxLength = DefaultMaxLength, bool lowerCase = true)
    {
        ArgumentException.ThrowIfNullOrEmpty(vocabPath);
        CheckMaxLength(maxLength, vocabPath);
        if (!File.Exists(vocabPath))
            throw new EncoderConfigurationException($"Vocabulary file '{vocabPath}' does not exist (expected a WordPiece vocab.txt, one token per line).", vocabPath);
        byte[] bytes = File.ReadAllBytes(vocabPath);
        var tokens = new List<string>(32768);
        using (var reader = new StreamReader(new MemoryStream(bytes), Encoding.UTF8))
        {
            // The same line splitting as Microsoft.ML.Tokenizers' loader, so ids agree.
            while (reader.ReadLine() is { } line) tokens.Add(line);
        }
        if (tokens.Count == 0)
            throw new EncoderConfigurationException($"Vocabulary file '{vocabPath}' is empty (expected a WordPiece vocab.txt, one token per line).", vocabPath);
        var normalizer = new BertTextNormalizer(cleanText: true, handleChineseChars: true, stripAccents: lowerCase, lowerCase: lowerCase);
        return Create(bytes, [.. tokens], normalizer, "[UNK]", "##", 100, [], maxLength, vocabPath);
    }

    /// <summary>
    /// Reads a Hugging Face <c>tokenizer.json</c> with a WordPiece model, a <c>BertNormalizer</c>
    /// (its clean_text, handle_chinese_chars, strip_accents — null meaning "same as lowercase" — and
    /// lowercase settings are honoured) and a <c>BertPreTokenizer</c>. The sequence limit is
    /// <paramref name="maxLength"/> when given, else the file's <c>truncation.max_length</c>, else
    /// <see cref="DefaultMaxLength"/>.
    /// </summary>
    /// <exception cref="EncoderConfigurationException">The file is missing or not such a tokenizer;
    /// the message says which part differs.</exception>
    public static WordPieceTokenizer FromTokenizerJson(string tokenizerJsonPath, int? maxLength = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(tokenizerJsonPath);
        string path = tokenizerJsonPath;
        if (!File.Exists(path))
            throw new EncoderConfigurationException($"Tokenizer file '{path}' does not exist (expected a Hugging Face tokenizer.json with a WordPiece model).", path);
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(File.ReadAllBytes(path));
        }
        catch (JsonException e)
        {
            throw new EncoderConfigurationException($"Tokenizer file '{path}' is not valid JSON: {e.Message}", path, e);
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (!root.TryGetProperty("model", out var model) || model.ValueKind != JsonValueKind.Object)
                throw new EncoderConfigurationException($"Tokenizer file '{path}' has no \"model\" object.", path);
            string modelType = StringOr(model, "type", "WordPiece");
            if (modelType != "WordPiece")
                throw new EncoderConfigurationException($"Tokenizer file '{path}' has a \"{modelType}\" model; expected \"WordPiece\".", path);
            if (!model.TryGetProperty("vocab", out var vocab) || vocab.ValueKind != JsonValueKind.Object)
                throw new EncoderConfigurationException($"Tokenizer file '{path}' has no \"model.vocab\" object (token -> id).", path);

            var byId = new SortedDictionary<int, string>();
            foreach (var entry in vocab.EnumerateObject())
            {
                if (!entry.Value.TryGetInt32(out int id) || id < 0)
                    throw new EncoderConfigurationException($"Tokenizer file '{path}': vocabulary entry '{entry.Name}' has id {entry.Value}; expected a non-negative integer.", path);
                if (entry.Name.Length == 0 || entry.Name.AsSpan().IndexOfAny('\r', '\n') >= 0)
                    throw new EncoderConfigurationException($"Tokenizer file '{path}': vocabulary entry with id {id} is empty or contains a line break, which a WordPiece vocabulary cannot hold.", path);
                if (!byId.TryAdd(id, entry.Name))
                    throw new EncoderConfigurationException($"Tokenizer file '{path}': id {id} is assigned to both '{byId[id]}' and '{entry.Name}'.", path);
            }
            if (byId.Count == 0) throw new EncoderConfigurationException($"Tokenizer file '{path}' has an empty vocabulary.", path);
            int size = byId.Keys.Max() + 1;
            var tokens = new string[size];
            Array.Fill(tokens, string.Empty); // gaps become empty lines: skipped by the loader, ids kept
            foreach (var (id, token) in byId) tokens[id] = token;

            bool cleanText = true, chinese = true, lower = true;
            bool? strip = null;
            if (root.TryGetProperty("normalizer", out var norm) && norm.ValueKind == JsonValueKind.Object)
            {
                string type = StringOr(norm, "type", "");
                if (type != "BertNormalizer")
                    throw new EncoderConfigurationException($"Tokenizer file '{path}' has a \"{type}\" normalizer; expected \"BertNormalizer\".", path);
                cleanText = BoolOr(norm, "clean_text", true);
                chinese = BoolOr(norm, "handle_chinese_chars", true);
                lower = BoolOr(norm, "lowercase", true);
                if (norm.TryGetProperty("strip_accents", out var s) && s.ValueKind is JsonValueKind.True or JsonValueKind.False) strip = s.GetBoolean();
            }
            else
            {
                throw new EncoderConfigurationException($"Tokenizer file '{path}' has no normalizer; expected a \"BertNormalizer\".", path);
            }
            if (root.TryGetProperty("pre_tokenizer", out var pre) && pre.ValueKind == JsonValueKind.Object)
            {
                string type = StringOr(pre, "type", "");
                if (type != "BertPreTokenizer")
                    throw new EncoderConfigurationException($"Tokenizer file '{path}' has a \"{type}\" pre_tokenizer; expected \"BertPreTokenizer\".", path);
            }

            var specials = new HashSet<int>();
            if (root.TryGetProperty("added_tokens", out var added) && added.ValueKind == JsonValueKind.Array)
            {
                foreach (var t in added.EnumerateArray())
                {
                    if (t.TryGetProperty("special", out var sp) && sp.ValueKind == JsonValueKind.True && t.TryGetProperty("id", out var idEl) && idEl.TryGetInt32(out int sid))
                        specials.Add(sid);
                }
            }

            int limit = maxLength ?? (root.TryGetProperty("truncation", out var trunc) && trunc.ValueKind == JsonValueKind.Object
                && trunc.TryGetProperty("max_length", out var ml) && ml.TryGetInt32(out int fileMax) ? fileMax : DefaultMaxLength);
            CheckMaxLength(limit, path);

            var normalizer = new BertTextNormalizer(cleanText, chinese, strip ?? lower, lower);
            string unk = StringOr(model, "unk_token", "[UNK]");
            string prefix = StringOr(model, "continuing_subword_prefix", "##");
            int maxChars = model.TryGetProperty("max_input_chars_per_word", out var mc) && mc.TryGetInt32(out int m) ? m : 100;
            byte[] vocabBytes = Encoding.UTF8.GetBytes(string.Join('\n', tokens) + "\n");
            return Create(vocabBytes, tokens, normalizer, unk, prefix, maxChars, specials, limit, path);
        }
    }

    /// <summary>
    /// The WordPiece ids of <paramref name="text"/>, without special tokens and without truncation.
    /// </summary>
    public IReadOnlyList<int> Tokenize(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length == 0) return [];
        return _bert.EncodeToIds(text, addSpecialTokens: false, considerPreTokenization: true, considerNormalization: true);
    }

    /// <summary>
    /// Model input ids of one text: <c>[CLS]</c>, the first <see cref="MaxLength"/> − 2 WordPiece ids,
    /// <c>[SEP]</c>. The empty string gives <c>[CLS] [SEP]</c>.
    /// </summary>
    public int[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        int budget = MaxLength - 2;
        // WordPiece stops once the budget is reached; Microsoft.ML.Tokenizers keeps whole words only,
        // so ask for one word's worth (at most MaxInputCharsPerWord pieces) more and cut here, mid-word
        // if need be, as Hugging Face truncation does.
        IReadOnlyList<int> ids = text.Length == 0 || budget == 0 ? []
            : _bert.EncodeToIds(text, budget + _bert.MaxInputCharsPerWord, addSpecialTokens: false, out _, out _);
        int n = Math.Min(ids.Count, budget);
        var result = new int[n + 2];
        result[0] = ClsId;
        for (int i = 0; i < n; i++) result[i + 1] = ids[i];
        result[n + 1] = SepId;
        return result;
    }

    /// <summary>
    /// Tokenises <paramref name="texts"/> (each as <see cref="Encode"/>) into padded batch tensors:
    /// input ids padded with <c>[PAD]</c> to the longest row, attention mask 1 on real tokens and
    /// 0 on padding, token type ids 0.
    /// </summary>
    public TokenizedBatch EncodeBatch(IReadOnlyList<string> texts)
    {
        ArgumentNullException.ThrowIfNull(texts);
        var rows = new int[texts.Count][];
        int width = 0;
        for (int i = 0; i < texts.Count; i++)
        {
            rows[i] = Encode(texts[i] ?? throw new ArgumentNullException(nameof(texts), $"Text {i} is null."));
            width = Math.Max(width, rows[i].Length);
        }
        var ids = new long[rows.Length * width];
        var mask = new long[rows.Length * width];
        ids.AsSpan().Fill(PadId);
        for (int b = 0; b < rows.Length; b++)
        {
            var row = rows[b];
            var idRow = ids.AsSpan(b * width, row.Length);
            for (int s = 0; s < row.Length; s++) idRow[s] = row[s];
            mask.AsSpan(b * width, row.Length).Fill(1);
        }
        return new TokenizedBatch(rows.Length, width, ids, mask, new long[ids.Length]);
    }

    /// <summary>The vocabulary token of <paramref name="id"/> (e.g. <c>"##ing"</c>).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The id is outside the vocabulary.</exception>
    public string TokenOf(int id)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(id);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(id, _tokens.Length);
        return _tokens[id];
    }

    /// <summary>
    /// True for ids that are control tokens rather than text: [CLS], [SEP], [PAD], [UNK], [MASK] and
    /// any token a tokenizer.json marks <c>"special": true</c>.
    /// </summary>
    public bool IsSpecial(int id) => _specialIds.Contains(id);

    private static WordPieceTokenizer Create(byte[] vocabBytes, string[] tokens, BertTextNormalizer normalizer, string unk, string prefix,
        int maxChars, HashSet<int> specials, int maxLength, string source)
    {
        var options = new BertOptions
        {
            Normalizer = normalizer,
            PreTokenizer = BertWordSplitter.Instance,
            LowerCaseBeforeTokenization = normalizer.LowerCase,
            RemoveNonSpacingMarks = normalizer.StripAccents,
            IndividuallyTokenizeCjk = normalizer.HandleChineseChars,
            ApplyBasicTokenization = true,
            SplitOnSpecialTokens = false,
            UnknownToken = unk,
            ContinuingSubwordPrefix = prefix,
            MaxInputCharsPerWord = maxChars,
        };
        try
        {
            using var stream = new MemoryStream(vocabBytes, writable: false);
            return new WordPieceTokenizer(BertTokenizer.Create(stream, options), tokens, specials, maxLength, source);
        }
        catch (Exception e) when (e is ArgumentException or KeyNotFoundException or InvalidOperationException)
        {
            throw new EncoderConfigurationException(
                $"Vocabulary in '{source}' cannot be used for BERT WordPiece: {e.Message} (expected unique tokens including [CLS], [SEP], [PAD], {unk} and [MASK]).", source, e);
        }
    }

    private static void CheckMaxLength(int maxLength, string source)
    {
        if (maxLength < 2)
            throw new EncoderConfigurationException($"Maximum sequence length {maxLength} for '{source}' is too small: [CLS] and [SEP] alone take 2.", source);
    }

    private static string StringOr(JsonElement obj, string name, string fallback) =>
        obj.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()! : fallback;

    private static bool BoolOr(JsonElement obj, string name, bool fallback) =>
        obj.TryGetProperty(name, out var v) && v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : fallback;
}
