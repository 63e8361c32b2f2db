namespace Shoal.Encoders;

/// <summary>
/// A model-based encoder whose input is WordPiece-tokenised text: tokenisation
/// (<see cref="Tokenizer"/>) and the model run (<see cref="EncodeTokens"/>) can happen on different
/// threads. <see cref="EncoderPool"/> uses this to tokenise each request on its caller's thread, in
/// parallel, while its single worker runs the model on padded batches.
/// </summary>
public interface ITokenizedTextEncoder : ITextEncoder
{
    /// <summary>The model's tokenizer.</summary>
    WordPieceTokenizer Tokenizer { get; }

    /// <summary>
    /// Instruction the encoder puts before every query (<see cref="EncoderPool.EncodeAsync"/>);
    /// empty for none. Part of the encoder, so users type plain queries.
    /// </summary>
    string QueryPrefix { get; }

    /// <summary>Instruction the encoder puts before every document (<see cref="EncoderPool.EncodeDocumentsAsync"/>); empty for none.</summary>
    string DocumentPrefix { get; }

    /// <summary>Session runs so far (one per non-empty batch).</summary>
    long SessionRuns { get; }

    /// <summary>Runs the model once on <paramref name="batch"/>, on the calling thread.</summary>
    EncodedBatch EncodeTokens(TokenizedBatch batch);
}
