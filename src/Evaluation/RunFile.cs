using System.Globalization;
using System.IO.Compression;
using System.Text;

namespace Shoal.Evaluation;

/// <summary>
/// An in-memory retrieval run: for each query id, the retrieved documents with their scores.
/// Within a query a document id may appear only once. Queries keep the order in which they were
/// first added (or read). Not thread-safe.
/// </summary>
/// <remarks>
/// Ranking follows trec_eval, which ignores the rank column and orders a query's entries by score
/// descending, breaking ties by document id in <em>descending</em> <c>strcmp</c> order (byte order of
/// the UTF-8 encoding, i.e. Unicode code point order). <see cref="Ranked"/> returns that order and
/// <see cref="WriteTrec(TextWriter, string)"/> writes ranks 1..n in it, so a written run evaluates
/// identically with trec_eval and with <see cref="Evaluator"/>.
/// </remarks>
public sealed class RunFile
{
    private static readonly Comparison<(string DocId, double Score)> TrecOrder = CompareTrecOrder;

    private readonly Dictionary<string, QueryEntries> _queries = new(StringComparer.Ordinal);
    private readonly List<string> _queryOrder = [];

    /// <summary>Number of queries with at least one entry.</summary>
    public int QueryCount => _queries.Count;

    /// <summary>Total number of (query, document) entries.</summary>
    public long EntryCount { get; private set; }

    /// <summary>Query ids in the order they were first added.</summary>
    public IReadOnlyList<string> QueryIds => _queryOrder;

    /// <summary>True when the run has at least one entry for <paramref name="queryId"/>.</summary>
    public bool Contains(string queryId)
    {
        ArgumentNullException.ThrowIfNull(queryId);
        return _queries.ContainsKey(queryId);
    }

    /// <summary>Adds a retrieved document with its score for a query.</summary>
    /// <exception cref="ArgumentException">An id is null or empty, the score is NaN, or
    /// <paramref name="docId"/> is already in the run for <paramref name="queryId"/>.</exception>
    public void Add(string queryId, string docId, double score)
    {
        ArgumentException.ThrowIfNullOrEmpty(queryId);
        ArgumentException.ThrowIfNullOrEmpty(docId);
        if (double.IsNaN(score))
        {
            throw new ArgumentException($"Score for query '{queryId}', document '{docId}' is NaN.", nameof(score));
        }

        if (!TryAddEntry(queryId, docId, score))
        {
            throw new ArgumentException($"Document '{docId}' is already in the run for query '{queryId}'.", nameof(docId));
        }
    }

    /// <summary>
    /// The entries of <paramref name="queryId"/> in trec_eval order: score descending, ties by
    /// document id descending in code point (<c>strcmp</c>) order. Empty for an unknown query.
    /// The result is a read-only view of the run's storage: it reflects entries added later.
    /// </summary>
    public IReadOnlyList<(string DocId, double Score)> Ranked(string queryId)
    {
        ArgumentNullException.ThrowIfNull(queryId);
        return _queries.TryGetValue(queryId, out QueryEntries? entries) ? entries.Sorted().AsReadOnly() : [];
    }

    /// <summary>The document ids of <see cref="Ranked"/>, in the same order. Empty for an unknown query.</summary>
    public IReadOnlyList<string> RankedDocIds(string queryId)
    {
        ArgumentNullException.ThrowIfNull(queryId);
        return _queries.TryGetValue(queryId, out QueryEntries? entries) ? entries.DocIds() : [];
    }

    /// <summary>
    /// Reads a TREC run file: lines <c>qid Q0 docid rank score tag</c> (six whitespace-separated
    /// fields; the Q0, rank and tag columns are ignored, as by trec_eval). Scores are parsed
    /// culture-invariantly. Gzip input is detected by its magic bytes. Blank lines are skipped.
    /// </summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="FormatException">Wrong field count, an unparsable or NaN score, or a document
    /// repeated within a query; the message names the file and the 1-based line number.</exception>
    public static RunFile Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var run = new RunFile();
        using StreamReader reader = TextFields.OpenText(path);
        Span<Range> fields = stackalloc Range[6];
        int lineNumber = 0;
        string? line;
        while ((line = reader.ReadLine()) is not null)
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            ReadOnlySpan<char> text = line;
            int count = TextFields.SplitWhitespace(text, fields);
            if (count != 6)
            {
                throw TextFields.LineError("run", path, lineNumber, $"expected 6 whitespace-separated fields 'qid Q0 docid rank score tag', found {count}");
            }

            ReadOnlySpan<char> scoreText = text[fields[4]];
            if (!double.TryParse(scoreText, NumberStyles.Float, CultureInfo.InvariantCulture, out double score) || double.IsNaN(score))
            {
                throw TextFields.LineError("run", path, lineNumber, $"score '{scoreText.ToString()}' is not a number");
            }

