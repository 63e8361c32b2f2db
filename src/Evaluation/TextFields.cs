using System.Globalization;
using System.Text;
using Shoal.Engine.Ingest;

namespace Shoal.Evaluation;

/// <summary>Shared line-splitting, number parsing and error helpers for the evaluation file readers.</summary>
internal static class TextFields
{
    /// <summary>Opens a text file (UTF-8, BOM skipped), decompressing gzip detected by magic bytes.</summary>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA2000:Dispose objects before losing scope",
        Justification = "The returned StreamReader owns the stream chain and disposes it.")]
    public static StreamReader OpenText(string path) =>
        new(new CorruptInputAsFormatStream(InputStreams.Open(path), path), Encoding.UTF8, detectEncodingFromByteOrderMarks: true, bufferSize: 1 << 16);

    /// <summary>
    /// Splits <paramref name="line"/> on runs of whitespace, storing up to <c>ranges.Length</c> field
    /// ranges. Returns the total number of fields, which may exceed <c>ranges.Length</c>.
    /// </summary>
    public static int SplitWhitespace(ReadOnlySpan<char> line, Span<Range> ranges)
    {
        int count = 0;
        int i = 0;
        while (i < line.Length)
        {
            while (i < line.Length && char.IsWhiteSpace(line[i]))
            {
                i++;
            }

            if (i == line.Length)
            {
                break;
            }

            int start = i;
            while (i < line.Length && !char.IsWhiteSpace(line[i]))
            {
                i++;
            }

            if (count < ranges.Length)
            {
                ranges[count] = new Range(start, i);
            }

            count++;
        }

        return count;
    }

    /// <summary>
    /// Parses a relevance grade: an integer, or a number with no fractional part (e.g. <c>1.0</c>),
    /// culture-invariantly.
    /// </summary>
    public static bool TryParseRelevance(ReadOnlySpan<char> text, out int relevance)
    {
        if (int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out relevance))
        {
            return true;
        }

        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value)
            && value == Math.Floor(value) && value >= int.MinValue && value <= int.MaxValue)
        {
            relevance = (int)value;
            return true;
        }

        relevance = 0;
        return false;
    }

    /// <summary>Builds the <see cref="FormatException"/> used for a malformed input line.</summary>
    public static FormatException LineError(string kind, string path, int lineNumber, string reason, Exception? inner = null) =>
        new($"Malformed {kind} file '{path}', line {lineNumber}: {reason}", inner);
}
