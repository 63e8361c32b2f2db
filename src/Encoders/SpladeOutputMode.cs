namespace Shoal.Encoders;

/// <summary>The output convention of a SPLADE model (see <see cref="SpladeOnnxEncoder"/>).</summary>
public enum SpladeOutputMode
{
    /// <summary>MLM logits <c>[batch, sequence, vocab]</c>; the encoder applies log(1 + ReLU) and masked max pooling.</summary>
    Logits,

    /// <summary>(term ids, weights) pairs <c>[batch, k]</c> computed by the model; weights are final.</summary>
    Pairs,

    /// <summary>Final term weights <c>[batch, vocab]</c> computed by the model.</summary>
    Pooled,
}
