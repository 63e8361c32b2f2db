using System.Collections.Concurrent;

namespace Shoal.Encoders.Tests;

public sealed class MicroBatcherTests
{
    [Fact]
    public async Task Concurrent_requests_run_in_far_fewer_batches_and_each_gets_its_own_result()
    {
        var sizes = new ConcurrentQueue<int>();
        await using var batcher = new MicroBatcher<int, int>(async (items, ct) =>
        {
            sizes.Enqueue(items.Count);
            await Task.Delay(20, ct);
            return items.Select(i => i * 10).ToArray();
        }, new MicroBatcherOptions { MaxBatchSize = 16, MaxWait = TimeSpan.FromMilliseconds(5) });

        var tasks = Enumerable.Range(0, 64).Select(i => Task.Run(() => batcher.SubmitAsync(i))).ToArray();
        var results = await Task.WhenAll(tasks);

        Assert.Equal(Enumerable.Range(0, 64).Select(i => i * 10), results);
        Assert.Equal(64, batcher.ItemsProcessed);
        Assert.Equal(sizes.Count, batcher.BatchesRun);
        Assert.True(batcher.BatchesRun <= 16, $"64 requests took {batcher.BatchesRun} batches ({string.Join(",", sizes)})");
        Assert.All(sizes, s => Assert.InRange(s, 1, 16));
        Assert.Equal(sizes.Max(), batcher.LargestBatch);
    }

    [Fact]
    public async Task A_lone_request_runs_after_max_wait_without_a_full_batch()
    {
        await using var batcher = new MicroBatcher<string, int>((items, _) => Task.FromResult<IReadOnlyList<int>>(items.Select(s => s.Length).ToArray()),
            new MicroBatcherOptions { MaxBatchSize = 64, MaxWait = TimeSpan.FromMilliseconds(10) });
        var result = await batcher.SubmitAsync("hello").WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(5, result);
        Assert.Equal(1, batcher.BatchesRun);
        Assert.Equal(1, batcher.LargestBatch);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Closed_loop_callers_form_waves_without_waiting_out_max_wait_when_early_dispatch_is_on(bool earlyDispatch)
    {
        // MaxWait is long next to a wave's work, so the two behaviours differ by whole seconds and a
        // loaded machine (slow continuations) cannot make one look like the other.
        const int callers = 8, rounds = 6;
        var maxWait = TimeSpan.FromSeconds(1);
        await using var batcher = new MicroBatcher<int, int>((items, _) => Task.FromResult<IReadOnlyList<int>>(items.ToArray()),
            new MicroBatcherOptions { MaxBatchSize = 32, MaxWait = maxWait, EarlyDispatch = earlyDispatch });
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, callers).Select(c => Task.Run(async () =>
        {
            for (int r = 0; r < rounds; r++) Assert.Equal(c * 100 + r, await batcher.SubmitAsync(c * 100 + r));
        })));
        Assert.Equal(callers * rounds, batcher.ItemsProcessed);
        if (earlyDispatch)
        {
            // Only the first wave waits for the deadline: the others start once every caller is back.
            Assert.True(clock.Elapsed < maxWait * (rounds / 2.0), $"took {clock.Elapsed.TotalMilliseconds:F0} ms");
        }
        else
        {
            // Batches never fill (8 callers, up to 32 per batch): every wave waits out MaxWait.
            Assert.True(clock.Elapsed >= maxWait * (rounds - 1), $"took {clock.Elapsed.TotalMilliseconds:F0} ms");
        }
    }

    [Fact]
    public async Task A_full_queue_refuses_immediately_with_the_documented_error()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var batcher = new MicroBatcher<int, int>(async (items, _) =>
        {
            started.TrySetResult();
            await gate.Task;
            return items.ToArray();
        }, new MicroBatcherOptions { MaxBatchSize = 1, MaxWait = TimeSpan.Zero, QueueCapacity = 4, Name = "dense" });

        var running = batcher.SubmitAsync(0);           // taken by the worker, blocked in the batch function
        await started.Task.WaitAsync(TimeSpan.FromSeconds(10));
        var queued = Enumerable.Range(1, 4).Select(i => batcher.SubmitAsync(i)).ToArray();
        Assert.Equal(4, batcher.QueueLength);

        var e = Assert.Throws<EncoderQueueFullException>(() => { _ = batcher.SubmitAsync(99); });
        Assert.Equal(4, e.Capacity);
        Assert.Contains("'dense'", e.Message, StringComparison.Ordinal);
        Assert.Contains("capacity 4", e.Message, StringComparison.Ordinal);
        Assert.Equal(1, batcher.ItemsRejected);
        Assert.Equal(4, batcher.QueueLength); // nothing was queued

        gate.SetResult();
        Assert.Equal(0, await running);
        Assert.Equal(new[] { 1, 2, 3, 4 }, await Task.WhenAll(queued));
    }

    [Fact]
    public async Task Cancelling_a_waiting_caller_removes_it_from_the_queue()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var seen = new ConcurrentQueue<int>();
        await using var batcher = new MicroBatcher<int, int>(async (items, _) =>
        {
            foreach (var i in items) seen.Enqueue(i);
            started.TrySetResult();
            await gate.Task;
            return items.ToArray();
        }, new MicroBatcherOptions { MaxBatchSize = 8, MaxWait = TimeSpan.Zero, QueueCapacity = 2 });

        var first = batcher.SubmitAsync(1);
        await started.Task.WaitAsync(TimeSpan.FromSeconds(10));
        using var cts = new CancellationTokenSource();
        var cancelled = batcher.SubmitAsync(2, cts.Token);
        var kept = batcher.SubmitAsync(3);
        Assert.Equal(2, batcher.QueueLength);

        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        Assert.Equal(1, batcher.QueueLength);          // its slot is free again
        Assert.Equal(1, batcher.ItemsCanceled);
        var other = batcher.SubmitAsync(4);             // fits: capacity 2

        gate.SetResult();
        Assert.Equal(1, await first);
        Assert.Equal(3, await kept);
        Assert.Equal(4, await other);
        Assert.DoesNotContain(2, seen);                 // the cancelled item never ran
    }

    [Fact]
    public async Task A_failing_batch_fails_its_callers_and_the_next_batch_still_runs()
    {
        int calls = 0;
        await using var batcher = new MicroBatcher<int, int>((items, _) =>
            Interlocked.Increment(ref calls) == 1
                ? throw new InvalidOperationException("model exploded")
                : Task.FromResult<IReadOnlyList<int>>(items.ToArray()),
            new MicroBatcherOptions { MaxBatchSize = 4, MaxWait = TimeSpan.FromMilliseconds(1) });
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => batcher.SubmitAsync(1));
        Assert.Equal("model exploded", e.Message);
        Assert.Equal(2, await batcher.SubmitAsync(2));
        Assert.Equal(1, batcher.BatchesFailed);
    }

    [Fact]
    public async Task DisposeAsync_runs_what_is_queued_and_then_refuses_new_items()
    {
        var batcher = new MicroBatcher<int, int>(async (items, _) =>
        {
            await Task.Delay(5, CancellationToken.None); // the queued batches must run to completion, not be cancelled
            return items.Select(i => -i).ToArray();
        }, new MicroBatcherOptions { MaxBatchSize = 2, MaxWait = TimeSpan.FromMilliseconds(50) });
        var tasks = Enumerable.Range(1, 5).Select(i => batcher.SubmitAsync(i)).ToArray();
        await batcher.DisposeAsync();
        Assert.Equal([-1, -2, -3, -4, -5], tasks.Select(t => t.Result));
        Assert.Throws<ObjectDisposedException>(() => { _ = batcher.SubmitAsync(6); });
    }

    [Fact]
    public async Task Dispose_fails_queued_items_and_cancels_the_running_batch()
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var batcher = new MicroBatcher<int, int>(async (items, ct) =>
        {
            started.TrySetResult();
            await Task.Delay(Timeout.Infinite, ct);
            return items.ToArray();
        }, new MicroBatcherOptions { MaxBatchSize = 1, MaxWait = TimeSpan.Zero });
        var running = batcher.SubmitAsync(1);
        await started.Task.WaitAsync(TimeSpan.FromSeconds(10));
        var queued = batcher.SubmitAsync(2);

