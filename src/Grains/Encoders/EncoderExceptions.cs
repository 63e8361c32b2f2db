using Orleans;

namespace Shoal.Grains.Encoders;

/// <summary>
/// No silo of the cluster hosts an encoder of the requested name. The message lists the encoders
/// that exist. Thrown by <see cref="IEncoderService"/>; serialisable, so it may cross grain calls.
/// </summary>
[GenerateSerializer, Alias("shoal.encoders.UnknownEncoderException")]
public sealed class UnknownEncoderException : Exception
{
    /// <summary>Creates the exception.</summary>
    public UnknownEncoderException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public UnknownEncoderException(string message) : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the error that caused it.</summary>
    public UnknownEncoderException(string message, Exception innerException) : base(message, innerException)
    {
    }

    /// <summary>Creates the exception for <paramref name="encoder"/>, listing <paramref name="known"/>.</summary>
    public UnknownEncoderException(string encoder, IReadOnlyCollection<string> known, string? detail = null)
        : base($"Unknown encoder '{encoder}': "
               + (known.Count == 0 ? "no silo of the cluster hosts an encoder (none holds the encoder role)" : $"the cluster hosts {string.Join(", ", known.Select(k => $"'{k}'"))}")
               + (detail is null ? "." : $"; {detail}."))
    {
        Encoder = encoder;
        KnownEncoders = known.ToArray();
    }

    /// <summary>The name asked for.</summary>
    [Id(0)] public string? Encoder { get; private set; }

    /// <summary>The encoder names the cluster hosts.</summary>
    [Id(1)] public string[] KnownEncoders { get; private set; } = [];
}

/// <summary>
/// An encoder exists but none of the silos hosting it could serve the request (they failed, left
/// the cluster, or their model run failed). The message names the encoder and the last error.
/// Serialisable, so it may cross grain calls.
/// </summary>
[GenerateSerializer, Alias("shoal.encoders.EncoderUnavailableException")]
public sealed class EncoderUnavailableException : Exception
{
    /// <summary>Creates the exception.</summary>
    public EncoderUnavailableException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public EncoderUnavailableException(string message) : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the error that caused it.</summary>
    public EncoderUnavailableException(string message, Exception? innerException) : base(message, innerException)
    {
    }

    /// <summary>Creates the exception for <paramref name="encoder"/>.</summary>
    public EncoderUnavailableException(string encoder, string message, Exception? innerException = null) : base(message, innerException)
    {
        Encoder = encoder;
    }

    /// <summary>The encoder.</summary>
    [Id(0)] public string? Encoder { get; private set; }
}
