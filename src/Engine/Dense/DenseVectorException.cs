namespace Shoal.Engine.Dense;

/// <summary>
/// A dense-vector input file could not be read: malformed JSON, a missing id or vector, a vector of
/// the wrong dimension, a NaN or infinite component, or a damaged binary file. The message names
/// the file, the 1-based line (jsonl) or record (binary) and what is wrong.
/// </summary>
public sealed class DenseVectorException : FormatException
{
    /// <summary>Creates an exception with a generic message and no location.</summary>
    public DenseVectorException()
        : this("Malformed dense vector input.")
    {
    }

    /// <summary>Creates an exception with the given message and no location.</summary>
    public DenseVectorException(string message)
        : base(message)
    {
        Path = string.Empty;
        Reason = message;
    }

    /// <summary>Creates an exception with the given message and inner exception, and no location.</summary>
    public DenseVectorException(string message, Exception? innerException)
        : base(message, innerException)
    {
        Path = string.Empty;
        Reason = message;
    }

    /// <summary>Creates an exception for record <paramref name="record"/> of <paramref name="path"/>.</summary>
    /// <param name="path">The input file.</param>
    /// <param name="record">1-based line number (jsonl) or record number (binary); 0 for the file as a whole.</param>
    /// <param name="reason">What is wrong, e.g. <c>vector has 767 dimensions, expected 768</c>.</param>
    /// <param name="innerException">The underlying error, if any.</param>
    /// <param name="unit">"line" or "record": how <paramref name="record"/> is counted.</param>
    public DenseVectorException(string path, long record, string reason, Exception? innerException = null, string unit = "line")
        : base(record > 0
            ? $"Bad dense vector input in '{path}' at {unit} {record}: {reason}"
            : $"Bad dense vector input in '{path}': {reason}", innerException)
    {
        Path = path;
        Record = record;
        Reason = reason;
    }

    /// <summary>The input file; empty when not known.</summary>
    public string Path { get; }

    /// <summary>1-based line (jsonl) or record (binary) number; 0 when not known or the whole file.</summary>
    public long Record { get; }

    /// <summary>What is wrong, without the location.</summary>
    public string Reason { get; }
}
