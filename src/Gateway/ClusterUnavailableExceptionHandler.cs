using Microsoft.AspNetCore.Diagnostics;
using Orleans.Runtime;
using Orleans.Runtime.Messaging;

namespace Shoal.Gateway;

/// <summary>
/// Answers 503 with Retry-After (not 500) when a request failed because the silo it went through
/// became unavailable: a silo killed or stopping (a pod deleted, a node lost) fails the calls in
/// flight through it until the Orleans client routes around it. The request itself was fine, so
/// the client should retry; the SDK retries 503 on its own. Found by the deployment test
/// (.ci/k8s.sh), where the first search after killing a silo container answered 500. A call that
/// went unanswered (Orleans' response timeout, or the gateway's own repeat limit) is the same case.
/// </summary>
internal sealed partial class ClusterUnavailableExceptionHandler(IProblemDetailsService problems, ILogger<ClusterUnavailableExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (!IsClusterUnavailable(exception)) return false;
        LogUnavailable(logger, exception.GetType().Name, exception.Message);
        httpContext.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        httpContext.Response.Headers.RetryAfter = "1";
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            Exception = exception,
            ProblemDetails =
            {
                Status = StatusCodes.Status503ServiceUnavailable,
                Title = "Cluster temporarily unavailable",
                Detail = $"A silo became unavailable while serving this request ({exception.GetType().Name}); retry it.",
            },
        }).ConfigureAwait(false);
    }

    /// <summary>Whether <paramref name="exception"/> (or an inner one) means a silo or connection went away.</summary>
    internal static bool IsClusterUnavailable(Exception exception)
    {
        for (Exception? e = exception; e is not null; e = e.InnerException)
        {
            if (e is SiloUnavailableException or ConnectionFailedException or OrleansMessageRejectionException or GatewayTooBusyException or TimeoutException)
                return true;
        }
        return false;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Request failed because a silo became unavailable ({Type}: {Message}); answered 503")]
    private static partial void LogUnavailable(ILogger logger, string type, string message);
}
