using System.CommandLine;

namespace Shoal.Cli.Commands;

/// <summary>Options shared by the commands that talk to a running gateway.</summary>
internal static class CommonOptions
{
    public static Option<string> Url() => new("--url")
    {
        Description = "Gateway address (or SHOAL_URL).",
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("SHOAL_URL") ?? "http://127.0.0.1:5080",
        Validators =
        {
            r =>
            {
                string? text = r.Tokens.Count > 0 ? r.Tokens[0].Value : null;
                if (text is not null && !TryParseUrl(text, out _))
                    r.AddError($"--url '{text}' is not an absolute http(s) address such as http://127.0.0.1:5080.");
            },
        },
    };

    /// <summary>Parses a gateway address; only absolute http and https addresses are accepted.</summary>
    public static bool TryParseUrl(string text, out Uri uri) =>
        Uri.TryCreate(text, UriKind.Absolute, out uri!) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps);

    /// <summary>The validated gateway address of a parse result.</summary>
    public static Uri GetUrl(this System.CommandLine.ParseResult parse, Option<string> option)
    {
        string text = parse.GetValue(option)!;
        return TryParseUrl(text, out var uri) ? uri : throw new InvalidOperationException($"'{text}' is not an http or https address (the option's validator should have refused it).");
    }

    public static Option<string> Index(bool required = true) => new("--index", "-i")
    {
        Description = "Index name.",
        Required = required,
    };

    /// <summary>Prints an error on stderr and returns the exit code for it.</summary>
    public static int Fail(string message, int code = 1)
    {
        Console.Error.WriteLine($"shoal: {message}");
        return code;
    }
}