            string queryId = text[fields[0]].ToString();
            string docId = text[fields[2]].ToString();
            if (!run.TryAddEntry(queryId, docId, score))
            {
                throw TextFields.LineError("run", path, lineNumber, $"document '{docId}' appears more than once for query '{queryId}'");
            }
        }

        return run;
    }

    /// <summary>
    /// Writes the run in TREC format to <paramref name="path"/> (gzip-compressed when the name ends
    /// in <c>.gz</c>); see <see cref="WriteTrec(TextWriter, string)"/>.
    /// </summary>
    public void WriteTrec(string path, string tag)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ValidateTag(tag);
        using Stream file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
        using Stream output = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase)
            ? new GZipStream(file, CompressionLevel.Optimal, leaveOpen: true)
            : file;
        using var writer = new StreamWriter(output, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false), 1 << 16, leaveOpen: true);
        WriteTrec(writer, tag);
    }

    /// <summary>
    /// Writes the run in TREC format, one line <c>qid Q0 docid rank score tag</c> per entry with
    /// <c>\n</c> line ends: queries in the order first added, each query's entries in
    /// <see cref="Ranked"/> order with ranks 1..n. Scores use the shortest round-trip invariant
    /// representation, so <see cref="Load"/> restores them exactly.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="tag"/> is empty or contains whitespace.</exception>
    /// <exception cref="InvalidOperationException">A query or document id contains whitespace, which
    /// the TREC format cannot represent.</exception>
    public void WriteTrec(TextWriter writer, string tag)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ValidateTag(tag);
        foreach (string queryId in _queryOrder)
        {
            if (ContainsWhitespace(queryId))
            {
                throw new InvalidOperationException($"Query id '{queryId}' contains whitespace and cannot be written in TREC format.");
            }

            List<(string DocId, double Score)> ranked = _queries[queryId].Sorted();
            for (int i = 0; i < ranked.Count; i++)
            {
                (string docId, double score) = ranked[i];
                if (ContainsWhitespace(docId))
                {
                    throw new InvalidOperationException($"Document id '{docId}' (query '{queryId}') contains whitespace and cannot be written in TREC format.");
                }

                writer.Write(queryId);
                writer.Write(" Q0 ");
                writer.Write(docId);
                writer.Write(' ');
                writer.Write((i + 1).ToString(CultureInfo.InvariantCulture));
                writer.Write(' ');
                writer.Write(score.ToString("R", CultureInfo.InvariantCulture));
                writer.Write(' ');
                writer.Write(tag);
                writer.Write('\n');
            }
        }

        writer.Flush();
    }

    /// <summary>
    /// Compares two strings as C's <c>strcmp</c> compares their UTF-8 encodings, i.e. by Unicode
    /// code point (which differs from ordinal UTF-16 order for characters above U+E000 versus
    /// supplementary characters).
    /// </summary>
    internal static int CompareCodePoints(string a, string b)
    {
        int common = a.AsSpan().CommonPrefixLength(b);
        if (common == a.Length || common == b.Length)
        {
            return a.Length - b.Length;
        }

        return CodePointRank(a[common]) - CodePointRank(b[common]);
    }

    private static int CodePointRank(char c) =>
        c >= '\uE000' ? c - 0x800 : c >= '\uD800' ? c + 0x2000 : c;

    private static int CompareTrecOrder((string DocId, double Score) x, (string DocId, double Score) y)
    {
        if (x.Score > y.Score)
        {
            return -1;
        }

        if (x.Score < y.Score)
        {
            return 1;
        }

        return CompareCodePoints(y.DocId, x.DocId);
    }

    private static void ValidateTag(string tag)
    {
        ArgumentException.ThrowIfNullOrEmpty(tag);
        if (ContainsWhitespace(tag))
        {
            throw new ArgumentException($"Run tag '{tag}' must not contain whitespace.", nameof(tag));
        }
    }

    private static bool ContainsWhitespace(string value)
    {
        foreach (char c in value)
        {
            if (char.IsWhiteSpace(c))
            {
                return true;
            }
        }

        return false;
    }

    private bool TryAddEntry(string queryId, string docId, double score)
    {
        if (!_queries.TryGetValue(queryId, out QueryEntries? entries))
        {
            entries = new QueryEntries();
            _queries.Add(queryId, entries);
            _queryOrder.Add(queryId);
        }

        if (!entries.Add(docId, score))
        {
            return false;
        }

        EntryCount++;
        return true;
    }

    /// <summary>One query's entries, sorted lazily into trec_eval order.</summary>
    private sealed class QueryEntries
    {
        private readonly List<(string DocId, double Score)> _entries = [];
        private readonly HashSet<string> _docIds = new(StringComparer.Ordinal);
        private bool _sorted = true;
        private IReadOnlyList<string>? _rankedDocIds;

        public bool Add(string docId, double score)
        {
            if (!_docIds.Add(docId))
            {
                return false;
            }

            if (_sorted && _entries.Count > 0 && CompareTrecOrder(_entries[^1], (docId, score)) > 0)
            {
                _sorted = false;
            }

            _entries.Add((docId, score));
            _rankedDocIds = null;
            return true;
        }

        public List<(string DocId, double Score)> Sorted()
        {
            if (!_sorted)
            {
                _entries.Sort(TrecOrder);
                _sorted = true;
            }

            return _entries;
        }

        public IReadOnlyList<string> DocIds()
        {
            if (_rankedDocIds is null)
            {
                List<(string DocId, double Score)> sorted = Sorted();
                var ids = new string[sorted.Count];
                for (int i = 0; i < ids.Length; i++)
                {
                    ids[i] = sorted[i].DocId;
                }

                _rankedDocIds = Array.AsReadOnly(ids);
            }

            return _rankedDocIds;
        }
    }
}
