using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Shoal.Encoders;

/// <summary>
/// Dynamic micro-batching: many concurrent callers submit single items; one worker loop groups
/// them into batches and runs one batch function per group, then completes each caller with its
/// own result.
/// </summary>
/// <remarks>
/// <para><b>Batching rule.</b> The worker waits for a first item, then collects more until it has
/// <see cref="MicroBatcherOptions.MaxBatchSize"/> items or the oldest waiting item has waited
/// <see cref="MicroBatcherOptions.MaxWait"/> since it was submitted, whichever comes first, and
/// runs the batch (items in submission order). With <see cref="MicroBatcherOptions.EarlyDispatch"/>
/// (the default) it also starts as soon as as many items wait as were outstanding when the previous
/// batch finished (its items plus those queued meanwhile: callers that were just answered tend to
/// come back). Items
/// that arrive while a batch runs wait for the next one; if they have already waited <c>MaxWait</c>
/// by then, that batch starts at once. At most <see cref="MicroBatcherOptions.Workers"/> batches
/// run at a time (default one); with several, a batch takes its share of the waiting items (the
/// queue divided by the free workers, rounded up). Batches run on the batcher's own threads, one
/// per worker, never on thread-pool threads.</para>
/// <para><b>Back-pressure.</b> At most <see cref="MicroBatcherOptions.QueueCapacity"/> items wait
/// (the running batch not counted). <see cref="SubmitAsync"/> on a full queue throws
/// <see cref="EncoderQueueFullException"/> synchronously — before anything is queued — instead of
/// returning a task.</para>
/// <para><b>Cancellation.</b> A caller whose token is cancelled while its item waits is removed
/// from the queue (the item is never run) and its task is cancelled. If its batch is already
/// running, the task is cancelled at once and the item's result discarded.</para>
/// <para><b>Errors.</b> If the batch function throws (or returns a list of the wrong length), every
/// caller of that batch gets the exception; the worker carries on with the next batch.</para>
/// <para><b>Shutdown.</b> <see cref="DisposeAsync"/> refuses new items, runs those already queued
/// and waits for the worker. <see cref="Dispose"/> refuses new items, fails the queued ones with
/// <see cref="ObjectDisposedException"/>, cancels the token passed to the running batch and waits
/// for that batch to end.</para>
/// <para>Thread-safe.</para>
/// </remarks>
/// <typeparam name="TIn">Item type.</typeparam>
/// <typeparam name="TOut">Per-item result type.</typeparam>
public sealed class MicroBatcher<TIn, TOut> : IAsyncDisposable, IDisposable
{
    private readonly Func<IReadOnlyList<TIn>, CancellationToken, Task<IReadOnlyList<TOut>>> _runBatch;
    private readonly string _name;
    private readonly int _maxBatchSize;
    private readonly int _capacity;
    private readonly long _maxWaitTicks;
    private readonly bool _earlyDispatch;
    private readonly int _workers;
    private readonly SemaphoreSlim _slots;
    private readonly WorkerThreads _threads;
    private readonly ILogger _logger;
    private readonly object _lock = new();
    private readonly LinkedList<Entry> _queue = new();
    private readonly SemaphoreSlim _signal = new(0, 1);
    private readonly CancellationTokenSource _abort = new();
    private readonly Task _worker;
    private bool _closed;
    private long _batchesRun, _itemsProcessed, _itemsRejected, _itemsCanceled, _batchesFailed;
    private int _largestBatch;
    private int _running; // batches in flight, under _lock
    private int _target; // items that start a batch without waiting for the deadline, under _lock

    /// <summary>Starts the worker loop.</summary>
    /// <param name="runBatch">Runs one batch; returns one result per item, in item order. Its token is
    /// cancelled only by <see cref="Dispose"/>.</param>
    /// <param name="options">Batch size, wait and capacity (validated).</param>
    /// <param name="logger">Receives batch failures.</param>
    public MicroBatcher(Func<IReadOnlyList<TIn>, CancellationToken, Task<IReadOnlyList<TOut>>> runBatch, MicroBatcherOptions? options = null,
        ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(runBatch);
        options ??= new MicroBatcherOptions();
        options.Validate();
        _runBatch = runBatch;
        _name = options.Name;
        _maxBatchSize = options.MaxBatchSize;
        _capacity = options.QueueCapacity;
        _maxWaitTicks = (long)(options.MaxWait.TotalSeconds * Stopwatch.Frequency);
        _earlyDispatch = options.EarlyDispatch;
        _workers = options.Workers;
        _slots = new SemaphoreSlim(_workers, _workers);
        _threads = new WorkerThreads(_workers, _name);
        _target = _maxBatchSize;
        _logger = logger ?? NullLogger.Instance;
        _worker = Task.Run(WorkerLoopAsync);
    }

