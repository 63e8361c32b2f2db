namespace Shoal.Encoders;

/// <summary>What an <see cref="ITextEncoder"/> produces for each text.</summary>
public enum EncoderKind
{
    /// <summary>
    /// A dense vector of <see cref="EncodedBatch.Dimensions"/> floats per text (CLS or mean pooled
    /// hidden states of a BERT-style model, optionally L2-normalised).
    /// </summary>
    Dense,

    /// <summary>
    /// A <see cref="Shoal.Engine.Sparse.SparseVector"/> over the tokenizer's WordPiece vocabulary per
    /// text (term id = vocabulary line index): SPLADE or inference-free IDF weights.
    /// </summary>
    Sparse,

    /// <summary>
    /// Analysed BM25 terms with their counts per text (<see cref="TermCount"/>), from the engine's
    /// text analyzer; no model.
    /// </summary>
    Bm25,
}
