using System.Text.Json;

namespace Shoal.Evaluation;

/// <summary>
/// Reads evaluation topics (queries). The format is detected from content: if the first non-blank
/// line starts with <c>{</c> the file is JSON lines (BEIR <c>queries.jsonl</c>:
/// <c>{"_id": "...", "text": "..."}</c>; <c>"id"</c> is accepted when <c>"_id"</c> is absent, ids
/// may be strings or JSON numbers, other properties are ignored), otherwise TSV
/// (<c>qid&lt;TAB&gt;text</c>, split at the first tab; the text is kept verbatim). Gzip input is
/// detected by its magic bytes (<c>1f 8b</c>), not by the file name.
/// </summary>
public static class TopicReader
{
    /// <summary>
    /// Loads all topics of <paramref name="path"/> in file order. Blank lines are skipped.
    /// </summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="FormatException">A line is malformed (invalid JSON, not an object, missing or
    /// empty id, missing text, no tab in TSV) or an id repeats; the message names the file and the
    /// 1-based line number.</exception>
    public static IReadOnlyList<Topic> Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var topics = new List<Topic>();
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        bool? json = null;
        using StreamReader reader = TextFields.OpenText(path);
        int lineNumber = 0;
        string? line;
        while ((line = reader.ReadLine()) is not null)
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            json ??= line.AsSpan().TrimStart().StartsWith('{');
            Topic topic = json.Value ? ParseJson(line, path, lineNumber) : ParseTsv(line, path, lineNumber);
            if (!seen.TryAdd(topic.Id, lineNumber))
            {
                throw TextFields.LineError("topics", path, lineNumber, $"duplicate query id '{topic.Id}' (first on line {seen[topic.Id]})");
            }

            topics.Add(topic);
        }

        return topics;
    }

    private static Topic ParseTsv(string line, string path, int lineNumber)
    {
        int tab = line.IndexOf('\t', StringComparison.Ordinal);
        if (tab < 0)
        {
            throw TextFields.LineError("topics", path, lineNumber, "expected 'qid<TAB>text', found no tab");
        }

        string id = line[..tab];
        if (string.IsNullOrWhiteSpace(id))
        {
            throw TextFields.LineError("topics", path, lineNumber, "empty query id");
        }

        return new Topic(id, line[(tab + 1)..]);
    }

    private static Topic ParseJson(string line, string path, int lineNumber)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(line);
        }
        catch (JsonException ex)
        {
            throw TextFields.LineError("topics", path, lineNumber, $"invalid JSON ({ex.Message})", ex);
        }

        using (document)
        {
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw TextFields.LineError("topics", path, lineNumber, $"expected a JSON object, found {root.ValueKind}");
            }

            if (!root.TryGetProperty("_id", out JsonElement idElement) && !root.TryGetProperty("id", out idElement))
            {
                throw TextFields.LineError("topics", path, lineNumber, "missing \"_id\" (or \"id\")");
            }

            string? id = idElement.ValueKind switch
            {
                JsonValueKind.String => idElement.GetString(),
                JsonValueKind.Number => idElement.GetRawText(),
                _ => throw TextFields.LineError("topics", path, lineNumber, $"query id must be a string, found {idElement.ValueKind}"),
            };
            if (string.IsNullOrWhiteSpace(id))
            {
                throw TextFields.LineError("topics", path, lineNumber, "empty query id");
            }

            if (!root.TryGetProperty("text", out JsonElement textElement))
            {
                throw TextFields.LineError("topics", path, lineNumber, $"missing \"text\" (query '{id}')");
            }

            if (textElement.ValueKind != JsonValueKind.String)
            {
                throw TextFields.LineError("topics", path, lineNumber, $"\"text\" must be a string, found {textElement.ValueKind}");
            }

            return new Topic(id, textElement.GetString()!);
        }
    }
}
