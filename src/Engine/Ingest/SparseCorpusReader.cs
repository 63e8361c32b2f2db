using System.Text;
using Shoal.Engine.Sparse;

namespace Shoal.Engine.Ingest;

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
/// an unknown token, a negative, NaN or infinite weight, a repeated token, or content after the
/// object is an error. The line rules are <see cref="CorpusLineParser.TryParseSparse"/>'s (and
/// <see cref="CorpusLineParser.TryParseSparseQuery"/>'s for JSON query lines). <see cref="Read"/> is the
/// whole-file view of the one sparse corpus reader, <see cref="SparseChunkReader"/> (which indexing
/// jobs read in checkpointed chunks): the first malformed line it reports is thrown here.
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

    /// <summary>Lines the view reads at a time.</summary>
    private const int ChunkLines = 1024;

    private static IEnumerable<SparseDocument> ReadDocuments(string path, SparseVocabulary vocab)
    {
        using var reader = SparseChunkReader.Open(path, vocab);
        while (!reader.EndOfInput)
        {
            VectorChunk<SparseSpillRecord> chunk;
            try
            {
                chunk = reader.ReadChunk(ChunkLines);
            }
            catch (InvalidDataException ex)
            {
                // The line after the last one read cannot be read; the inner exception says why.
                throw new CorpusFormatException(path, reader.LinesDone + 1, $"unreadable input ({ex.InnerException?.Message ?? ex.Message})", ex);
            }
            long stopAt = chunk.Malformed.Count > 0 ? chunk.Malformed[0].Line : long.MaxValue;
            foreach (var r in chunk.Records)
            {
                if (r.Line > stopAt) break;
                yield return new SparseDocument(r.Id, r.Text, new SparseVector(r.Terms, r.Weights));
            }
            if (chunk.Malformed.Count > 0) throw new CorpusFormatException(path, stopAt, chunk.Malformed[0].Reason);
        }
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
        using var lines = new Utf8LineReader(InputStreams.Open(path));
        bool? json = null;
        while (NextLine(lines, path, out var line))
        {
            json ??= line.TrimStart(" \t"u8).StartsWith("{"u8);
            result.Add(json.Value
                ? ParseJsonQuery(line, path, lines.LineNumber, vocab)
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
            if (!CorpusLineParser.IsBlank(line)) return true;
        }
    }

    /// <summary>A JSON query line, by <see cref="CorpusLineParser.TryParseSparseQuery"/>.</summary>
    private static (string, SparseVector) ParseJsonQuery(ReadOnlySpan<byte> line, string path, long lineNumber, SparseVocabulary vocab) =>
        CorpusLineParser.TryParseSparseQuery(line, vocab, out string? reason) ?? throw new CorpusFormatException(path, lineNumber, reason!);

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
        int tab = text.IndexOf('\t', StringComparison.Ordinal);
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
}
