using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;

namespace Shoal.Gateway.Auth;

/// <summary>The scopes an API key may hold. <c>admin</c> implies every other scope.</summary>
public static class ApiScopes
{
    /// <summary>Searches and reads (index information, ingest and job status, listings, metrics).</summary>
    public const string Search = "search";

    /// <summary>Online updates: upserts and deletes of documents.</summary>
    public const string Write = "write";

    /// <summary>Ingest, indexing jobs, merges, index deletion.</summary>
    public const string Admin = "admin";

    /// <summary>Every scope, in order.</summary>
    public static readonly IReadOnlyList<string> All = [Search, Write, Admin];

    /// <summary>Claim type that carries one scope.</summary>
    public const string ClaimType = "shoal:scope";

    /// <summary>Claim type that carries the key's name (never the key or its hash).</summary>
    public const string KeyNameClaimType = "shoal:key";
}

/// <summary>One configured API key: a name for logs and rate-limit partitions, the SHA-256 of the key, and its scopes.</summary>
public sealed record ApiKey(string Name, byte[] Sha256, IReadOnlySet<string> Scopes)
{
    /// <summary>Whether the key grants <paramref name="scope"/> (admin grants everything).</summary>
    public bool Grants(string scope) => Scopes.Contains(scope) || Scopes.Contains(ApiScopes.Admin);
}

/// <summary>
/// The API keys a gateway accepts, read once at start-up from <c>Shoal:Auth:Keys:{n}</c>:
/// <c>Hash</c> (hex SHA-256 of the key, optionally prefixed <c>sha256:</c>), or <c>Key</c> (the
/// plain key, e.g. from a Kubernetes Secret through an environment variable) or <c>KeyFile</c>
/// (a file holding it, e.g. a mounted Secret), each hashed here and then forgotten; <c>Scopes</c>
/// (comma-separated or a list of search, write, admin); <c>Name</c> (optional, for logs). Several
/// keys may be valid at once, so a key is rotated by adding the new one, moving clients, then
/// removing the old one. Neither keys nor hashes are ever logged.
/// </summary>
public sealed class ApiKeyRing
{
    /// <summary>Shortest plain key accepted (characters).</summary>
    public const int MinKeyLength = 16;

    private readonly ApiKey[] _keys;

    /// <summary>Creates the ring from parsed keys.</summary>
    public ApiKeyRing(IReadOnlyList<ApiKey> keys) => _keys = [.. keys];

    /// <summary>The configured keys.</summary>
    public IReadOnlyList<ApiKey> Keys => _keys;

    /// <summary>Whether any key is configured (then every request outside /health needs one).</summary>
    public bool Enabled => _keys.Length > 0;

    /// <summary>The key whose hash matches <paramref name="presented"/>, or null. Compares every key in constant time.</summary>
    public ApiKey? Find(string presented)
    {
        byte[] hash = SHA256.HashData(Encoding.UTF8.GetBytes(presented));
        ApiKey? found = null;
        foreach (var key in _keys)
            if (CryptographicOperations.FixedTimeEquals(hash, key.Sha256)) found ??= key;
        return found;
    }

