using System.Text.Json;

namespace Shoal.Engine.Ingest;

/// <summary>
/// Detection and naming of <see cref="CorpusFormat"/> values. Canonical names, as used on command
/// lines and in configuration: <c>beir</c>, <c>tsv</c>, <c>msmarco-v2</c>.
/// </summary>
public static class CorpusFormats
{
    /// <summary>The canonical format names accepted by <see cref="Parse"/>, in enum order.</summary>
    public static IReadOnlyList<string> Names { get; } = ["beir", "tsv", "msmarco-v2"];

    /// <summary>
    /// Detects a corpus file's format from its extension, after stripping a <c>.gz</c> suffix:
    /// <c>.jsonl</c> / <c>.json</c> give <see cref="CorpusFormat.BeirJsonl"/>, unless the first
    /// non-blank record has a top-level <c>"pid"</c> or <c>"passage"</c> property, which gives
    /// <see cref="CorpusFormat.MsMarcoV2Jsonl"/>; <c>.tsv</c> / <c>.txt</c> give
    /// <see cref="CorpusFormat.Tsv"/>. Compression of the peeked record is detected from the
    /// file's magic bytes. A first record that is not valid JSON yields
    /// <see cref="CorpusFormat.BeirJsonl"/> (the reader then reports the error with its line).
    /// </summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="ArgumentException">The extension is not one of the above.</exception>
    public static CorpusFormat Detect(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Corpus file not found: '{path}'.", path);
        }

        string extension = System.IO.Path.GetExtension(InputStreams.StripGzipSuffix(path)).ToLowerInvariant();
        switch (extension)
        {
            case ".tsv":
            case ".txt":
                return CorpusFormat.Tsv;
            case ".jsonl":
            case ".json":
                return FirstRecordLooksLikeMsMarcoV2(path) ? CorpusFormat.MsMarcoV2Jsonl : CorpusFormat.BeirJsonl;
            default:
                throw new ArgumentException(
                    $"Cannot detect the corpus format of '{path}' from its extension '{extension}': expected .jsonl, .json, .tsv or .txt "
                    + $"(optionally followed by .gz). Name the format explicitly instead ({string.Join(", ", Names)}).",
                    nameof(path));
        }
    }

    /// <summary>
    /// Parses a format name, case-insensitively: <c>beir</c>, <c>tsv</c> or <c>msmarco-v2</c>
    /// (the enum member names, e.g. <c>BeirJsonl</c>, are accepted as well).
    /// </summary>
    /// <exception cref="ArgumentException">The name is not recognised; the message lists the valid names.</exception>
    public static CorpusFormat Parse(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        string trimmed = name.Trim();
        for (int i = 0; i < Names.Count; i++)
        {
            if (string.Equals(trimmed, Names[i], StringComparison.OrdinalIgnoreCase))
            {
                return (CorpusFormat)i;
            }
        }

        foreach (CorpusFormat format in Enum.GetValues<CorpusFormat>())
        {
            if (string.Equals(trimmed, format.ToString(), StringComparison.OrdinalIgnoreCase))
            {
                return format;
            }
        }

        throw new ArgumentException(
            $"Unknown corpus format '{name}'. Valid formats: {string.Join(", ", Names)}.", nameof(name));
    }

    /// <summary>The canonical name of <paramref name="format"/> (<c>beir</c>, <c>tsv</c>, <c>msmarco-v2</c>).</summary>
    /// <exception cref="ArgumentOutOfRangeException">Not a defined <see cref="CorpusFormat"/>.</exception>
    public static string Name(CorpusFormat format) => format switch
    {
        CorpusFormat.BeirJsonl => Names[0],
        CorpusFormat.Tsv => Names[1],
        CorpusFormat.MsMarcoV2Jsonl => Names[2],
        _ => throw new ArgumentOutOfRangeException(nameof(format), format, "Unknown corpus format."),
    };

    private static bool FirstRecordLooksLikeMsMarcoV2(string path)
    {
        using var lines = new Utf8LineReader(InputStreams.Open(path));
        try
        {
            while (lines.TryReadLine(out ReadOnlySpan<byte> line))
            {
                if (CorpusReader.IsBlank(line))
                {
                    continue;
                }

                return HasMsMarcoV2Property(line);
            }
        }
        catch (InvalidDataException)
        {
            // Corrupt input or an overlong line: let the reader report it with its line number.
        }

        return false;
    }

    private static bool HasMsMarcoV2Property(ReadOnlySpan<byte> line)
    {
        try
        {
            var reader = new Utf8JsonReader(line);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return false;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("pid"u8) || reader.ValueTextEquals("passage"u8))
                {
                    return true;
                }

                reader.Read();
                reader.Skip();
            }
        }
        catch (JsonException)
        {
            // Not valid JSON: the default applies.
        }

        return false;
    }
}
