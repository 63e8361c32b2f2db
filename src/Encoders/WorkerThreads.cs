using System.Collections.Concurrent;

namespace Shoal.Encoders;

/// <summary>
/// A few dedicated threads that run blocking work (model runs) handed to them, in arrival order, so
/// that a model run never holds a thread-pool thread: on a 2-core machine two runs on pool threads
/// left no thread for the callers' continuations and the batcher itself, and the pool added threads
/// only slowly (16 callers through 2 workers: p99 340 ms on pool threads, 84 ms with the pool
/// forced larger; `bench encode --model arctic-xs`).
/// </summary>
internal sealed class WorkerThreads : IDisposable
{
    private readonly BlockingCollection<(Action Work, TaskCompletionSource Done)> _work = new();
    private readonly Thread[] _threads;

    /// <summary>Starts <paramref name="count"/> background threads named after <paramref name="name"/>.</summary>
    public WorkerThreads(int count, string name)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        _threads = new Thread[count];
        for (int i = 0; i < count; i++)
        {
            _threads[i] = new Thread(Loop) { IsBackground = true, Name = $"{name} worker {i}" };
            _threads[i].Start();
        }
    }

    /// <summary>The number of threads.</summary>
    public int Count => _threads.Length;

    /// <summary>Runs <paramref name="work"/> on one of the threads; the task carries its outcome.</summary>
    /// <exception cref="ObjectDisposedException">The threads were stopped.</exception>
    public Task Run(Action work)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        try
        {
            _work.Add((work, done));
        }
        catch (InvalidOperationException e)
        {
            throw new ObjectDisposedException(nameof(WorkerThreads), e);
        }
        return done.Task;
    }

    private void Loop()
    {
        foreach (var (work, done) in _work.GetConsumingEnumerable())
        {
            try
            {
                work();
                done.TrySetResult();
            }
            catch (OperationCanceledException e)
            {
                done.TrySetCanceled(e.CancellationToken);
            }
#pragma warning disable CA1031 // the failure belongs to whoever handed the work over: it is carried by its task
            catch (Exception e)
#pragma warning restore CA1031
            {
                done.TrySetException(e);
            }
        }
    }

    /// <summary>Lets the threads finish the work already handed over, then stops them (waiting for them).</summary>
    public void Dispose()
    {
        _work.CompleteAdding();
        foreach (var t in _threads)
        {
            if (t != Thread.CurrentThread) t.Join();
        }
        _work.Dispose();
    }
}
