namespace Shoal.Gateway.Auth;

/// <summary>
/// <c>Shoal.Gateway new-key [--scopes search,write]</c> makes a random key and prints it with its
/// hash and the configuration lines; <c>Shoal.Gateway hash-key</c> reads a key from standard input
/// (one line, so it stays out of the shell history) and prints its SHA-256 for
/// <c>Shoal:Auth:Keys:{n}:Hash</c>.
/// </summary>
public static class ApiKeyTool
{
    /// <summary>Runs the command; returns the exit code (2 for bad input).</summary>
    public static int Run(string[] args, TextReader input, TextWriter output, TextWriter error)
    {
        string scopes = ApiScopes.Search;
        for (int i = 1; i < args.Length; i++)
        {
            if (args[i] == "--scopes" && i + 1 < args.Length) scopes = args[++i];
            else
            {
                error.WriteLine($"shoal gateway {args[0]}: unknown argument '{args[i]}' (usage: {args[0]} [--scopes search,write,admin]).");
                return 2;
            }
        }
        foreach (var scope in scopes.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            if (!ApiScopes.All.Contains(scope))
            {
                error.WriteLine($"shoal gateway {args[0]}: unknown scope '{scope}'; scopes are {string.Join(", ", ApiScopes.All)}.");
                return 2;
            }
        string key;
        if (args[0] == "new-key")
        {
            key = ApiKeyRing.NewKey();
            output.WriteLine($"key:  {key}");
        }
        else
        {
            key = input.ReadLine()?.Trim() ?? "";
            if (key.Length < ApiKeyRing.MinKeyLength)
            {
                error.WriteLine($"shoal gateway hash-key: give the key on standard input; it must be at least {ApiKeyRing.MinKeyLength} characters.");
                return 2;
            }
        }
        string hash = ApiKeyRing.HashOf(key);
        output.WriteLine($"hash: {hash}");
        output.WriteLine($"configuration: --Shoal:Auth:Keys:0:Hash {hash} --Shoal:Auth:Keys:0:Scopes {scopes}");
        output.WriteLine($"environment:   Shoal__Auth__Keys__0__Hash={hash} Shoal__Auth__Keys__0__Scopes={scopes}");
        return 0;
    }
}
