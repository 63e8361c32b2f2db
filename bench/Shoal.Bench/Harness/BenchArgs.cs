using System.Globalization;

namespace Shoal.Bench.Harness;

/// <summary>Minimal "--name value" argument access with clear errors for benchmarks.</summary>
public sealed class BenchArgs
{
    private readonly Dictionary<string, string> _values = new(StringComparer.OrdinalIgnoreCase);
    private readonly HashSet<string> _flags = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Parses arguments of the form --name value or --flag.</summary>
    public BenchArgs(string[] args)
    {
        for (int i = 0; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal))
                throw new ArgumentException($"Unexpected argument '{args[i]}' (options look like --name value).");
            string name = args[i][2..];
            if (i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal)) _values[name] = args[++i];
            else _flags.Add(name);
        }
    }

    /// <summary>An integer option with a default.</summary>
    public int Int(string name, int defaultValue) =>
        _values.TryGetValue(name, out var v)
            ? int.TryParse(v.Replace("_", "", StringComparison.Ordinal), NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) ? n
              : throw new ArgumentException($"--{name} must be an integer (got '{v}').")
            : defaultValue;

    /// <summary>A floating-point option with a default.</summary>
    public double Double(string name, double defaultValue) =>
        _values.TryGetValue(name, out var v)
            ? double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) ? d
              : throw new ArgumentException($"--{name} must be a number (got '{v}').")
            : defaultValue;

    /// <summary>A string option with a default.</summary>
    public string String(string name, string defaultValue) => _values.TryGetValue(name, out var v) ? v : defaultValue;

    /// <summary>True when --name was given without a value.</summary>
    public bool Flag(string name) => _flags.Contains(name);
}
