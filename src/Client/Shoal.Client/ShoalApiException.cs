using System.Net;

namespace Shoal.Client;

/// <summary>The server answered with an error; <see cref="Exception.Message"/> carries its explanation.</summary>
public sealed class ShoalApiException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ShoalApiException(HttpStatusCode statusCode, string? title, string detail)
        : base($"{(int)statusCode} {title ?? statusCode.ToString()}: {detail}")
    {
        StatusCode = statusCode;
        Title = title;
        Detail = detail;
    }

    /// <summary>HTTP status of the answer.</summary>
    public HttpStatusCode StatusCode { get; }

    /// <summary>Short problem title.</summary>
    public string? Title { get; }

    /// <summary>What the server said is wrong.</summary>
    public string Detail { get; }
}