    /// <summary>Batch-function calls that returned results.</summary>
    public long BatchesRun => Interlocked.Read(ref _batchesRun);

    /// <summary>Items in batches that returned results.</summary>
    public long ItemsProcessed => Interlocked.Read(ref _itemsProcessed);

    /// <summary>Submissions refused because the queue was full.</summary>
    public long ItemsRejected => Interlocked.Read(ref _itemsRejected);

    /// <summary>Items removed from the queue because their caller cancelled.</summary>
    public long ItemsCanceled => Interlocked.Read(ref _itemsCanceled);

    /// <summary>Batch-function calls that threw.</summary>
    public long BatchesFailed => Interlocked.Read(ref _batchesFailed);

    /// <summary>The largest batch run so far.</summary>
    public int LargestBatch => Volatile.Read(ref _largestBatch);

    /// <summary>Items waiting for a batch now.</summary>
    public int QueueLength
    {
        get
        {
            lock (_lock) return _queue.Count;
        }
    }

    /// <summary>The most batches run at the same time.</summary>
    public int Workers => _workers;

    /// <summary>The queue capacity.</summary>
    public int Capacity => _capacity;

    /// <summary>
    /// Queues <paramref name="item"/> for the next batch; the task completes with its result.
    /// </summary>
    /// <exception cref="EncoderQueueFullException">Thrown synchronously when
    /// <see cref="Capacity"/> items are already waiting; nothing is queued.</exception>
    /// <exception cref="ObjectDisposedException">The batcher is shutting down.</exception>
    public Task<TOut> SubmitAsync(TIn item, CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested) return Task.FromCanceled<TOut>(cancellationToken);
        var entry = new Entry(this, item, Stopwatch.GetTimestamp());
        if (cancellationToken.CanBeCanceled)
            entry.Registration = cancellationToken.UnsafeRegister(static (state, token) => ((Entry)state!).Cancel(token), entry);
        lock (_lock)
        {
            if (entry.Completion.Task.IsCompleted) return entry.Completion.Task; // cancelled while registering
            if (_closed)
            {
                entry.Registration.Unregister();
                throw new ObjectDisposedException(GetType().Name, $"The encoder queue '{_name}' is shutting down.");
            }
            if (_queue.Count >= _capacity)
            {
                entry.Registration.Unregister();
                _itemsRejected++;
                throw new EncoderQueueFullException(_name, _capacity);
            }
            entry.Node = _queue.AddLast(entry);
            if (_signal.CurrentCount == 0) _signal.Release();
        }
        return entry.Completion.Task;
    }

    /// <summary>Refuses new items, runs the queued ones, and waits for the worker to finish.</summary>
    public async ValueTask DisposeAsync()
    {
        Close();
        await _worker.ConfigureAwait(false);
        _abort.Dispose();
        _slots.Dispose();
    }

    /// <summary>
    /// Refuses new items, fails queued ones with <see cref="ObjectDisposedException"/>, cancels the
    /// running batch's token and waits for that batch to end (so that the batch function's
    /// resources, e.g. an ONNX session, can be released safely afterwards).
    /// </summary>
    public void Dispose()
    {
        List<Entry> dropped;
        lock (_lock)
        {
            dropped = [.. _queue];
            _queue.Clear();
            _closed = true;
            if (_signal.CurrentCount == 0) _signal.Release();
        }
        var error = new ObjectDisposedException(GetType().Name, $"The encoder queue '{_name}' was disposed before the request ran.");
        foreach (var e in dropped)
        {
            e.Registration.Unregister();
            e.Completion.TrySetException(error);
        }
        try
        {
            _abort.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // DisposeAsync already completed.
        }
        _worker.GetAwaiter().GetResult();
    }

    private void Close()
    {
        lock (_lock)
        {
            _closed = true;
            if (_signal.CurrentCount == 0) _signal.Release();
        }
    }

    private async Task WorkerLoopAsync()
    {
        try
        {
            while (true)
            {
                // 1. Wait for a first item (or for the end).
                while (true)
                {
                    lock (_lock)
                    {
                        if (_queue.Count > 0) break;
                        if (_closed) return;
                    }
                    await _signal.WaitAsync().ConfigureAwait(false);
                }

                // 2. Wait for a free worker.
                await _slots.WaitAsync().ConfigureAwait(false);

                // 3. Wait for a full batch or for the oldest item's deadline.
                while (true)
                {
                    long deadline;
                    lock (_lock)
                    {
                        if (_queue.Count == 0 || _queue.Count >= _target || _closed) break;
                        deadline = _queue.First!.Value.SubmittedAt + _maxWaitTicks;
                    }
                    long remaining = deadline - Stopwatch.GetTimestamp();
                    if (remaining <= 0) break;
                    await _signal.WaitAsync(TimeSpan.FromSeconds((double)remaining / Stopwatch.Frequency)).ConfigureAwait(false);
                }

                // 4. Take this worker's share, oldest first.
                var batch = new List<Entry>(Math.Min(_maxBatchSize, 64));
                lock (_lock)
                {
                    int free = _workers - _running; // this worker included
                    int share = Math.Min(_maxBatchSize, (_queue.Count + free - 1) / free);
                    while (batch.Count < share && _queue.First is { } node)
                    {
                        _queue.RemoveFirst();
                        batch.Add(node.Value);
                    }
                    if (batch.Count > 0) _running++;
                }
                if (batch.Count == 0)
                {
                    _slots.Release();
                    continue;
                }
                // A worker thread runs the batch (never a thread-pool thread: a model run blocks).
                _ = _threads.Run(() => RunAndReleaseAsync(batch).GetAwaiter().GetResult());
            }
        }
        finally
        {
            // The end: wait for the batches still running (Dispose waits for this loop).
            for (int i = 0; i < _workers; i++) await _slots.WaitAsync().ConfigureAwait(false);
            _threads.Dispose();
        }
    }

    private async Task RunAndReleaseAsync(List<Entry> batch)
    {
        try
        {
            await RunAsync(batch).ConfigureAwait(false);
        }
        finally
        {
            lock (_lock)
            {
                _running--;
                // Callers answered just now tend to come back (closed loop); with those already
                // waiting they make the next wave.
                if (_earlyDispatch) _target = Math.Clamp(batch.Count + _queue.Count, 1, _maxBatchSize);
            }
            _slots.Release();
        }
    }

    private async Task RunAsync(List<Entry> batch)
    {
        var items = new TIn[batch.Count];
        for (int i = 0; i < items.Length; i++) items[i] = batch[i].Item;
        IReadOnlyList<TOut> results;
        try
        {
            results = await _runBatch(items, _abort.Token).ConfigureAwait(false);
            if (results is null || results.Count != items.Length)
                throw new InvalidOperationException($"The batch function of '{_name}' returned {results?.Count.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "null"} results for {items.Length} items.");
        }
#pragma warning disable CA1031 // a failed batch is handed to every caller waiting on it; the batching loop must live on to serve the next batch
        catch (Exception e)
#pragma warning restore CA1031
        {
            Interlocked.Increment(ref _batchesFailed);
            EncoderLog.BatchFailed(_logger, e, _name, items.Length);
            foreach (var entry in batch)
            {
                entry.Registration.Unregister();
                if (e is OperationCanceledException oce) entry.Completion.TrySetCanceled(oce.CancellationToken);
                else entry.Completion.TrySetException(e);
            }
            return;
        }
        Interlocked.Increment(ref _batchesRun);
        Interlocked.Add(ref _itemsProcessed, items.Length);
        EncoderMetrics.BatchSize.Record(items.Length, new KeyValuePair<string, object?>("batcher", _name));
        for (int seen = Volatile.Read(ref _largestBatch); items.Length > seen; seen = Volatile.Read(ref _largestBatch))
        {
            if (Interlocked.CompareExchange(ref _largestBatch, items.Length, seen) == seen) break;
        }
        for (int i = 0; i < batch.Count; i++)
        {
            batch[i].Registration.Unregister();
            batch[i].Completion.TrySetResult(results[i]);
        }
    }

    /// <summary>A submitted item: its caller's completion and its place in the queue.</summary>
    private sealed class Entry(MicroBatcher<TIn, TOut> owner, TIn item, long submittedAt)
    {
        public TIn Item { get; } = item;

        public long SubmittedAt { get; } = submittedAt;

        public TaskCompletionSource<TOut> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public LinkedListNode<Entry>? Node { get; set; }

        public CancellationTokenRegistration Registration { get; set; }

        public void Cancel(CancellationToken token)
        {
            lock (owner._lock)
            {
                if (Node?.List is not null)
                {
                    owner._queue.Remove(Node);
                    owner._itemsCanceled++;
                }
            }
            Completion.TrySetCanceled(token);
        }
    }
}
