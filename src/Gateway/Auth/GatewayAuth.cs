using System.Net;
using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;
using Microsoft.Extensions.Options;

namespace Shoal.Gateway.Auth;

/// <summary>Who may call without a key.</summary>
public enum AnonymousAccess
{
    /// <summary>Keys are configured: every request outside /health needs one.</summary>
    None,

    /// <summary>No keys, every listen address is loopback: loopback clients get every scope, others are refused.</summary>
    LoopbackOnly,

    /// <summary>No keys and <c>Shoal:Auth:AllowAnonymous=true</c>: anyone who can reach the port gets every scope.</summary>
    Everyone,
}

/// <summary>The gateway's authentication settings, decided once at start-up.</summary>
public sealed record GatewayAuthSettings(ApiKeyRing Ring, AnonymousAccess Anonymous, IReadOnlyList<string> ListenUrls);

/// <summary>
/// API-key authentication and scope authorisation of the HTTP API. Keys come in the
/// <c>X-Api-Key</c> header, or <c>Authorization: ApiKey &lt;key&gt;</c> / <c>Bearer &lt;key&gt;</c>.
/// Endpoints name the scope they need (<c>RequireAuthorization("admin")</c>); an endpoint that
/// names none needs <c>search</c> (the fallback policy), and /health/* is anonymous for probes.
/// A request without a valid key is a 401, a key without the scope a 403, both problem documents.
/// </summary>
public static partial class GatewayAuth
{
    /// <summary>Name of the authentication scheme.</summary>
    public const string Scheme = "ApiKey";

    /// <summary>Header that carries the key.</summary>
    public const string HeaderName = "X-Api-Key";

    /// <summary>
    /// Reads the keys and decides anonymous access; throws <see cref="ArgumentException"/> when the
    /// gateway would listen on a non-loopback address without keys and without the explicit opt-out.
    /// </summary>
    public static GatewayAuthSettings Decide(IConfiguration configuration, string defaultUrl)
    {
        var ring = ApiKeyRing.From(configuration);
        var urls = ListenAddresses.Of(configuration, defaultUrl);
        bool allowAnonymous = configuration.GetValue("Shoal:Auth:AllowAnonymous", false);
        if (ring.Enabled) return new GatewayAuthSettings(ring, AnonymousAccess.None, urls);
        if (allowAnonymous) return new GatewayAuthSettings(ring, AnonymousAccess.Everyone, urls);
        var open = urls.Where(u => !ListenAddresses.IsLoopback(u)).ToList();
        if (open.Count > 0)
            throw new ArgumentException(
                $"Refusing to listen on {ListenAddresses.Describe(open)} without API keys: anyone who can reach it could search, update and ingest. " +
                "Configure keys (Shoal:Auth:Keys:0:Hash with :Scopes, see README 'Security model'), listen on 127.0.0.1 only, " +
                "or accept an open API explicitly with --Shoal:Auth:AllowAnonymous true.");
        return new GatewayAuthSettings(ring, AnonymousAccess.LoopbackOnly, urls);
    }

    /// <summary>Registers authentication, the scope policies and the 401/403 problem documents.</summary>
    public static IServiceCollection AddShoalAuth(this IServiceCollection services, GatewayAuthSettings settings)
    {
        services.AddSingleton(settings);
        services.AddAuthentication(Scheme).AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(Scheme, null);
        services.AddSingleton<IAuthorizationHandler, ScopeHandler>();
        services.AddSingleton<IAuthorizationMiddlewareResultHandler, ProblemAuthorizationResultHandler>();
        var builder = services.AddAuthorizationBuilder();
        foreach (var scope in ApiScopes.All)
            builder.AddPolicy(scope, p => p.AddAuthenticationSchemes(Scheme).RequireAuthenticatedUser().AddRequirements(new ScopeRequirement(scope)));
        builder.SetFallbackPolicy(new AuthorizationPolicyBuilder(Scheme).RequireAuthenticatedUser().AddRequirements(new ScopeRequirement(ApiScopes.Search)).Build());
        return services;
    }

    /// <summary>Says at start-up how the API is protected (never a key or a hash).</summary>
    public static void LogMode(ILogger logger, GatewayAuthSettings settings)
    {
        switch (settings.Anonymous)
        {
            case AnonymousAccess.None:
                if (!logger.IsEnabled(LogLevel.Information)) break;
                string keys = string.Join(", ", settings.Ring.Keys.Select(k => $"{k.Name} [{string.Join(' ', k.Scopes.Order(StringComparer.Ordinal))}]"));
                LogKeys(logger, settings.Ring.Keys.Count, keys);
                break;
            case AnonymousAccess.LoopbackOnly:
                if (!logger.IsEnabled(LogLevel.Warning)) break;
                string loopback = ListenAddresses.Describe(settings.ListenUrls);
                LogLoopback(logger, loopback);
                break;
            default:
                if (!logger.IsEnabled(LogLevel.Warning)) break;
                string open = ListenAddresses.Describe(settings.ListenUrls);
                LogOpen(logger, open);
                break;
        }
    }

    /// <summary>The key a request presents, or null.</summary>
    internal static string? PresentedKey(HttpRequest request)
    {
        if (request.Headers.TryGetValue(HeaderName, out var header) && header.Count > 0 && !string.IsNullOrWhiteSpace(header[0]))
            return header[0]!.Trim();
        string? authorization = request.Headers.Authorization.FirstOrDefault();
        if (authorization is null) return null;
        foreach (var prefix in new[] { "ApiKey ", "Bearer " })
            if (authorization.StartsWith(prefix, StringComparison.OrdinalIgnoreCase) && authorization.Length > prefix.Length)
                return authorization[prefix.Length..].Trim();
        return null;
    }

