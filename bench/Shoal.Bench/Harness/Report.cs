using System.Globalization;
using System.Text.Json;

namespace Shoal.Bench.Harness;

/// <summary>Prints the benchmark table (| figure | Shoal | peer | ratio | limit |) and the closing RESULT line.</summary>
public sealed class Report
{
    private readonly List<string[]> _rows = [];
    private readonly Dictionary<string, object> _result = new(StringComparer.Ordinal);

    /// <summary>Adds a table row; null cells print as "-".</summary>
    public void Row(string figure, string? shoal, string? peer = null, string? ratio = null, string? limit = null) =>
        _rows.Add([figure, shoal ?? "-", peer ?? "-", ratio ?? "-", limit ?? "-"]);

    /// <summary>Records a figure for the RESULT json (numbers rounded to 4 significant decimals).</summary>
    public void Result(string key, object value) =>
        _result[key] = value is double d ? Math.Round(d, 4) : value;

    /// <summary>Formats a number invariantly.</summary>
    public static string F(double value, int decimals = 2) => value.ToString("F" + decimals, CultureInfo.InvariantCulture);

    /// <summary>Writes the table then, as the very last line, RESULT {json}.</summary>
    public void Print(TextWriter output)
    {
        string[] header = ["figure", "Shoal", "peer", "ratio", "limit"];
        var widths = header.Select((h, i) => Math.Max(h.Length, _rows.Count == 0 ? 0 : _rows.Max(r => r[i].Length))).ToArray();
        output.WriteLine("| " + string.Join(" | ", header.Select((h, i) => h.PadRight(widths[i]))) + " |");
        output.WriteLine("|" + string.Join("|", widths.Select(w => new string('-', w + 2))) + "|");
        foreach (var r in _rows) output.WriteLine("| " + string.Join(" | ", r.Select((c, i) => c.PadRight(widths[i]))) + " |");
        output.WriteLine("RESULT " + JsonSerializer.Serialize(_result));
    }
}
