using System.Buffers;
using System.Text;
using System.Text.Json;
using Shoal.Engine.Ingest;

namespace Shoal.Engine.Sparse;

/// <summary>
/// Reads learned-sparse corpora and query files. Files are streamed line by line; gzip input is
/// detected by its magic bytes (whatever the file name). Blank lines are skipped. Every format error
/// is a <see cref="CorpusFormatException"/> naming the file and the 1-based line number.
/// </summary>
/// <remarks>
/// Corpus format: Anserini's JSON vector collection, one object per line,
/// <c>{"id": "...", "contents": "...", "vector": {"token": weight, ...}}</c>. The id may also be named
/// <c>"_id"</c> or <c>"docid"</c> (a string, or a JSON number taken verbatim); the text may be named
/// <c>"contents"</c>, <c>"content"</c> or <c>"text"</c> (string or null, optional). Other properties are
/// ignored. Tokens are mapped through a <see cref="SparseVocabulary"/>; zero weights are dropped;
/// an unknown token, a negative, NaN or infinite weight, or a repeated token is an error.
/// </remarks>
public static class SparseCorpusReader
{
    /// <summary>
    /// A lazy, single-pass sequence of the documents in <paramref name="path"/>; the file is opened
    /// when enumeration starts and closed when it ends.
    /// </summary>
    /// <exception cref="FileNotFoundException">The file does not exist (thrown by this call).</exception>
    /// <exception cref="CorpusFormatException">During enumeration, for a malformed line.</exception>
    public static IEnumerable<SparseDocument> Read(string path, SparseVocabulary vocab)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(vocab);
        if (!File.Exists(path)) throw new FileNotFoundException($"Sparse corpus file not found: '{path}'.", path);
        return ReadDocuments(path, vocab);
    }

    private static IEnumerable<SparseDocument> ReadDocuments(string path, SparseVocabulary vocab)
    {
        using var lines = new Utf8LineReader(InputStreams.Open(path));
        var pairs = new List<(int Term, float Weight)>();
        while (NextLine(lines, path, out var line))
            yield return ParseDocument(line, path, lines.LineNumber, vocab, pairs);
    }

    /// <summary>
    /// Reads a query file in full: either JSON lines <c>{"id"|"qid"|"_id": ..., "vector": {token: weight}}</c>
    /// or TSV <c>qid&lt;TAB&gt;tokens</c>, where tokens are separated by spaces and a token repeated N
    /// times has weight N (Anserini's pre-tokenized convention). The format is decided by the first
    /// non-blank line (JSON when it starts with <c>{</c>). Gzip is detected by magic bytes.
    /// </summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="CorpusFormatException">A malformed line (file and line number in the message).</exception>
    public static IReadOnlyList<(string Id, SparseVector Vector)> ReadQueries(string path, SparseVocabulary vocab)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(vocab);
        if (!File.Exists(path)) throw new FileNotFoundException($"Sparse query file not found: '{path}'.", path);
        var result = new List<(string, SparseVector)>();
        var pairs = new List<(int Term, float Weight)>();
        using var lines = new Utf8LineReader(InputStreams.Open(path));
        bool? json = null;
        while (NextLine(lines, path, out var line))
        {
            json ??= line.TrimStart(" \t"u8).StartsWith("{"u8);
            result.Add(json.Value
                ? ParseJsonQuery(line, path, lines.LineNumber, vocab, pairs)
                : ParseTsvQuery(line, path, lines.LineNumber, vocab));
        }
        return result;
    }

    private static bool NextLine(Utf8LineReader lines, string path, out ReadOnlySpan<byte> line)
    {
        while (true)
        {
            try
            {
                if (!lines.TryReadLine(out line)) return false;
            }
            catch (InvalidDataException ex)
            {
                throw new CorpusFormatException(path, lines.LineNumber + 1, $"unreadable input ({ex.Message})", ex);
            }
            if (!CorpusReader.IsBlank(line)) return true;
        }
    }

    private static SparseDocument ParseDocument(ReadOnlySpan<byte> line, string path, long lineNumber, SparseVocabulary vocab,
        List<(int Term, float Weight)> pairs)
    {
        string? id = null, text = null;
        SparseVector? vector = null;
        try
        {
            var reader = new Utf8JsonReader(line, new JsonReaderOptions { MaxDepth = 64 });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
                throw new CorpusFormatException(path, lineNumber, $"expected a JSON object, found {reader.TokenType}");
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("id"u8) || reader.ValueTextEquals("_id"u8) || reader.ValueTextEquals("docid"u8))
                {
                    string name = reader.GetString()!;
                    reader.Read();
                    id = ReadId(ref reader, path, lineNumber, name);
                }
                else if (reader.ValueTextEquals("contents"u8) || reader.ValueTextEquals("content"u8) || reader.ValueTextEquals("text"u8))
                {
                    string name = reader.GetString()!;
                    reader.Read();
                    text = reader.TokenType switch
                    {
                        JsonTokenType.String => reader.GetString(),
                        JsonTokenType.Null => null,
                        _ => throw new CorpusFormatException(path, lineNumber, $"\"{name}\" must be a string or null, found {reader.TokenType}"),
                    };
                }
                else if (reader.ValueTextEquals("vector"u8))
                {
                    reader.Read();
                    vector = ReadVector(ref reader, path, lineNumber, vocab, pairs);
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }
            if (reader.Read()) throw new CorpusFormatException(path, lineNumber, "unexpected content after the JSON object");
        }
        catch (JsonException ex)
        {
            throw new CorpusFormatException(path, lineNumber, $"invalid JSON ({ex.Message})", ex);
        }
        catch (InvalidOperationException ex)
        {
            throw new CorpusFormatException(path, lineNumber, $"invalid value ({ex.Message})", ex);
        }
        if (id is null) throw new CorpusFormatException(path, lineNumber, "missing \"id\" (or \"_id\", \"docid\")");
        if (string.IsNullOrWhiteSpace(id)) throw new CorpusFormatException(path, lineNumber, "empty document id");
        if (vector is null) throw new CorpusFormatException(path, lineNumber, "missing \"vector\"");
        return new SparseDocument(id, text, vector.Value);
    }

    private static (string, SparseVector) ParseJsonQuery(ReadOnlySpan<byte> line, string path, long lineNumber, SparseVocabulary vocab,
        List<(int Term, float Weight)> pairs)
    {
        string? id = null;
        SparseVector? vector = null;
        try
        {
            var reader = new Utf8JsonReader(line, new JsonReaderOptions { MaxDepth = 64 });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
                throw new CorpusFormatException(path, lineNumber, $"expected a JSON object, found {reader.TokenType}");
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("id"u8) || reader.ValueTextEquals("qid"u8) || reader.ValueTextEquals("_id"u8))
                {
                    string name = reader.GetString()!;
                    reader.Read();
                    id = ReadId(ref reader, path, lineNumber, name);
                }
                else if (reader.ValueTextEquals("vector"u8))
                {
                    reader.Read();
                    vector = ReadVector(ref reader, path, lineNumber, vocab, pairs);
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }
            if (reader.Read()) throw new CorpusFormatException(path, lineNumber, "unexpected content after the JSON object");
        }
        catch (JsonException ex)
        {
            throw new CorpusFormatException(path, lineNumber, $"invalid JSON ({ex.Message})", ex);
        }
        catch (InvalidOperationException ex)
        {
            throw new CorpusFormatException(path, lineNumber, $"invalid value ({ex.Message})", ex);
        }
        if (string.IsNullOrWhiteSpace(id)) throw new CorpusFormatException(path, lineNumber, "missing or empty query id (\"id\", \"qid\" or \"_id\")");
        if (vector is null) throw new CorpusFormatException(path, lineNumber, "missing \"vector\"");
        return (id, vector.Value);
    }

    private static (string, SparseVector) ParseTsvQuery(ReadOnlySpan<byte> line, string path, long lineNumber, SparseVocabulary vocab)
    {
        string text;
        try
        {
            text = StrictUtf8.GetString(line);
        }
        catch (DecoderFallbackException ex)
        {
            throw new CorpusFormatException(path, lineNumber, "invalid UTF-8", ex);
        }
        int tab = text.IndexOf('\t');
        if (tab < 0) throw new CorpusFormatException(path, lineNumber, "expected qid<TAB>tokens");
        string id = text[..tab].Trim();
        if (id.Length == 0) throw new CorpusFormatException(path, lineNumber, "empty query id");
        var counts = new Dictionary<int, int>();
        foreach (var range in text.AsSpan(tab + 1).Split(' '))
        {
            var token = text.AsSpan(tab + 1)[range].Trim('\t');
            if (token.IsEmpty) continue;
            if (!vocab.TryGetId(token, out int termId))
                throw new CorpusFormatException(path, lineNumber, $"token '{token}' is not in the vocabulary");
            counts[termId] = counts.GetValueOrDefault(termId) + 1;
        }
        return (id, SparseVector.Create(counts.Select(kv => (kv.Key, (float)kv.Value))));
    }

    private static readonly UTF8Encoding StrictUtf8 = new(false, throwOnInvalidBytes: true);

    private static string ReadId(ref Utf8JsonReader reader, string path, long lineNumber, string name) => reader.TokenType switch
    {
        JsonTokenType.String => reader.GetString()!,
        JsonTokenType.Number => Encoding.UTF8.GetString(reader.ValueSpan),
        _ => throw new CorpusFormatException(path, lineNumber, $"\"{name}\" must be a string or a number, found {reader.TokenType}"),
    };

    private static SparseVector ReadVector(ref Utf8JsonReader reader, string path, long lineNumber, SparseVocabulary vocab,
        List<(int Term, float Weight)> pairs)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
            throw new CorpusFormatException(path, lineNumber, $"\"vector\" must be an object of token: weight, found {reader.TokenType}");
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
                    throw new CorpusFormatException(path, lineNumber, $"weight of token '{token}' must be a number, found {reader.TokenType}");
                if (!reader.TryGetDouble(out double value))
                    throw new CorpusFormatException(path, lineNumber, $"weight of token '{token}' is not a representable number");
                float weight = (float)value;
                int id;
                try
                {
                    id = vocab.CheckToken(token, weight);
                }
                catch (SparseVectorException ex)
                {
                    throw new CorpusFormatException(path, lineNumber, ex.Message, ex);
                }
                if (id >= 0) pairs.Add((id, weight));
            }
            if (reader.TokenType != JsonTokenType.EndObject)
                throw new CorpusFormatException(path, lineNumber, "\"vector\" is not a well-formed object");
            try
            {
                return SparseVector.Create(pairs);
            }
            catch (SparseVectorException ex)
            {
                // Name the token rather than the term id for a repeated key.
                string message = ex.Message;
                var dup = pairs.GroupBy(p => p.Term).FirstOrDefault(g => g.Count() > 1);
                if (dup is not null) message = $"token '{vocab.TokenOf(dup.Key)}' occurs more than once in \"vector\"";
                throw new CorpusFormatException(path, lineNumber, message, ex);
            }
        }
        finally
        {
            ArrayPool<char>.Shared.Return(buffer);
        }
    }
}
