namespace Shoal.Encoders;

/// <summary>How a dense encoder turns per-token hidden states into one vector.</summary>
public enum PoolingMode
{
    /// <summary>
    /// The average of the hidden states of the unmasked tokens (attention mask 1, so [CLS] and
    /// [SEP] included, padding excluded): sentence-transformers' mean pooling (all-MiniLM, e5).
    /// </summary>
    Mean,

    /// <summary>The hidden state of the first token, [CLS] (bge, DPR-style models).</summary>
    Cls,
}
