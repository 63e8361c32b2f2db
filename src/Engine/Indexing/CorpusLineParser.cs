using System.Text;
using System.Text.Json;
using Shoal.Engine.Ingest;

namespace Shoal.Engine.Indexing;

/// <summary>
/// Parses one corpus line of a <see cref="CorpusFormat"/> into a <see cref="SourceDocument"/>
/// without throwing: a malformed line yields the reason, so a reader can count it and go on.
/// The rules are those of <see cref="CorpusReader"/> (same required fields, same treatment of
/// empty titles, numbers as ids and trailing content).
/// </summary>
public static class CorpusLineParser
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>True when the line holds only spaces, tabs, carriage returns or form/vertical feeds (such lines are skipped, not malformed).</summary>
    public static bool IsBlank(ReadOnlySpan<byte> line) => line.Trim(" \t\r\f\v"u8).IsEmpty;

    /// <summary>
    /// Parses <paramref name="line"/> (UTF-8, without its terminator). Returns the document, or
    /// null with <paramref name="reason"/> saying what is wrong (e.g. <c>missing "_id"</c>).
    /// </summary>
    public static SourceDocument? TryParse(ReadOnlySpan<byte> line, CorpusFormat format, out string? reason)
    {
        reason = null;
        return format switch
        {
            CorpusFormat.BeirJsonl => ParseJson(line, beir: true, out reason),
            CorpusFormat.MsMarcoV2Jsonl => ParseJson(line, beir: false, out reason),
            CorpusFormat.Tsv => ParseTsv(line, out reason),
            _ => throw new ArgumentOutOfRangeException(nameof(format), format, "Unknown corpus format."),
        };
    }

    private static SourceDocument? ParseJson(ReadOnlySpan<byte> line, bool beir, out string? reason)
    {
        ReadOnlySpan<byte> idName = beir ? "_id"u8 : "pid"u8;
        ReadOnlySpan<byte> textName = beir ? "text"u8 : "passage"u8;
        string idLabel = beir ? "\"_id\"" : "\"pid\"";
        string textLabel = beir ? "\"text\"" : "\"passage\"";
        string? id = null, title = null, text = null;
        reason = null;
        try
        {
            var reader = new Utf8JsonReader(line, new JsonReaderOptions { MaxDepth = 64 });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                reason = $"expected a JSON object, found {reader.TokenType}";
                return null;
            }
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals(idName))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.String) id = reader.GetString();
                    else if (reader.TokenType == JsonTokenType.Number) id = Encoding.UTF8.GetString(reader.ValueSpan);
                    else
                    {
                        reason = $"{idLabel} must be a string, found {reader.TokenType}";
                        return null;
                    }
                }
                else if (reader.ValueTextEquals(textName))
                {
                    reader.Read();
                    if (reader.TokenType != JsonTokenType.String)
                    {
                        reason = $"{textLabel} must be a string, found {reader.TokenType}";
                        return null;
                    }
                    text = reader.GetString();
                }
                else if (beir && reader.ValueTextEquals("title"u8))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.String) title = reader.GetString();
                    else if (reader.TokenType == JsonTokenType.Null) title = null;
                    else
                    {
                        reason = $"\"title\" must be a string or null, found {reader.TokenType}";
                        return null;
                    }
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }
            if (reader.Read())
            {
                reason = "unexpected content after the JSON object";
                return null;
            }
        }
        catch (JsonException e)
        {
            reason = $"invalid JSON ({e.Message})";
            return null;
        }
        catch (InvalidOperationException e)
        {
            reason = $"invalid string value ({e.Message})";
            return null;
        }
        if (id is null) reason = $"missing {idLabel}";
        else if (string.IsNullOrWhiteSpace(id)) reason = $"empty {idLabel}";
        else if (text is null) reason = $"missing {textLabel} (document '{id}')";
        if (reason is not null) return null;
        return new SourceDocument(id!, string.IsNullOrEmpty(title) ? null : title, text!);
    }

    private static SourceDocument? ParseTsv(ReadOnlySpan<byte> line, out string? reason)
    {
        reason = null;
        int firstTab = line.IndexOf((byte)'\t');
        if (firstTab < 0)
        {
            reason = "expected 'id<TAB>text' or 'id<TAB>title<TAB>text', found no tab (missing text)";
            return null;
        }
        var idBytes = line[..firstTab];
        var rest = line[(firstTab + 1)..];
        ReadOnlySpan<byte> titleBytes = default;
        bool hasTitle = false;
        int secondTab = rest.IndexOf((byte)'\t');
        if (secondTab >= 0)
        {
            titleBytes = rest[..secondTab];
            rest = rest[(secondTab + 1)..];
            hasTitle = true;
            if (rest.Contains((byte)'\t'))
            {
                reason = $"expected 2 or 3 tab-separated columns, found {3 + rest.Count((byte)'\t')}";
                return null;
            }
        }
        try
        {
            string id = StrictUtf8.GetString(idBytes);
            if (string.IsNullOrWhiteSpace(id))
            {
                reason = "empty id";
                return null;
            }
            string? title = hasTitle && titleBytes.Length > 0 ? StrictUtf8.GetString(titleBytes) : null;
            return new SourceDocument(id, title, StrictUtf8.GetString(rest));
        }
        catch (DecoderFallbackException)
        {
            reason = "invalid UTF-8";
            return null;
        }
    }
}