    /// <summary>Lower-case hex SHA-256 of a key, as <c>Shoal:Auth:Keys:{n}:Hash</c> takes it.</summary>
    public static string HashOf(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    /// <summary>A new random key: "shoal_" and 32 random bytes in base64url (43 characters).</summary>
    public static string NewKey() => "shoal_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <summary>Reads <c>Shoal:Auth:Keys</c>; a malformed entry is an <see cref="ArgumentException"/> that names the entry, never its secret.</summary>
    public static ApiKeyRing From(IConfiguration configuration)
    {
        var keys = new List<ApiKey>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var entry in configuration.GetSection("Shoal:Auth:Keys").GetChildren())
        {
            string where = $"Shoal:Auth:Keys:{entry.Key}";
            string? hash = entry["Hash"], plain = entry["Key"], file = entry["KeyFile"];
            int given = (string.IsNullOrWhiteSpace(hash) ? 0 : 1) + (string.IsNullOrWhiteSpace(plain) ? 0 : 1) + (string.IsNullOrWhiteSpace(file) ? 0 : 1);
            if (given != 1) throw new ArgumentException($"{where} must give exactly one of Hash (hex SHA-256 of the key), Key (the key) or KeyFile (a file holding the key).");
            byte[] sha;
            if (!string.IsNullOrWhiteSpace(hash))
            {
                string hex = hash.Trim();
                if (hex.StartsWith("sha256:", StringComparison.OrdinalIgnoreCase)) hex = hex[7..];
                if (hex.Length != 64 || !hex.All(char.IsAsciiHexDigit))
                    throw new ArgumentException($"{where}:Hash must be 64 hexadecimal digits (the SHA-256 of the key; `Shoal.Gateway hash-key` prints it).");
                sha = Convert.FromHexString(hex);
            }
            else
            {
                string key;
                if (!string.IsNullOrWhiteSpace(file))
                {
                    try
                    {
                        key = File.ReadAllText(file).Trim();
                    }
                    catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                    {
                        throw new ArgumentException($"{where}:KeyFile cannot be read: {e.GetType().Name}.", e);
                    }
                }
                else key = plain!.Trim();
                if (key.Length < MinKeyLength) throw new ArgumentException($"{where}: the key is shorter than {MinKeyLength} characters; use a long random key (`Shoal.Gateway new-key` makes one).");
                sha = SHA256.HashData(Encoding.UTF8.GetBytes(key));
            }
            var scopes = ParseScopes(entry.GetSection("Scopes"), where);
            string name = string.IsNullOrWhiteSpace(entry["Name"]) ? $"key-{entry.Key}" : entry["Name"]!.Trim();
            if (!names.Add(name)) throw new ArgumentException($"{where}:Name '{name}' is used by another key.");
            keys.Add(new ApiKey(name, sha, scopes));
        }
        return new ApiKeyRing(keys);
    }

    private static HashSet<string> ParseScopes(IConfigurationSection section, string where)
    {
        var values = section.Value is { } joined
            ? joined.Split([',', ' ', ';'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            : section.GetChildren().Select(c => c.Value?.Trim() ?? "").Where(v => v.Length > 0).ToArray();
        if (values.Length == 0) throw new ArgumentException($"{where}:Scopes is required: one or more of {string.Join(", ", ApiScopes.All)}.");
        var scopes = new HashSet<string>(StringComparer.Ordinal);
        foreach (var v in values)
        {
            string scope = v.ToLowerInvariant();
            if (!ApiScopes.All.Contains(scope)) throw new ArgumentException($"{where}:Scopes has unknown scope '{v}'; scopes are {string.Join(", ", ApiScopes.All)}.");
            scopes.Add(scope);
        }
        return scopes;
    }
}

/// <summary>Whether the addresses a gateway listens on are all loopback.</summary>
public static class ListenAddresses
{
    /// <summary>The URLs the host will bind: <c>urls</c>/<c>ASPNETCORE_URLS</c>, Kestrel endpoints, or <paramref name="fallback"/>.</summary>
    public static IReadOnlyList<string> Of(IConfiguration configuration, string fallback)
    {
        var urls = new List<string>();
        foreach (var key in new[] { "urls", "ASPNETCORE_URLS", "URLS" })
            if (configuration[key] is { Length: > 0 } v)
            {
                urls.AddRange(v.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
                break;
            }
        foreach (var endpoint in configuration.GetSection("Kestrel:Endpoints").GetChildren())
            if (endpoint["Url"] is { Length: > 0 } url) urls.Add(url);
        if (configuration["HTTP_PORTS"] is { Length: > 0 } || configuration["HTTPS_PORTS"] is { Length: > 0 }) urls.Add("http://*:0");
        if (urls.Count == 0) urls.Add(fallback);
        return urls;
    }

    /// <summary>True when the URL's host is a loopback address or "localhost"; wildcards and every other host are not.</summary>
    public static bool IsLoopback(string url)
    {
        int scheme = url.IndexOf("://", StringComparison.Ordinal);
        string rest = scheme < 0 ? url : url[(scheme + 3)..];
        int slash = rest.IndexOf('/', StringComparison.Ordinal);
        if (slash >= 0) rest = rest[..slash];
        string host;
        if (rest.StartsWith('['))
        {
            int close = rest.IndexOf(']', StringComparison.Ordinal);
            host = close < 0 ? rest : rest[1..close];
        }
        else
        {
            int colon = rest.LastIndexOf(':');
            host = colon < 0 ? rest : rest[..colon];
        }
        if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase)) return true;
        return IPAddress.TryParse(host, out var ip) && IPAddress.IsLoopback(ip);
    }

    /// <summary>Formats for a message.</summary>
    public static string Describe(IReadOnlyList<string> urls) => string.Join(", ", urls.Select(u => string.Create(CultureInfo.InvariantCulture, $"'{u}'")));
}
