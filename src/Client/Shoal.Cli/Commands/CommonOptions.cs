using System.CommandLine;

namespace Shoal.Cli.Commands;

/// <summary>Options shared by the commands that talk to a running gateway.</summary>
internal static class CommonOptions
{
    public static Option<Uri> Url() => new("--url")
    {
        Description = "Gateway address (or SHOAL_URL).",
        DefaultValueFactory = _ => new Uri(Environment.GetEnvironmentVariable("SHOAL_URL") ?? "http://127.0.0.1:5080"),
    };

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
