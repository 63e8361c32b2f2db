using Azure;
using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Storage.Blobs;
using Shoal.Engine.Snapshots;
using Shoal.Storage.AzureBlob;

namespace Shoal.Integration.Tests.Snapshots;

internal static class SnapshotTestSupport
{
    /// <summary>Small chunks so that modest files take many blocks and ranges.</summary>
    public static readonly BlobTransferSettings SmallChunks = new()
    {
        ChunkBytes = 64 << 10,
        InitialDownloadBytes = 0, // the first range is one chunk, so downloads of modest files are mostly parallel ranges
        Parallelism = 4,
        ReorderWindow = 2,
        RetryDelay = TimeSpan.FromMilliseconds(5),
    };

    public static AzureBlobSnapshotStore Store(AzuriteFixture azurite, string container, BlobTransferSettings? settings = null, BlobClientOptions? options = null) =>
        AzureBlobSnapshotStore.Create(azurite.ConnectionString, container, settings ?? SmallChunks, options);

    public static byte[] RandomBytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    public static IndexManifest Manifest(string index, long version, params SegmentManifest[] segments) => new()
    {
        Index = index,
        Version = version,
        CreatedUtc = DateTimeOffset.UtcNow,
        ShardCount = segments.Length,
        Schema = IndexSchema.DefaultText,
        DocCount = segments.Length,
        Shards = [.. segments.Select((s, i) => new ShardManifest(i, 1, [s]))],
    };

    /// <summary>Every file under <paramref name="dir"/> (none when it does not exist).</summary>
    public static string[] FilesUnder(string dir) =>
        Directory.Exists(dir) ? Directory.GetFiles(dir, "*", SearchOption.AllDirectories) : [];
}

/// <summary>
/// Injects transient faults into the blob client's pipeline: every <see cref="FailEvery"/>-th
/// request fails with 503 before it is sent, and every <see cref="BreakEvery"/>-th ranged
/// download response breaks off after <see cref="BreakAfterBytes"/> bytes of its body.
/// </summary>
internal sealed class FaultInjectionPolicy : HttpPipelinePolicy
{
    private int _requests;
    private int _injected;
    private int _burstLeft;
    private readonly object _gate = new();

    public int FailEvery { get; init; } = 4;
    public int BreakEvery { get; init; } = 3;
    public int BreakAfterBytes { get; init; } = 10_000;

    /// <summary>Ranged responses broken in a row once a break starts (the SDK's own stream resumes a body up to 5 times).</summary>
    public int BreakBurst { get; init; } = 1;
    public int Injected => Volatile.Read(ref _injected);

    public override async ValueTask ProcessAsync(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline)
    {
        int n = Interlocked.Increment(ref _requests);
        if (FailEvery > 0 && n % FailEvery == 0)
        {
            Interlocked.Increment(ref _injected);
            throw new RequestFailedException(503, "injected fault: server busy");
        }
        await ProcessNextAsync(message, pipeline);
        if (BreakEvery > 0 && message.Request.Method == RequestMethod.Get && message.Response.Status == 206 && message.Response.ContentStream is { } body)
        {
            bool breakIt;
            lock (_gate)
            {
                if (_burstLeft == 0 && n % BreakEvery == 0) _burstLeft = BreakBurst;
                breakIt = _burstLeft > 0;
                if (breakIt) _burstLeft--;
            }
            if (breakIt)
            {
                Interlocked.Increment(ref _injected);
                message.Response.ContentStream = new BreakingStream(body, BreakAfterBytes);
            }
        }
    }

    public override void Process(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline) =>
        ProcessAsync(message, pipeline).AsTask().GetAwaiter().GetResult();
}

/// <summary>Answers every conditional (If-Match) request as if the blob had been replaced since the first response.</summary>
internal sealed class ReplacedBlobPolicy : HttpPipelinePolicy
{
    public override ValueTask ProcessAsync(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline) =>
        message.Request.Headers.Contains("If-Match")
            ? throw new RequestFailedException(412, "injected: the condition specified using HTTP conditional header(s) is not met", "ConditionNotMet", null)
            : ProcessNextAsync(message, pipeline);

    public override void Process(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline) =>
        ProcessAsync(message, pipeline).AsTask().GetAwaiter().GetResult();
}

/// <summary>A response body that drops the connection after some bytes.</summary>
internal sealed class BreakingStream(Stream inner, int breakAfter) : Stream
{
    private int _left = breakAfter;

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        if (_left <= 0) throw new IOException("injected fault: connection reset");
        int n = inner.Read(buffer[..Math.Min(buffer.Length, _left)]);
        _left -= n;
        return n;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_left <= 0) throw new IOException("injected fault: connection reset");
        int n = await inner.ReadAsync(buffer[..Math.Min(buffer.Length, _left)], cancellationToken);
        _left -= n;
        return n;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) inner.Dispose();
        base.Dispose(disposing);
    }
}
