namespace Shoal.Encoders;

/// <summary>Settings of a <see cref="MicroBatcher{TIn, TOut}"/>.</summary>
public sealed class MicroBatcherOptions
{
    /// <summary>The most items handed to one batch-function call (at least 1). Default 32.</summary>
    public int MaxBatchSize { get; set; } = 32;

    /// <summary>
    /// The longest the oldest waiting item waits for companions before its batch runs anyway
    /// (measured from when it was submitted; zero runs whatever is queued at once). Default 2 ms.
    /// </summary>
    public TimeSpan MaxWait { get; set; } = TimeSpan.FromMilliseconds(2);

    /// <summary>
    /// Adaptive early dispatch (default true): also start a batch as soon as as many items wait as
    /// were outstanding when the previous batch finished (its items plus those queued meanwhile).
    /// Closed-loop callers (each sends its next request when answered) then form one full wave
    /// without waiting out <see cref="MaxWait"/> every time, and a lone caller is not delayed after
    /// its first request; <see cref="MaxWait"/> still bounds every wait.
    /// </summary>
    public bool EarlyDispatch { get; set; } = true;

    /// <summary>
    /// The most items waiting for a batch (not counting those in the batch being run); a submit
    /// beyond it fails with <see cref="EncoderQueueFullException"/>. At least 1. Default 1024.
    /// </summary>
    public int QueueCapacity { get; set; } = 1024;

    /// <summary>
    /// The most batches run at the same time (at least 1). Default 1. With more than one, the
    /// waiting items are shared out over the free workers (a wave of 16 requests on 2 free workers
    /// makes two batches of 8), each on a worker thread of its own: on CPU, two
    /// single-threaded model runs side by side keep both cores busy without the per-operator
    /// synchronisation that one run spread over two threads pays.
    /// </summary>
    public int Workers { get; set; } = 1;

    /// <summary>A name for error messages and logs. Default "encoder".</summary>
    public string Name { get; set; } = "encoder";

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (MaxBatchSize < 1) throw new ArgumentOutOfRangeException(nameof(MaxBatchSize), MaxBatchSize, "MaxBatchSize must be at least 1.");
        if (Workers < 1) throw new ArgumentOutOfRangeException(nameof(Workers), Workers, "Workers must be at least 1.");
        if (QueueCapacity < 1) throw new ArgumentOutOfRangeException(nameof(QueueCapacity), QueueCapacity, "QueueCapacity must be at least 1.");
        if (MaxWait < TimeSpan.Zero || MaxWait > TimeSpan.FromMinutes(1))
            throw new ArgumentOutOfRangeException(nameof(MaxWait), MaxWait, "MaxWait must be between 0 and 1 minute.");
    }
}
