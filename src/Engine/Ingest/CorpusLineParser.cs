using System.Buffers;
using System.Text;
using System.Text.Json;
using Shoal.Engine.Sparse;

namespace Shoal.Engine.Ingest;

/// <summary>
/// The per-line rules of every line-oriented source, in one place, without throwing: a malformed
/// line yields the reason, so a reader can count it and go on (or, like <see cref="CorpusReader"/>,
/// which delegates here, turn it into an exception naming the line).
/// <list type="bullet">
/// <item><description><see cref="TryParse"/>: a text corpus line (<see cref="CorpusFormat"/>).</description></item>
/// <item><description><see cref="TryParseSparse"/>: an Anserini JSON vector line
/// <c>{"id", "contents", "vector": {token: weight}}</c>, with the rules of <see cref="SparseCorpusReader"/>.</description></item>
/// <item><description><see cref="TryParseDense"/>: a dense vector JSON line <c>{"id", "vector": [...]}</c>,
/// which <see cref="Dense.DenseVectorReader"/> uses for its JSON lines.</description></item>
/// </list>
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

    /// <summary>
    /// Parses an Anserini JSON vector line: the id under <c>"id"</c>, <c>"_id"</c> or <c>"docid"</c>
    /// (a string, or a JSON number taken verbatim), optional text under <c>"contents"</c>,
    /// <c>"content"</c> or <c>"text"</c> (string or null) and <c>"vector"</c>, an object of token: weight.
    /// Tokens map through <paramref name="vocabulary"/>; zero weights are dropped; an unknown token,
    /// a negative, NaN or infinite weight, a repeated token or content after the object makes the
    /// line malformed. <see cref="SparseCorpusReader.Read"/> applies these rules too.
    /// </summary>
    public static SparseDocument? TryParseSparse(ReadOnlySpan<byte> line, SparseVocabulary vocabulary, out string? reason)
    {
        ArgumentNullException.ThrowIfNull(vocabulary);
        var (id, text, vector) = ParseSparseObject(line, vocabulary, query: false, out reason);
        if (reason is not null) return null;
        if (id is null) reason = "missing \"id\" (or \"_id\", \"docid\")";
        else if (string.IsNullOrWhiteSpace(id)) reason = "empty document id";
        else if (vector is null) reason = "missing \"vector\"";
        if (reason is not null) return null;
        return new SparseDocument(id!, text, vector!.Value);
    }

    /// <summary>
    /// Parses a learned-sparse query JSON line: the id under <c>"id"</c>, <c>"qid"</c> or <c>"_id"</c>
    /// (a string or a number) and <c>"vector"</c> with the rules of <see cref="TryParseSparse"/>; other
    /// properties are ignored. <see cref="SparseCorpusReader.ReadQueries"/> applies these rules to JSON query files.
    /// </summary>
    /// <returns>The query id and vector, or null with <paramref name="reason"/>.</returns>
    public static (string Id, SparseVector Vector)? TryParseSparseQuery(ReadOnlySpan<byte> line, SparseVocabulary vocabulary, out string? reason)
    {
        ArgumentNullException.ThrowIfNull(vocabulary);
        var (id, _, vector) = ParseSparseObject(line, vocabulary, query: true, out reason);
        if (reason is not null) return null;
        if (string.IsNullOrWhiteSpace(id)) reason = "missing or empty query id (\"id\", \"qid\" or \"_id\")";
        else if (vector is null) reason = "missing \"vector\"";
        if (reason is not null) return null;
        return (id!, vector!.Value);
    }

    /// <summary>
    /// The object walk shared by documents and queries: documents take their id from <c>"id"</c>,
    /// <c>"_id"</c> or <c>"docid"</c> and text from <c>"contents"</c>, <c>"content"</c> or <c>"text"</c>;
    /// queries take their id from <c>"id"</c>, <c>"qid"</c> or <c>"_id"</c> and have no text. A
    /// non-null <paramref name="reason"/> means the line is malformed.
    /// </summary>
    private static (string? Id, string? Text, SparseVector? Vector) ParseSparseObject(ReadOnlySpan<byte> line, SparseVocabulary vocabulary, bool query, out string? reason)
    {
        string? id = null, text = null;
        SparseVector? vector = null;
        reason = null;
        try
        {
            var reader = new Utf8JsonReader(line, new JsonReaderOptions { MaxDepth = 64 });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                reason = $"expected a JSON object, found {reader.TokenType}";
                return default;
            }
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("id"u8) || reader.ValueTextEquals("_id"u8) || (query ? reader.ValueTextEquals("qid"u8) : reader.ValueTextEquals("docid"u8)))
                {
                    string name = reader.GetString()!;
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.String) id = reader.GetString();
                    else if (reader.TokenType == JsonTokenType.Number) id = Encoding.UTF8.GetString(reader.ValueSpan);
                    else
                    {
                        reason = $"\"{name}\" must be a string or a number, found {reader.TokenType}";
                        return default;
                    }
                }
                else if (!query && (reader.ValueTextEquals("contents"u8) || reader.ValueTextEquals("content"u8) || reader.ValueTextEquals("text"u8)))
                {
                    string name = reader.GetString()!;
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.String) text = reader.GetString();
                    else if (reader.TokenType == JsonTokenType.Null) text = null;
                    else
                    {
                        reason = $"\"{name}\" must be a string or null, found {reader.TokenType}";
                        return default;
                    }
                }
                else if (reader.ValueTextEquals("vector"u8))
                {
                    reader.Read();
                    vector = ReadSparseVector(ref reader, vocabulary, out reason);
                    if (vector is null) return default;
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
                return default;
            }
        }
        catch (JsonException e)
        {
            reason = $"invalid JSON ({e.Message})";
            return default;
        }
        catch (InvalidOperationException e)
        {
            reason = $"invalid value ({e.Message})";
            return default;
        }
        return (id, text, vector);
    }

    /// <summary>Per-thread scratch list of a vector's (term, weight) pairs, so a long file does not allocate one per line.</summary>
    [ThreadStatic]
    private static List<(int Term, float Weight)>? t_pairs;

    private static SparseVector? ReadSparseVector(ref Utf8JsonReader reader, SparseVocabulary vocabulary, out string? reason)
    {
        reason = null;
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            reason = $"\"vector\" must be an object of token: weight, found {reader.TokenType}";
            return null;
        }
        var pairs = t_pairs ??= new List<(int Term, float Weight)>();
        pairs.Clear();
        char[] buffer = ArrayPool<char>.Shared.Rent(256);
        try
        {
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                int needed = reader.ValueSpan.Length;
                if (needed > buffer.Length)
                {
                    ArrayPool<char>.Shared.Return(buffer);
                    buffer = ArrayPool<char>.Shared.Rent(needed);
                }
                int length = reader.CopyString(buffer);
                var token = buffer.AsSpan(0, length);
                reader.Read();
                if (reader.TokenType != JsonTokenType.Number)
                {
                    reason = $"weight of token '{token}' must be a number, found {reader.TokenType}";
                    return null;
                }
                if (!reader.TryGetDouble(out double value))
                {
                    reason = $"weight of token '{token}' is not a representable number";
                    return null;
                }
                float weight = (float)value;
                int id;
                try
                {
                    id = vocabulary.CheckToken(token, weight);
                }
                catch (SparseVectorException e)
                {
                    reason = e.Message;
                    return null;
                }
                if (id >= 0) pairs.Add((id, weight));
            }
            if (reader.TokenType != JsonTokenType.EndObject)
            {
                reason = "\"vector\" is not a well-formed object";
                return null;
            }
            try
            {
                return SparseVector.Create(pairs);
            }
            catch (SparseVectorException e)
            {
                // Name the token rather than the term id for a repeated key.
                var dup = pairs.GroupBy(p => p.Term).FirstOrDefault(g => g.Count() > 1);
                reason = dup is null ? e.Message : $"token '{vocabulary.TokenOf(dup.Key)}' occurs more than once in \"vector\"";
                return null;
            }
        }
        finally
        {
            ArrayPool<char>.Shared.Return(buffer);
            // An unusually long vector's list is not kept for the thread's lifetime.
            if (pairs.Capacity > 1 << 16) t_pairs = null;
        }
    }

    /// <summary>
    /// Parses a dense vector JSON line: the id under <c>"id"</c>, <c>"docid"</c>, <c>"_id"</c> or
    /// <c>"qid"</c> (a string or a number; the first one present is used) and <c>"vector"</c>, a
    /// non-empty array of finite numbers (a value outside the float32 range counts as infinite).
    /// When <paramref name="dims"/> is 0 the vector may have any size (the caller takes it from the
    /// first vector); otherwise a vector of another size is malformed.
    /// </summary>
    /// <returns>The id and vector, or null with <paramref name="reason"/>.</returns>
    public static (string Id, float[] Vector)? TryParseDense(ReadOnlySpan<byte> line, int dims, out string? reason)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(dims);
        string? id = null;
        bool sawVector = false;
        var buffer = new List<float>(dims > 0 ? dims : 256);
        reason = null;
        try
        {
            var reader = new Utf8JsonReader(line, new JsonReaderOptions { MaxDepth = 64 });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                reason = "expected a JSON object";
                return null;
            }
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("vector"u8))
                {
                    reader.Read();
                    if (reader.TokenType != JsonTokenType.StartArray)
                    {
                        reason = "\"vector\" is not an array of numbers";
                        return null;
                    }
                    while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                    {
                        if (ReadComponent(ref reader, buffer.Count, out reason) is not float f) return null;
                        buffer.Add(f);
                    }
                    sawVector = true;
                }
                else if (reader.ValueTextEquals("id"u8) || reader.ValueTextEquals("docid"u8) ||
                         reader.ValueTextEquals("_id"u8) || reader.ValueTextEquals("qid"u8))
                {
                    reader.Read();
                    string? value;
                    if (reader.TokenType == JsonTokenType.String) value = reader.GetString();
                    else if (reader.TokenType == JsonTokenType.Number) value = Encoding.UTF8.GetString(reader.ValueSpan);
                    else
                    {
                        reason = "the id is neither a string nor a number";
                        return null;
                    }
                    id ??= value;
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
            bool nonFinite = line.IndexOf("NaN"u8) >= 0 || line.IndexOf("Infinity"u8) >= 0;
            reason = nonFinite ? "vector contains NaN or Infinity (components must be finite)" : $"malformed JSON: {e.Message}";
            return null;
        }
        catch (InvalidOperationException e)
        {
            reason = $"invalid value ({e.Message})";
            return null;
        }
        if (string.IsNullOrEmpty(id)) reason = "missing or empty id (expected \"id\", \"docid\", \"_id\" or \"qid\")";
        else if (!sawVector) reason = "missing \"vector\"";
        else if (buffer.Count == 0) reason = "\"vector\" is empty";
        else if (dims > 0 && buffer.Count != dims) reason = $"vector has {buffer.Count} dimensions, expected {dims}";
        if (reason is not null) return null;
        return (id!, buffer.ToArray());
    }

    private static float? ReadComponent(ref Utf8JsonReader reader, int index, out string? reason)
    {
        reason = null;
        if (reader.TokenType == JsonTokenType.Number)
        {
            if (!reader.TryGetDouble(out double d))
            {
                reason = $"component {index} ({Encoding.UTF8.GetString(reader.ValueSpan)}) is not a finite number";
                return null;
            }
            float f = (float)d;
            if (!float.IsFinite(f))
            {
                reason = $"component {index} ({d}) is outside the float32 range (infinite)";
                return null;
            }
            return f;
        }
        if (reader.TokenType == JsonTokenType.String)
        {
            string s = reader.GetString() ?? "";
            if (s.Contains("nan", StringComparison.OrdinalIgnoreCase) || s.Contains("inf", StringComparison.OrdinalIgnoreCase))
            {
                reason = $"component {index} is \"{s}\" (NaN or infinite; components must be finite)";
                return null;
            }
        }
        reason = $"component {index} is not a number";
        return null;
    }
}
