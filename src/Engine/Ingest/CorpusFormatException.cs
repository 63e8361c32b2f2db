namespace Shoal.Engine.Ingest;

/// <summary>
/// A corpus file line could not be read as a document of the expected format (bad JSON, missing or
/// empty id, missing text, wrong column count, invalid UTF-8, ...). The message names the file, the
/// 1-based line number and what is wrong; the same facts are available as properties.
/// </summary>
public sealed class CorpusFormatException : FormatException
{
    /// <summary>Creates an exception with a generic message and no location.</summary>
    public CorpusFormatException()
        : this("Malformed corpus record.")
    {
    }

    /// <summary>Creates an exception with the given message and no location.</summary>
    public CorpusFormatException(string message)
        : base(message)
    {
        Path = string.Empty;
        Reason = message;
    }

    /// <summary>Creates an exception with the given message, inner exception and no location.</summary>
    public CorpusFormatException(string message, Exception? innerException)
        : base(message, innerException)
    {
        Path = string.Empty;
        Reason = message;
    }

    /// <summary>Creates an exception for line <paramref name="lineNumber"/> of <paramref name="path"/>.</summary>
    /// <param name="path">The corpus file.</param>
    /// <param name="lineNumber">1-based line number of the offending line.</param>
    /// <param name="reason">What is wrong with the line, e.g. <c>missing "_id"</c>.</param>
    /// <param name="innerException">The underlying parser error, if any.</param>
    public CorpusFormatException(string path, long lineNumber, string reason, Exception? innerException = null)
        : base($"Malformed corpus record in '{path}' at line {lineNumber}: {reason}", innerException)
    {
        Path = path;
        LineNumber = lineNumber;
        Reason = reason;
    }

    /// <summary>The corpus file (as given to the reader); empty when not known.</summary>
    public string Path { get; }

    /// <summary>1-based line number of the offending line; 0 when not known.</summary>
    public long LineNumber { get; }

    /// <summary>What is wrong with the line, without the location.</summary>
    public string Reason { get; }
}
