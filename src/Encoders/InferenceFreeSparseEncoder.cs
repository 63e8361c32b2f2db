using System.Text.Json;
using Shoal.Engine.Sparse;

namespace Shoal.Encoders;

/// <summary>
/// The query side of inference-free learned sparse retrieval (OpenSearch's "doc-only" neural
/// sparse mode, e.g. opensearch-neural-sparse-encoding-doc-v2-distill): no model at query time,
/// each query token weighted by a fixed IDF table (<c>idf.json</c>, token → weight).
/// </summary>
/// <remarks>
/// <para>The mapping reproduces ml-commons' <c>SparseTokenizerModel</c> (function
/// <c>SPARSE_TOKENIZE</c>), which OpenSearch runs for such queries: the text is tokenised with the
/// model's bert-base-uncased WordPiece tokenizer (no truncation); each <b>distinct</b> token id
/// counts once (a repeated token does not add weight); special tokens — [CLS], [SEP], [PAD],
/// [MASK] and also [UNK], which decodes to nothing with special tokens skipped — are dropped; the
/// weight of a token is its value in <c>idf.json</c>, or 1.0 when the table has no entry for it.
/// So "ny weather now" gives {ny: 5.7729, weather: 4.5684, now: 3.5895} with the published table.</para>
/// <para>Term ids are WordPiece ids (the same space as the documents' SPLADE-style vectors). Entries
/// with weight ≤ 0 are dropped (a <see cref="SparseVector"/> holds positive weights only).
/// <see cref="MaxTokens"/> &gt; 0 limits the tokens considered to the first ones (0: no limit, as
/// OpenSearch).</para>
/// <para>Immutable and thread-safe; encoding is a table lookup, done inline.</para>
/// </remarks>
public sealed class InferenceFreeSparseEncoder : ITextEncoder
{
    /// <summary>ml-commons' weight for a token missing from the IDF table.</summary>
    public const float DefaultMissingWeight = 1.0f;

    private readonly float[] _weightById;

    /// <summary>Creates the encoder from an IDF table already in memory.</summary>
    /// <param name="tokenizer">The WordPiece tokenizer whose vocabulary the table is keyed by.</param>
    /// <param name="idf">Token → weight. Tokens not in the vocabulary are ignored.</param>
    /// <param name="name">Name for logs.</param>
    /// <param name="maxTokens">Tokens considered per text (0: all).</param>
    public InferenceFreeSparseEncoder(WordPieceTokenizer tokenizer, IReadOnlyDictionary<string, float> idf, string name = "inference-free", int maxTokens = 0)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(idf);
        ArgumentOutOfRangeException.ThrowIfNegative(maxTokens);
        Tokenizer = tokenizer;
        Name = name;
        MaxTokens = maxTokens;
        _weightById = new float[tokenizer.VocabularySize];
        int matched = 0;
        for (int id = 0; id < _weightById.Length; id++)
        {
            if (idf.TryGetValue(tokenizer.TokenOf(id), out float w)) { _weightById[id] = w; matched++; }
            else _weightById[id] = DefaultMissingWeight;
        }
        TableEntriesMatched = matched;
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <inheritdoc />
    public EncoderKind Kind => EncoderKind.Sparse;

    /// <summary>The tokenizer.</summary>
    public WordPieceTokenizer Tokenizer { get; }

    /// <summary>Tokens considered per text; 0 means all.</summary>
    public int MaxTokens { get; }

    /// <summary>How many vocabulary tokens have an entry in the IDF table (the rest weigh 1.0).</summary>
    public int TableEntriesMatched { get; }

    /// <summary>Loads <c>idf.json</c> (a JSON object of token → number).</summary>
    /// <exception cref="EncoderConfigurationException">The file is missing or not such an object.</exception>
    public static InferenceFreeSparseEncoder Load(WordPieceTokenizer tokenizer, string idfJsonPath, string? name = null, int maxTokens = 0)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentException.ThrowIfNullOrEmpty(idfJsonPath);
        if (!File.Exists(idfJsonPath))
            throw new EncoderConfigurationException($"IDF file '{idfJsonPath}' does not exist; expected idf.json, a JSON object of token -> weight.", idfJsonPath);
        Dictionary<string, float>? idf;
        try
        {
            idf = JsonSerializer.Deserialize<Dictionary<string, float>>(File.ReadAllBytes(idfJsonPath));
        }
        catch (JsonException e)
        {
            throw new EncoderConfigurationException($"IDF file '{idfJsonPath}' is not a JSON object of token -> number: {e.Message}", idfJsonPath, e);
        }
        if (idf is null || idf.Count == 0)
            throw new EncoderConfigurationException($"IDF file '{idfJsonPath}' is empty; expected a JSON object of token -> weight.", idfJsonPath);
        var encoder = new InferenceFreeSparseEncoder(tokenizer, idf, name ?? Path.GetFileName(idfJsonPath), maxTokens);
        if (encoder.TableEntriesMatched == 0)
            throw new EncoderConfigurationException(
                $"None of the {idf.Count} tokens of IDF file '{idfJsonPath}' is in the vocabulary of '{tokenizer.Source}'; the table belongs to another tokenizer.", idfJsonPath);
        return encoder;
    }

    /// <summary>The weight of term <paramref name="termId"/> (its IDF, or 1.0 when the table lacks it).</summary>
    public float WeightOf(int termId)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(termId);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(termId, _weightById.Length);
        return _weightById[termId];
    }

    /// <summary>Encodes one text (see the class remarks for the exact mapping).</summary>
    public SparseVector Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = Tokenizer.Tokenize(text);
        int n = MaxTokens > 0 ? Math.Min(MaxTokens, ids.Count) : ids.Count;
        var distinct = new SortedSet<int>();
        for (int i = 0; i < n; i++)
        {
            int id = ids[i];
            if (!Tokenizer.IsSpecial(id) && _weightById[id] > 0 && float.IsFinite(_weightById[id])) distinct.Add(id);
        }
        var terms = distinct.ToArray();
        var weights = new float[terms.Length];
        for (int i = 0; i < terms.Length; i++) weights[i] = _weightById[terms[i]];
        return new SparseVector(terms, weights);
    }

    /// <summary>Encodes each text.</summary>
    public EncodedBatch Encode(IReadOnlyList<string> texts)
    {
        ArgumentNullException.ThrowIfNull(texts);
        var vectors = new SparseVector[texts.Count];
        for (int i = 0; i < vectors.Length; i++) vectors[i] = Encode(texts[i] ?? throw new ArgumentNullException(nameof(texts), $"Text {i} is null."));
        return EncodedBatch.FromSparse(vectors);
    }

    /// <inheritdoc />
    public Task<EncodedBatch> EncodeAsync(IReadOnlyList<string> texts, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(texts);
        if (ct.IsCancellationRequested) return Task.FromCanceled<EncodedBatch>(ct);
        return Task.FromResult(Encode(texts));
    }
}
