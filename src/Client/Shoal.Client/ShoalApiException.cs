using System.Net;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Shoal.Client;

/// <summary>
/// An RFC 7807 problem document, as the gateway answers every error: <see cref="Status"/>,
/// <see cref="Title"/>, <see cref="Detail"/> (what is wrong, in words), and for validation
/// failures <see cref="Errors"/> (field → messages). Members the server adds beyond the standard
/// ones are kept in <see cref="Extensions"/>.
/// </summary>
public sealed record ShoalProblem
{
    /// <summary>A URI reference that identifies the problem type.</summary>
    public string? Type { get; init; }

    /// <summary>Short summary of the problem type.</summary>
    public string? Title { get; init; }

    /// <summary>HTTP status code.</summary>
    public int? Status { get; init; }

    /// <summary>What went wrong in this case.</summary>
    public string? Detail { get; init; }

    /// <summary>A URI reference of this occurrence.</summary>
    public string? Instance { get; init; }

    /// <summary>Validation errors by field, when the server reports them.</summary>
    public IReadOnlyDictionary<string, string[]>? Errors { get; init; }

    /// <summary>Other members of the document (e.g. <c>traceId</c>).</summary>
    [JsonExtensionData]
    public IDictionary<string, JsonElement>? Extensions { get; set; }
}

/// <summary>
/// The gateway answered with an error. Every non-success answer of every call surfaces as this
/// type; <see cref="Problem"/> is the server's problem document (or one made from the status line
/// when the body was not one), and <see cref="Exception.Message"/> reads
/// <c>"{status} {title}: {detail}"</c>.
/// </summary>
public sealed class ShoalApiException : Exception
{
    /// <summary>Creates the exception from a status and the problem's title and detail.</summary>
    public ShoalApiException(HttpStatusCode statusCode, string? title, string detail)
        : this(statusCode, new ShoalProblem { Status = (int)statusCode, Title = title, Detail = detail }, retryAfter: null)
    {
    }

    /// <summary>Creates the exception from a status and the server's problem document.</summary>
    public ShoalApiException(HttpStatusCode statusCode, ShoalProblem problem, TimeSpan? retryAfter = null, Exception? innerException = null)
        : base(FormatMessage(statusCode, problem), innerException)
    {
        ArgumentNullException.ThrowIfNull(problem);
        StatusCode = statusCode;
        Problem = problem;
        RetryAfter = retryAfter;
    }

    /// <summary>HTTP status of the answer.</summary>
    public HttpStatusCode StatusCode { get; }

    /// <summary>The server's problem document.</summary>
    public ShoalProblem Problem { get; }

    /// <summary>Short problem title.</summary>
    public string? Title => Problem.Title;

    /// <summary>What the server said is wrong.</summary>
    public string Detail => Problem.Detail ?? Problem.Title ?? StatusCode.ToString();

    /// <summary>Validation errors by field, when the server reported them.</summary>
    public IReadOnlyDictionary<string, string[]>? Errors => Problem.Errors;

    /// <summary>How long the server asked the client to wait (<c>Retry-After</c> on 429 and 503), when it said.</summary>
    public TimeSpan? RetryAfter { get; }

    /// <summary>True for answers worth trying again later: 408, 429, 502, 503, 504.</summary>
    public bool IsTransient => StatusCode is HttpStatusCode.RequestTimeout or HttpStatusCode.TooManyRequests
        or HttpStatusCode.BadGateway or HttpStatusCode.ServiceUnavailable or HttpStatusCode.GatewayTimeout;

    private static string FormatMessage(HttpStatusCode statusCode, ShoalProblem problem)
    {
        ArgumentNullException.ThrowIfNull(problem);
        string detail = problem.Detail ?? "no detail";
        if (problem.Errors is { Count: > 0 } errors)
            detail += " (" + string.Join("; ", errors.Select(e => $"{e.Key}: {string.Join(", ", e.Value)}")) + ")";
        return $"{(int)statusCode} {problem.Title ?? statusCode.ToString()}: {detail}";
    }
}
