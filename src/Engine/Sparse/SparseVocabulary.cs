using System.Globalization;
using System.Text;

namespace Shoal.Engine.Sparse;

/// <summary>
/// A WordPiece-style vocabulary: token strings to term ids. Loaded from a <c>vocab.txt</c> with one
/// token per line, where the id of a token is its 0-based line index (the BERT convention;
/// <c>bert-base-uncased-vocab.txt</c> has 30,522 entries). Immutable and thread-safe.
/// </summary>
public sealed class SparseVocabulary
{
    private readonly string[] _tokens;
    private readonly Dictionary<string, int> _ids;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _spanLookup;

    private SparseVocabulary(string[] tokens, Dictionary<string, int> ids)
    {
        _tokens = tokens;
        _ids = ids;
        _spanLookup = ids.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>Number of tokens (ids are 0 .. Count-1).</summary>
    public int Count => _tokens.Length;

    /// <summary>
    /// Reads a vocabulary file: UTF-8, one token per line (a trailing <c>\r</c> is removed; the token
    /// is otherwise taken verbatim). When a token occurs twice the first line wins.
    /// </summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="FormatException">The file is empty or not UTF-8.</exception>
    public static SparseVocabulary Load(string vocabTxtPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(vocabTxtPath);
        if (!File.Exists(vocabTxtPath)) throw new FileNotFoundException($"Vocabulary file not found: '{vocabTxtPath}'.", vocabTxtPath);
        string all;
        try
        {
            using var reader = new StreamReader(vocabTxtPath, new UTF8Encoding(false, throwOnInvalidBytes: true), detectEncodingFromByteOrderMarks: true);
            all = reader.ReadToEnd();
        }
        catch (DecoderFallbackException e)
        {
            throw new FormatException($"Vocabulary file '{vocabTxtPath}' is not valid UTF-8.", e);
        }
        var tokens = SplitLines(all);
        if (tokens.Count == 0) throw new FormatException($"Vocabulary file '{vocabTxtPath}' is empty.");
        return FromTokens(tokens);
    }

    /// <summary>
    /// Parses the text of a vocabulary file (one token per line, as <see cref="Load"/> reads it);
    /// <paramref name="source"/> names it in errors.
    /// </summary>
    /// <exception cref="FormatException">The text is empty.</exception>
    public static SparseVocabulary Parse(string text, string source)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length > 0 && text[0] == '\uFEFF') text = text[1..];
        var tokens = SplitLines(text);
        if (tokens.Count == 0) throw new FormatException($"Vocabulary '{source}' is empty.");
        return FromTokens(tokens);
    }

    // Split on '\n' only (ReadLine would also split on a lone '\r'), dropping a trailing '\r' per line.
    private static List<string> SplitLines(string all)
    {
        var tokens = new List<string>(32768);
        int start = 0;
        while (start < all.Length)
        {
            int end = all.IndexOf('\n', start);
            if (end < 0) end = all.Length;
            int len = end - start;
            if (len > 0 && all[end - 1] == '\r') len--;
            tokens.Add(all.Substring(start, len));
            start = end + 1;
        }
        return tokens;
    }

    /// <summary>Builds a vocabulary from tokens in id order (the first occurrence of a repeated token wins).</summary>
    public static SparseVocabulary FromTokens(IEnumerable<string> tokens)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        var array = tokens.ToArray();
        var ids = new Dictionary<string, int>(array.Length, StringComparer.Ordinal);
        for (int i = 0; i < array.Length; i++)
        {
            ArgumentNullException.ThrowIfNull(array[i], "tokens[]");
            ids.TryAdd(array[i], i);
        }
        return new SparseVocabulary(array, ids);
    }

    /// <summary>Looks up the id of <paramref name="token"/> (exact, case-sensitive match).</summary>
    public bool TryGetId(string token, out int id)
    {
        ArgumentNullException.ThrowIfNull(token);
        return _ids.TryGetValue(token, out id);
    }

    /// <summary>Looks up the id of a token given as characters, without allocating a string.</summary>
    public bool TryGetId(ReadOnlySpan<char> token, out int id) => _spanLookup.TryGetValue(token, out id);

    /// <summary>The token of <paramref name="id"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The id is outside 0 .. Count-1.</exception>
    public string TokenOf(int id)
    {
        if ((uint)id >= (uint)_tokens.Length)
            throw new ArgumentOutOfRangeException(nameof(id), id, $"Term id must be in [0, {_tokens.Length}).");
        return _tokens[id];
    }

    /// <summary>
    /// Encodes token weights as a <see cref="SparseVector"/>. Zero weights are dropped (not errors).
    /// </summary>
    /// <exception cref="SparseVectorException">A token is not in the vocabulary, a weight is negative,
    /// NaN or infinite, or a token occurs twice; the message names the token.</exception>
    public SparseVector Encode(IEnumerable<KeyValuePair<string, float>> tokenWeights)
    {
        ArgumentNullException.ThrowIfNull(tokenWeights);
        var pairs = new List<(int Term, float Weight)>();
        var seen = new HashSet<int>();
        foreach (var (token, weight) in tokenWeights)
        {
            int id = CheckToken(token, weight);
            if (id < 0) continue;
            if (!seen.Add(id)) throw new SparseVectorException($"Token '{token}' occurs more than once.");
            pairs.Add((id, weight));
        }
        return SparseVector.Create(pairs);
    }

    /// <summary>
    /// Validates one token/weight pair; returns its id, or -1 when the weight is zero (dropped).
    /// </summary>
    internal int CheckToken(ReadOnlySpan<char> token, float weight)
    {
        if (float.IsNaN(weight)) throw new SparseVectorException($"Token '{token}' has weight NaN; weights must be finite and >= 0.");
        if (float.IsInfinity(weight)) throw new SparseVectorException($"Token '{token}' has an infinite weight; weights must be finite and >= 0.");
        if (weight < 0) throw new SparseVectorException($"Token '{token}' has negative weight {weight.ToString(CultureInfo.InvariantCulture)}; weights must be >= 0.");
        if (!_spanLookup.TryGetValue(token, out int id))
            throw new SparseVectorException($"Token '{token}' is not in the vocabulary ({_tokens.Length} tokens).");
        return weight == 0 ? -1 : id;
    }
}