    /// <summary>The partition of per-key limits: the key's name, else the client address.</summary>
    internal static string PartitionOf(HttpContext context) =>
        context.User.FindFirst(ApiScopes.KeyNameClaimType)?.Value is { } name && name != AnonymousName
            ? "key:" + name
            : "ip:" + (context.Connection.RemoteIpAddress?.ToString() ?? "local");

    internal const string AnonymousName = "anonymous";

    [LoggerMessage(Level = LogLevel.Information, Message = "API keys required: {Count} key(s) configured: {Keys}; /health/* stays anonymous")]
    private static partial void LogKeys(ILogger logger, int count, string keys);

    [LoggerMessage(Level = LogLevel.Warning, Message = "No API keys configured: every endpoint is open to clients on this machine (listening on {Urls}, loopback only; requests from other addresses are refused). Configure Shoal:Auth:Keys before exposing the gateway")]
    private static partial void LogLoopback(ILogger logger, string urls);

    [LoggerMessage(Level = LogLevel.Warning, Message = "No API keys configured and Shoal:Auth:AllowAnonymous=true: every endpoint, ingest and updates included, is open to anyone who can reach {Urls}")]
    private static partial void LogOpen(ILogger logger, string urls);
}

/// <summary>Requires one scope (admin satisfies every scope).</summary>
internal sealed record ScopeRequirement(string Scope) : IAuthorizationRequirement;

internal sealed class ScopeHandler : AuthorizationHandler<ScopeRequirement>
{
    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, ScopeRequirement requirement)
    {
        if (context.User.HasClaim(ApiScopes.ClaimType, requirement.Scope) || context.User.HasClaim(ApiScopes.ClaimType, ApiScopes.Admin))
            context.Succeed(requirement);
        return Task.CompletedTask;
    }
}

/// <summary>Validates the presented key against the ring; without keys configured, admits loopback clients (or everyone, when allowed).</summary>
internal sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, GatewayAuthSettings settings)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (!settings.Ring.Enabled)
        {
            var remote = Context.Connection.RemoteIpAddress;
            if (settings.Anonymous == AnonymousAccess.LoopbackOnly && remote is not null && !IPAddress.IsLoopback(remote))
                return Task.FromResult(Failed("This gateway has no API keys configured and answers only clients on its own machine."));
            return Task.FromResult(Success(GatewayAuth.AnonymousName, ApiScopes.All));
        }
        string? presented = GatewayAuth.PresentedKey(Request);
        if (presented is null) return Task.FromResult(AuthenticateResult.NoResult());
        var key = settings.Ring.Find(presented);
        return Task.FromResult(key is null ? Failed("The API key is not valid (unknown, revoked or mistyped).") : Success(key.Name, key.Scopes));
    }

    /// <summary>A failure whose message the 401 problem document reports (kept on the request, since a failed result is not stored).</summary>
    private AuthenticateResult Failed(string message)
    {
        Context.Items[FailureItem] = message;
        return AuthenticateResult.Fail(message);
    }

    internal const string FailureItem = "shoal.auth.failure";

    private AuthenticateResult Success(string name, IEnumerable<string> scopes)
    {
        var claims = new List<Claim> { new(ClaimTypes.Name, name), new(ApiScopes.KeyNameClaimType, name) };
        claims.AddRange(scopes.Select(s => new Claim(ApiScopes.ClaimType, s)));
        var principal = new ClaimsPrincipal(new ClaimsIdentity(claims, GatewayAuth.Scheme));
        return AuthenticateResult.Success(new AuthenticationTicket(principal, GatewayAuth.Scheme));
    }
}

/// <summary>Writes 401 and 403 as problem documents that say what is missing.</summary>
internal sealed class ProblemAuthorizationResultHandler : IAuthorizationMiddlewareResultHandler
{
    private readonly AuthorizationMiddlewareResultHandler _default = new();

    public async Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult authorizeResult)
    {
        string? scope = policy.Requirements.OfType<ScopeRequirement>().FirstOrDefault()?.Scope;
        if (authorizeResult.Challenged)
        {
            string? failure = context.Items.TryGetValue(ApiKeyAuthenticationHandler.FailureItem, out var item) ? item as string : null;
            context.Response.Headers.WWWAuthenticate = $"ApiKey header=\"{GatewayAuth.HeaderName}\"";
            string detail = failure ?? $"This endpoint needs an API key{(scope is null ? "" : $" with scope '{scope}'")}: send it in the {GatewayAuth.HeaderName} header (or 'Authorization: ApiKey <key>').";
            await TypedResults.Problem(detail, statusCode: StatusCodes.Status401Unauthorized, title: "Unauthorized").ExecuteAsync(context);
            return;
        }
        if (authorizeResult.Forbidden)
        {
            string name = context.User.FindFirst(ApiScopes.KeyNameClaimType)?.Value ?? "this key";
            string detail = $"API key '{name}' lacks scope '{scope ?? "?"}' needed by {context.Request.Method} {context.Request.Path}.";
            await TypedResults.Problem(detail, statusCode: StatusCodes.Status403Forbidden, title: "Forbidden").ExecuteAsync(context);
            return;
        }
        await _default.HandleAsync(next, context, policy, authorizeResult);
    }
}
