using System.Text;
using System.Text.Json;

namespace Shoal.Engine.Ingest;

/// <summary>
/// Streams <see cref="SourceDocument"/>s out of a corpus file, one line at a time: the file is
/// never loaded whole, and gzip input (detected by its magic bytes, whatever the file name) is
/// decompressed on the fly. Blank (whitespace-only) lines are skipped. JSON lines are parsed with
/// <see cref="Utf8JsonReader"/> directly over the line's UTF-8 bytes.
/// </summary>
/// <remarks>
/// Formats (see <see cref="CorpusFormat"/>):
/// <list type="bullet">
/// <item><description><see cref="CorpusFormat.BeirJsonl"/>: <c>{"_id": "...", "title": "...", "text": "..."}</c>.
/// <c>"_id"</c> (string, or a JSON number taken verbatim) and <c>"text"</c> (string) are required;
/// <c>"title"</c> is optional (string or null); other properties are ignored.</description></item>
/// <item><description><see cref="CorpusFormat.MsMarcoV2Jsonl"/>: <c>{"pid": "...", "passage": "...", ...}</c>; no title.</description></item>
/// <item><description><see cref="CorpusFormat.Tsv"/>: <c>id&lt;TAB&gt;text</c>, or <c>id&lt;TAB&gt;title&lt;TAB&gt;text</c>
/// when a line has three columns; any other column count is an error.</description></item>
/// </list>
/// An empty title becomes <see langword="null"/>. Text may be empty. A malformed line (invalid JSON
/// or UTF-8, a non-object, a missing, empty or non-string id, missing or non-string text) throws
/// <see cref="CorpusFormatException"/> naming the file and the 1-based line number, when the
/// enumeration reaches that line; documents before it have already been yielded.
/// </remarks>
public static class CorpusReader
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>
    /// Returns a lazy, single-pass sequence of the documents in <paramref name="path"/>. The file is
    /// opened when enumeration starts and closed when it ends or the enumerator is disposed; each
    /// enumeration reads the file again.
    /// </summary>
    /// <exception cref="FileNotFoundException">The file does not exist (thrown by this call, not deferred).</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="format"/> is not a defined value.</exception>
    /// <exception cref="CorpusFormatException">During enumeration, for a malformed line.</exception>
    public static IEnumerable<SourceDocument> Read(string path, CorpusFormat format)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!Enum.IsDefined(format))
        {
            throw new ArgumentOutOfRangeException(nameof(format), format, "Unknown corpus format.");
        }

        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Corpus file not found: '{path}'.", path);
        }

        return ReadLines(path, format);
    }

    /// <summary>True when the line holds only spaces, tabs, carriage returns or form/vertical feeds.</summary>
    internal static bool IsBlank(ReadOnlySpan<byte> line)
    {
        for (int i = 0; i < line.Length; i++)
        {
            byte b = line[i];
            if (b != (byte)' ' && b != (byte)'\t' && b != (byte)'\r' && b != (byte)'\f' && b != (byte)'\v')
            {
                return false;
            }
        }

        return true;
    }

    private static IEnumerable<SourceDocument> ReadLines(string path, CorpusFormat format)
    {
        using var lines = new Utf8LineReader(InputStreams.Open(path));
        while (true)
        {
            SourceDocument? document = ReadNext(lines, path, format);
            if (document is null)
            {
                yield break;
            }

            yield return document;
        }
    }

    private static SourceDocument? ReadNext(Utf8LineReader lines, string path, CorpusFormat format)
    {
        ReadOnlySpan<byte> line;
        while (true)
        {
            try
            {
                if (!lines.TryReadLine(out line))
                {
                    return null;
                }
            }
            catch (InvalidDataException ex)
            {
                throw new CorpusFormatException(path, lines.LineNumber + 1, $"unreadable input ({ex.Message})", ex);
            }

            if (!IsBlank(line))
            {
                break;
            }
        }

        long lineNumber = lines.LineNumber;
        return format switch
        {
            CorpusFormat.BeirJsonl => ParseJson(line, path, lineNumber, beir: true),
            CorpusFormat.MsMarcoV2Jsonl => ParseJson(line, path, lineNumber, beir: false),
            _ => ParseTsv(line, path, lineNumber),
        };
    }

    private static SourceDocument ParseJson(ReadOnlySpan<byte> line, string path, long lineNumber, bool beir)
    {
        ReadOnlySpan<byte> idName = beir ? "_id"u8 : "pid"u8;
        ReadOnlySpan<byte> textName = beir ? "text"u8 : "passage"u8;
        string idLabel = beir ? "\"_id\"" : "\"pid\"";
        string textLabel = beir ? "\"text\"" : "\"passage\"";
        string? id = null;
        string? title = null;
        string? text = null;

        try
        {
            var reader = new Utf8JsonReader(line, new JsonReaderOptions { MaxDepth = 64 });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                throw new CorpusFormatException(path, lineNumber, $"expected a JSON object, found {reader.TokenType}");
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals(idName))
                {
                    reader.Read();
                    id = reader.TokenType switch
                    {
                        JsonTokenType.String => reader.GetString(),
                        JsonTokenType.Number => Encoding.UTF8.GetString(reader.ValueSpan),
                        _ => throw new CorpusFormatException(path, lineNumber, $"{idLabel} must be a string, found {reader.TokenType}"),
                    };
                }
                else if (reader.ValueTextEquals(textName))
                {
                    reader.Read();
                    if (reader.TokenType != JsonTokenType.String)
                    {
                        throw new CorpusFormatException(path, lineNumber, $"{textLabel} must be a string, found {reader.TokenType}");
                    }

                    text = reader.GetString();
                }
                else if (beir && reader.ValueTextEquals("title"u8))
                {
                    reader.Read();
                    title = reader.TokenType switch
                    {
                        JsonTokenType.String => reader.GetString(),
                        JsonTokenType.Null => null,
                        _ => throw new CorpusFormatException(path, lineNumber, $"\"title\" must be a string or null, found {reader.TokenType}"),
                    };
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }

            // Validates that nothing but whitespace follows the object.
            if (reader.Read())
            {
                throw new CorpusFormatException(path, lineNumber, "unexpected content after the JSON object");
            }
        }
        catch (JsonException ex)
        {
            throw new CorpusFormatException(path, lineNumber, $"invalid JSON ({ex.Message})", ex);
        }
        catch (InvalidOperationException ex)
        {
            // GetString on invalid UTF-8 or a malformed escape.
            throw new CorpusFormatException(path, lineNumber, $"invalid string value ({ex.Message})", ex);
        }

        if (id is null)
        {
            throw new CorpusFormatException(path, lineNumber, $"missing {idLabel}");
        }

        if (string.IsNullOrWhiteSpace(id))
        {
            throw new CorpusFormatException(path, lineNumber, $"empty {idLabel}");
        }

        if (text is null)
        {
            throw new CorpusFormatException(path, lineNumber, $"missing {textLabel} (document '{id}')");
        }

        return new SourceDocument(id, string.IsNullOrEmpty(title) ? null : title, text);
    }

    private static SourceDocument ParseTsv(ReadOnlySpan<byte> line, string path, long lineNumber)
    {
        int firstTab = line.IndexOf((byte)'\t');
        if (firstTab < 0)
        {
            throw new CorpusFormatException(path, lineNumber, "expected 'id<TAB>text' or 'id<TAB>title<TAB>text', found no tab (missing text)");
        }

        ReadOnlySpan<byte> idBytes = line[..firstTab];
        ReadOnlySpan<byte> rest = line[(firstTab + 1)..];
        ReadOnlySpan<byte> titleBytes = default;
        bool hasTitle = false;
        int secondTab = rest.IndexOf((byte)'\t');
        if (secondTab >= 0)
        {
            titleBytes = rest[..secondTab];
            rest = rest[(secondTab + 1)..];
            hasTitle = true;
            if (rest.IndexOf((byte)'\t') >= 0)
            {
                int columns = 3 + rest.Count((byte)'\t');
                throw new CorpusFormatException(path, lineNumber, $"expected 2 or 3 tab-separated columns, found {columns}");
            }
        }

        string id = Decode(idBytes, path, lineNumber);
        if (string.IsNullOrWhiteSpace(id))
        {
            throw new CorpusFormatException(path, lineNumber, "empty id");
        }

        string? title = hasTitle && titleBytes.Length > 0 ? Decode(titleBytes, path, lineNumber) : null;
        string text = Decode(rest, path, lineNumber);
        return new SourceDocument(id, title, text);
    }

    private static string Decode(ReadOnlySpan<byte> bytes, string path, long lineNumber)
    {
        try
        {
            return StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException ex)
        {
            throw new CorpusFormatException(path, lineNumber, "invalid UTF-8", ex);
        }
    }
}