#pragma warning disable CA1849 // the synchronous Dispose is the behaviour under test
        batcher.Dispose(); // returns once the running batch has ended
#pragma warning restore CA1849

        Assert.True(running.IsCompleted);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => running);
        await Assert.ThrowsAsync<ObjectDisposedException>(() => queued);
        Assert.Throws<ObjectDisposedException>(() => { _ = batcher.SubmitAsync(3); });
    }

    [Fact]
    public async Task With_two_workers_a_wave_is_shared_into_two_batches_that_run_side_by_side_off_the_thread_pool()
    {
        int running = 0, overlapped = 0;
        var sizes = new ConcurrentQueue<int>();
        var onPool = new ConcurrentQueue<bool>();
        using var gate = new SemaphoreSlim(0);
        await using var batcher = new MicroBatcher<int, int>((items, _) =>
        {
            onPool.Enqueue(Thread.CurrentThread.IsThreadPoolThread);
            sizes.Enqueue(items.Count);
            if (Interlocked.Increment(ref running) == 2) Interlocked.Exchange(ref overlapped, 1);
#pragma warning disable CA1849 // a blocking run, as a model run is: the behaviour under test
            gate.Wait(TimeSpan.FromSeconds(10), CancellationToken.None);
#pragma warning restore CA1849
            Interlocked.Decrement(ref running);
            return Task.FromResult<IReadOnlyList<int>>(items.Select(i => -i).ToArray());
        }, new MicroBatcherOptions { MaxBatchSize = 32, MaxWait = TimeSpan.FromMilliseconds(200), Workers = 2 });
        Assert.Equal(2, batcher.Workers);

        // 16 requests queue up at once (the first batch waits for its full wave or 200 ms).
        var tasks = Enumerable.Range(1, 16).Select(i => batcher.SubmitAsync(i)).ToArray();
        for (var deadline = DateTime.UtcNow.AddSeconds(10); Volatile.Read(ref running) < 2 && DateTime.UtcNow < deadline;) await Task.Delay(10);
        Assert.Equal(1, Volatile.Read(ref overlapped));
        gate.Release(16);
        var results = await Task.WhenAll(tasks).WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(Enumerable.Range(1, 16).Select(i => -i), results);
        Assert.Equal([8, 8], sizes.Order());
        Assert.All(onPool, p => Assert.False(p, "a batch ran on a thread-pool thread"));
    }

    [Fact]
    public void Workers_below_one_are_refused_with_the_setting_named()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new MicroBatcher<int, int>((items, _) => Task.FromResult<IReadOnlyList<int>>(items.ToArray()),
            new MicroBatcherOptions { Workers = 0 }));
        Assert.Equal("Workers", e.ParamName);
    }
}
