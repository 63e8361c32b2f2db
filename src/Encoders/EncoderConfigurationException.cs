namespace Shoal.Encoders;

/// <summary>
/// An encoder cannot be built from its configuration: a model, vocabulary, tokenizer or IDF file
/// is missing or malformed, a model's inputs or outputs are not what the encoder feeds and reads,
/// or a required execution provider (CUDA with <c>"cuda-required"</c>) cannot be loaded. Thrown at
/// construction, never per request. The message names the file (or setting) and says what was
/// expected and what was found.
/// </summary>
public sealed class EncoderConfigurationException : Exception
{
    /// <summary>Creates the exception.</summary>
    public EncoderConfigurationException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public EncoderConfigurationException(string message) : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the error that caused it.</summary>
    public EncoderConfigurationException(string message, Exception innerException) : base(message, innerException)
    {
    }

    /// <summary>Creates the exception naming the offending file.</summary>
    public EncoderConfigurationException(string message, string? path, Exception? innerException = null) : base(message, innerException)
    {
        Path = path;
    }

    /// <summary>The file the problem is with, when there is one.</summary>
    public string? Path { get; }
}
