using Azure;
using Polly;
using Polly.Retry;
using Shoal.Engine.Snapshots;

namespace Shoal.Storage.AzureBlob;

/// <summary>
/// The retry policy of <see cref="AzureBlobSnapshotStore"/>: each request (a block, a range, a
/// commit, a small object) is retried on its own, with exponential back-off and jitter, after a
/// transient failure (<see cref="IsTransient"/>).
/// </summary>
internal static class BlobRetry
{
    /// <summary>
    /// A pipeline that retries up to <see cref="BlobTransferSettings.MaxRetries"/> times from
    /// <see cref="BlobTransferSettings.RetryDelay"/> on, calling <paramref name="onRetry"/> before
    /// each retry; no retries at all when the settings allow none.
    /// </summary>
    public static ResiliencePipeline Create(BlobTransferSettings settings, Action onRetry) =>
        settings.MaxRetries == 0
            ? ResiliencePipeline.Empty
            : new ResiliencePipelineBuilder()
                .AddRetry(new RetryStrategyOptions
                {
                    MaxRetryAttempts = settings.MaxRetries,
                    BackoffType = DelayBackoffType.Exponential,
                    UseJitter = true,
                    Delay = settings.RetryDelay,
                    ShouldHandle = args => ValueTask.FromResult(args.Outcome.Exception is { } e && IsTransient(e, args.Context.CancellationToken)),
                    OnRetry = _ =>
                    {
                        onRetry();
                        return default;
                    },
                })
                .Build();

    /// <summary>Whether <paramref name="e"/> is worth retrying: 408, 429, 5xx, transport and I/O failures, timeouts.</summary>
    public static bool IsTransient(Exception e, CancellationToken cancellationToken) => e switch
    {
        SnapshotChecksumException => false,
        RequestFailedException r => r.Status is 0 or 408 or 429 or >= 500,
        FileNotFoundException or DirectoryNotFoundException or PathTooLongException => false,
        IOException or HttpRequestException or TimeoutException => true,
        OperationCanceledException => !cancellationToken.IsCancellationRequested,
        AggregateException a => a.InnerExceptions.Count > 0 && a.InnerExceptions.All(i => IsTransient(i, cancellationToken)),
        _ => false,
    };
}
