using System.Text.RegularExpressions;

namespace Shoal.Hosting;

/// <summary>
/// Redaction of secrets in connection strings before anything about them is logged or put in a
/// message: Azure Storage account keys and SAS tokens, Redis passwords, and user:password in URIs.
/// </summary>
public static partial class Secrets
{
    /// <summary>The connection string with every secret part replaced by "***".</summary>
    public static string Redact(string? connectionString)
    {
        if (string.IsNullOrEmpty(connectionString)) return "";
        string s = SecretPairs().Replace(connectionString, m => m.Groups[1].Value + "***");
        s = SasQuery().Replace(s, m => m.Groups[1].Value + "***");
        return UserInfo().Replace(s, "$1***@");
    }

    // key=value pairs (';' or ',' separated) whose value is a secret.
    [GeneratedRegex(@"((?:^|[;,])\s*(?:AccountKey|SharedAccessSignature|SharedAccessKey|password|Password|pwd|token)\s*=)[^;,]*", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex SecretPairs();

    // SAS signature in a URI query.
    [GeneratedRegex(@"([?&]sig=)[^&;\s]*", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex SasQuery();

    // scheme://user:password@host
    [GeneratedRegex(@"(://[^/@:\s]*:)[^/@\s]*@", RegexOptions.CultureInvariant)]
    private static partial Regex UserInfo();
}
