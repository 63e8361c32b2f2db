using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;
using Shoal.Engine.Snapshots;
using Shoal.Grains.Contracts;
using Shoal.Grains.Shards;
using Shoal.Hosting;

namespace Shoal.Integration.Tests;

/// <summary>
/// A shard whose restore takes longer than a caller may wait (a shard of gigabytes on a silo that
/// restores many at once): the activation completes at once, the shard says it is restoring, a
/// search within its deadline reports the shard missing instead of timing out, and once the
/// segments arrive it serves in full.
/// </summary>
public sealed class SlowRestoreTests : IDisposable
{
    private readonly string _data = Directory.CreateTempSubdirectory("shoal-slow-restore-").FullName;

    public void Dispose() => TempDirectory.Delete(_data);

    /// <summary>The local store behind a remote-like face (every segment is downloaded), whose segment downloads wait for <see cref="Release"/> while held.</summary>
    private sealed class HeldStore(LocalDirectorySnapshotStore inner) : ISnapshotStore
    {
        private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public bool Hold { get; set; }

        public void Release() => _released.TrySetResult();

        public string Description => "held " + inner.Description;
        public Task PutFileAsync(string key, string sourcePath, CancellationToken cancellationToken = default) => inner.PutFileAsync(key, sourcePath, cancellationToken);
        public Task<ObjectChecksum> UploadFileAsync(string key, string sourcePath, CancellationToken cancellationToken = default) => inner.UploadFileAsync(key, sourcePath, cancellationToken);
        public Task GetFileAsync(string key, string destinationPath, CancellationToken cancellationToken = default) => DownloadFileAsync(key, destinationPath, null, cancellationToken);

        public async Task<ObjectChecksum> DownloadFileAsync(string key, string destinationPath, ObjectChecksum? expected = null, CancellationToken cancellationToken = default)
        {
            if (Hold && key.EndsWith(".seg", StringComparison.Ordinal)) await _released.Task.WaitAsync(cancellationToken);
            return await inner.DownloadFileAsync(key, destinationPath, expected, cancellationToken);
        }

        public Task PutBytesAsync(string key, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default) => inner.PutBytesAsync(key, data, cancellationToken);
        public Task<byte[]?> GetBytesAsync(string key, CancellationToken cancellationToken = default) => inner.GetBytesAsync(key, cancellationToken);
        public Task<IReadOnlyList<string>> ListAsync(string prefix, CancellationToken cancellationToken = default) => inner.ListAsync(prefix, cancellationToken);
        public Task DeletePrefixAsync(string prefix, CancellationToken cancellationToken = default) => inner.DeletePrefixAsync(prefix, cancellationToken);
        public Task DeleteAsync(string key, CancellationToken cancellationToken = default) => inner.DeleteAsync(key, cancellationToken);
        public Task<bool> CompareAndSwapAsync(string key, Func<byte[]?, bool> expected, ReadOnlyMemory<byte>? replacement, CancellationToken cancellationToken = default) => inner.CompareAndSwapAsync(key, expected, replacement, cancellationToken);
        public string? TryGetLocalPath(string key) => null;
    }

    private async Task<InProcessTestCluster> StartAsync(HeldStore store, string cache)
    {
        var builder = new InProcessTestClusterBuilder(1);
        string data = _data;
        builder.ConfigureSilo((_, silo) =>
        {
            silo.Services.AddSingleton<ISnapshotStore>(store);
            silo.AddShoal(o =>
            {
                o.SnapshotDirectory = Path.Combine(data, "snapshots");
                o.CacheDirectory = Path.Combine(data, cache);
                o.BuildDirectory = Path.Combine(data, "build");
            });
        });
        var cluster = builder.Build();
        await cluster.DeployAsync();
        return cluster;
    }

    [Fact]
    public async Task A_shard_still_restoring_answers_at_once_says_so_and_serves_when_its_segments_arrive()
    {
        string corpus = Path.Combine(_data, "corpus.tsv");
        await File.WriteAllLinesAsync(corpus, Enumerable.Range(0, 100).Select(i => $"d{i:D3}\tslow restore passage number {i}"));
        var snapshots = new LocalDirectorySnapshotStore(Path.Combine(_data, "snapshots"));
        var first = await StartAsync(new HeldStore(snapshots), "cache-1");
        try
        {
            await Jobs.JobWaits.IngestAsync(first, "slow", new IngestRequest { CorpusPath = corpus, Shards = 2 });
        }
        finally
        {
            await first.StopAllSilosAsync();
            await first.DisposeAsync();
        }

        // A new silo with an empty cache restores from the store, whose segment downloads are held.
        var held = new HeldStore(snapshots) { Hold = true };
        var second = await StartAsync(held, "cache-2");
        try
        {
            var shard = second.Client.GetGrain<IShardGrain>(ShardGrain.KeyOf("slow", 0));
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var restoring = await shard.GetInfoAsync().WaitAsync(TimeSpan.FromSeconds(20));
            Assert.True(restoring.Restoring);
            Assert.Equal(0, restoring.Version);
            Assert.True(clock.Elapsed < ShardGrain.InfoRestoreWait + TimeSpan.FromSeconds(10), $"GetInfoAsync took {clock.Elapsed}");

            var partial = await second.Client.GetGrain<IQueryCoordinatorGrain>(0)
                .SearchAsync(new SearchRequest { Index = "slow", Text = "passage", K = 200, DeadlineMs = 1_000 }).WaitAsync(TimeSpan.FromSeconds(20));
            Assert.True(partial.Status == SearchStatus.Ok, partial.Error);
            Assert.True(partial.Coverage.Partial, "shards still restoring must not count as answered");

            held.Release();
            var deadline = DateTime.UtcNow.AddSeconds(30);
            ShardInfo info;
            while ((info = await shard.GetInfoAsync()) is { Restoring: true } && DateTime.UtcNow < deadline) await Task.Delay(50);
            Assert.False(info.Restoring);
            Assert.Equal(1, info.Version);
            var full = await second.Client.GetGrain<IQueryCoordinatorGrain>(0).SearchAsync(new SearchRequest { Index = "slow", Text = "passage", K = 200 });
            Assert.False(full.Coverage.Partial);
            Assert.Equal(100, full.Hits.Length);
        }
        finally
        {
            held.Release();
            await second.StopAllSilosAsync();
            await second.DisposeAsync();
        }
    }
}
