namespace Shoal.Encoders;

/// <summary>What a text is to an encoder: instruction-tuned encoders put a different prefix before each.</summary>
public enum TextRole
{
    /// <summary>A search query (<see cref="ITokenizedTextEncoder.QueryPrefix"/>).</summary>
    Query,

    /// <summary>A document being indexed (<see cref="ITokenizedTextEncoder.DocumentPrefix"/>).</summary>
    Document,
}
