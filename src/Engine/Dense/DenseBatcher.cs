using Shoal.Engine.Search;

namespace Shoal.Engine.Dense;

/// <summary>
/// Opportunistic batching of exact dense scans: while a scan runs, queries that arrive queue up,
/// and the next pass scores all of them at once (<see cref="DenseSegment.SearchExactBatch"/>), so
/// memory is read once per batch instead of once per query. A lone query runs at once: batching
/// adds no wait at low load and raises throughput under concurrency.
/// </summary>
/// <remarks>
/// A pass runs on the thread pool after its callers may have given up; when the segment's memory is
/// reference-counted (<paramref name="owner"/>), the pass holds a reference on it so it is never unmapped
/// under the scan. Without an owner the caller keeps the segment open while the batcher is in use.
/// </remarks>
/// <param name="segment">The segment scanned.</param>
/// <param name="owner">The reference count that owns <paramref name="segment"/>, or null.</param>
public sealed class DenseBatcher(DenseSegment segment, IReferenceCounted? owner = null)
{
    /// <summary>Most queries scored in one pass.</summary>
    public const int MaxBatch = 64;

    private readonly IReferenceCounted? _owner = owner;
    private readonly DenseSegment _segment = segment;
    private readonly Lock _gate = new();
    private readonly Queue<Pending> _queue = new();
    private bool _running;
    private long _passes;
    private long _queries;

    /// <summary>Passes over the vectors so far.</summary>
    public long Passes => Interlocked.Read(ref _passes);

    /// <summary>Queries answered so far.</summary>
    public long Queries => Interlocked.Read(ref _queries);

    /// <summary>Exact top-k of <paramref name="query"/>; the caller holds a reference on the owning lease.</summary>
    public Task<ScoredDoc[]> SearchAsync(float[] query, int k, CancellationToken cancellationToken)
    {
        var pending = new Pending(query, k);
        bool start;
        lock (_gate)
        {
            _queue.Enqueue(pending);
            start = !_running;
            if (start) _running = true;
        }
        if (start) _ = Task.Run(RunPasses, CancellationToken.None);
        return pending.Result.Task.WaitAsync(cancellationToken);
    }

    private void RunPasses()
    {
        // Hold the segments while any pass runs: a caller that gives up early must not unmap them under us.
        bool held = _owner?.TryAcquire() ?? true;
        try
        {
            while (true)
            {
                Pending[] batch;
                lock (_gate)
                {
                    if (_queue.Count == 0 || !held)
                    {
                        while (!held && _queue.TryDequeue(out var orphan))
                            orphan.Result.TrySetException(new ObjectDisposedException("The shard version was unloaded."));
                        _running = false;
                        return;
                    }
                    batch = new Pending[Math.Min(MaxBatch, _queue.Count)];
                    for (int i = 0; i < batch.Length; i++) batch[i] = _queue.Dequeue();
                }
                Run(batch);
            }
        }
        finally
        {
            if (held) _owner?.Release();
        }
    }

    private void Run(Pending[] batch)
    {
        try
        {
            Interlocked.Increment(ref _passes);
            Interlocked.Add(ref _queries, batch.Length);
            if (batch.Length == 1)
            {
                batch[0].Result.TrySetResult(_segment.SearchExact(batch[0].Query, batch[0].K));
                return;
            }
            int dims = _segment.Dims;
            int k = 1;
            var queries = new float[batch.Length * dims];
            for (int i = 0; i < batch.Length; i++)
            {
                batch[i].Query.CopyTo(queries, i * dims);
                k = Math.Max(k, batch[i].K);
            }
            var results = _segment.SearchExactBatch(queries, k);
            for (int i = 0; i < batch.Length; i++)
            {
                var r = results[i];
                batch[i].Result.TrySetResult(r.Length > batch[i].K ? r[..batch[i].K] : r);
            }
        }
#pragma warning disable CA1031 // a failed pass fails every query of its batch through their completion sources
        catch (Exception e)
#pragma warning restore CA1031
        {
            foreach (var p in batch) p.Result.TrySetException(e);
        }
    }

    private sealed class Pending(float[] query, int k)
    {
        public float[] Query { get; } = query;
        public int K { get; } = k;
        public TaskCompletionSource<ScoredDoc[]> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
