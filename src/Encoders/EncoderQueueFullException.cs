namespace Shoal.Encoders;

/// <summary>
/// Back-pressure: a <see cref="MicroBatcher{TIn, TOut}"/> (and so an <see cref="EncoderPool"/>)
/// already holds <see cref="Capacity"/> requests waiting for a batch, and refuses more instead of
/// queueing without bound. Thrown synchronously by <c>SubmitAsync</c>, before anything is queued;
/// the caller may retry later or shed the request (an HTTP front end maps it to 503/429).
/// </summary>
public sealed class EncoderQueueFullException : Exception
{
    /// <summary>Creates the exception.</summary>
    public EncoderQueueFullException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public EncoderQueueFullException(string message) : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the error that caused it.</summary>
    public EncoderQueueFullException(string message, Exception innerException) : base(message, innerException)
    {
    }

    /// <summary>Creates the exception for a queue of <paramref name="capacity"/> requests.</summary>
    public EncoderQueueFullException(string name, int capacity)
        : base($"The encoder queue '{name}' is full: {capacity} requests are already waiting (capacity {capacity}). Retry later or raise the queue capacity.")
    {
        Capacity = capacity;
    }

    /// <summary>The queue's capacity (requests waiting, not counting the batch being run).</summary>
    public int Capacity { get; }
}
