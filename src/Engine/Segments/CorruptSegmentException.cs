namespace Shoal.Engine.Segments;

/// <summary>
/// A segment file is truncated, corrupt, of an unknown version or of the wrong kind.
/// The message always names the file.
/// </summary>
public sealed class CorruptSegmentException : IOException
{
    /// <summary>Creates the exception for <paramref name="path"/> with a reason.</summary>
    public CorruptSegmentException(string path, string reason)
        : base($"Segment file '{path}' is unusable: {reason}")
    {
        FilePath = path;
        Reason = reason;
    }

    /// <summary>The file that was refused.</summary>
    public string FilePath { get; }

    /// <summary>What was wrong with it.</summary>
    public string Reason { get; }
}
