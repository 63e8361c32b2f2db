namespace Shoal.Engine.Sparse;

/// <summary>
/// A sparse vector is invalid: an unknown token, a negative, NaN or infinite weight, a duplicate or
/// negative term id, or mismatched arrays. The message names the token or term and what is wrong.
/// </summary>
public sealed class SparseVectorException : FormatException
{
    /// <summary>Creates the exception with a generic message.</summary>
    public SparseVectorException()
        : base("Invalid sparse vector.")
    {
    }

    /// <summary>Creates the exception with a message that names the offending token or term.</summary>
    public SparseVectorException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and an inner exception.</summary>
    public SparseVectorException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
