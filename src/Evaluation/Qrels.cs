using System.Collections.Frozen;
using System.Globalization;

namespace Shoal.Evaluation;

/// <summary>
/// Relevance judgments: for each query id, the judged documents and their integer relevance grades.
/// A document is <em>relevant</em> when its grade is at least <see cref="RelevanceThreshold"/> (1), as
/// in trec_eval's default; grades of 0 or below are judged non-relevant (negative grades are kept but
/// never count as relevant and contribute no gain). Immutable once built.
/// </summary>
public sealed class Qrels
{
    /// <summary>The minimum grade for a judged document to count as relevant (trec_eval <c>-l1</c>).</summary>
    public const int RelevanceThreshold = 1;

    private static readonly IReadOnlyDictionary<string, int> NoJudgments = FrozenDictionary<string, int>.Empty;

    private readonly Dictionary<string, IReadOnlyDictionary<string, int>> _judgments;
    private readonly Dictionary<string, IReadOnlySet<string>> _relevant;

    private Qrels(Dictionary<string, IReadOnlyDictionary<string, int>> judgments)
    {
        _judgments = judgments;
        _relevant = new Dictionary<string, IReadOnlySet<string>>(judgments.Count, StringComparer.Ordinal);
        foreach (KeyValuePair<string, IReadOnlyDictionary<string, int>> query in judgments)
        {
            var relevant = new HashSet<string>(StringComparer.Ordinal);
            foreach (KeyValuePair<string, int> judgment in query.Value)
            {
                if (judgment.Value >= RelevanceThreshold)
                {
                    relevant.Add(judgment.Key);
                }
            }

            _relevant.Add(query.Key, relevant);
            JudgmentCount += query.Value.Count;
        }
    }

    /// <summary>
    /// All judgments: query id -> (document id -> grade), including non-relevant (grade &lt;= 0)
    /// ones. Queries appear in the order they first occur in the source.
    /// </summary>
    public IReadOnlyDictionary<string, IReadOnlyDictionary<string, int>> Judgments => _judgments;

    /// <summary>Number of queries with at least one judgment (relevant or not).</summary>
    public int QueryCount => _judgments.Count;

    /// <summary>Total number of (query, document) judgments.</summary>
    public int JudgmentCount { get; }

    /// <summary>The documents judged relevant (grade &gt;= 1) for <paramref name="queryId"/>; empty for an unknown query.</summary>
    public IReadOnlySet<string> Relevant(string queryId)
    {
        ArgumentNullException.ThrowIfNull(queryId);
        return _relevant.TryGetValue(queryId, out IReadOnlySet<string>? relevant) ? relevant : FrozenSet<string>.Empty;
    }

    /// <summary>The judgments (document id -> grade) for <paramref name="queryId"/>; empty for an unknown query.</summary>
    public IReadOnlyDictionary<string, int> JudgmentsFor(string queryId)
    {
        ArgumentNullException.ThrowIfNull(queryId);
        return _judgments.TryGetValue(queryId, out IReadOnlyDictionary<string, int>? judgments) ? judgments : NoJudgments;
    }

    /// <summary>
    /// Builds qrels from in-memory judgments. Repeating a (query, document) pair with the same grade
    /// is allowed; with a different grade it is an error.
    /// </summary>
    /// <exception cref="ArgumentException">Conflicting grades for the same pair, or an empty id.</exception>
    public static Qrels Create(IEnumerable<(string QueryId, string DocId, int Relevance)> judgments)
    {
        ArgumentNullException.ThrowIfNull(judgments);
        var builder = new Dictionary<string, IReadOnlyDictionary<string, int>>(StringComparer.Ordinal);
        foreach ((string queryId, string docId, int relevance) in judgments)
        {
            if (string.IsNullOrWhiteSpace(queryId) || string.IsNullOrWhiteSpace(docId))
            {
                throw new ArgumentException("Query and document ids must be non-empty.", nameof(judgments));
            }

            if (!TryAdd(builder, queryId, docId, relevance, out int existing))
            {
                throw new ArgumentException(
                    $"Conflicting judgments for query '{queryId}', document '{docId}': {existing} and {relevance}.", nameof(judgments));
            }
        }

        return new Qrels(builder);
    }

    /// <summary>
    /// Loads a qrels file, detecting its format from the first non-blank line:
    /// <list type="bullet">
    /// <item><description>TREC: <c>qid iter docid rel</c>, four whitespace-separated fields (iter is ignored).</description></item>
    /// <item><description>BEIR: <c>query-id&lt;TAB&gt;corpus-id&lt;TAB&gt;score</c>, three tab-separated fields; a
    /// first line whose score is not a number (the <c>query-id corpus-id score</c> header) is skipped.</description></item>
    /// </list>
    /// Grades are integers (a number without fraction such as <c>1.0</c> is accepted). Gzip input is
    /// detected by its magic bytes. Blank lines are skipped. A pair repeated with the same grade is
    /// accepted once; with a different grade it is an error.
    /// </summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="FormatException">A malformed line; the message names the file and the 1-based line number.</exception>
    public static Qrels Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var builder = new Dictionary<string, IReadOnlyDictionary<string, int>>(StringComparer.Ordinal);
        using StreamReader reader = TextFields.OpenText(path);
        Span<Range> fields = stackalloc Range[4];
        bool? trec = null;
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
            string queryId;
            string docId;
            ReadOnlySpan<char> grade;
            if (trec is null)
            {
                // Exactly three tab-separated columns: BEIR; anything else must be TREC's four fields.
                trec = text.Count('\t') != 2;
                if (!trec.Value && IsBeirHeader(text))
                {
                    continue;
                }

                if (trec.Value && TextFields.SplitWhitespace(text, fields) != 4)
                {
                    throw TextFields.LineError("qrels", path, lineNumber,
                        "unrecognised qrels format: expected 'qid iter docid rel' (TREC) or 'query-id<TAB>corpus-id<TAB>score' (BEIR)");
                }
            }

            if (trec.Value)
            {
                int count = TextFields.SplitWhitespace(text, fields);
                if (count != 4)
                {
                    throw TextFields.LineError("qrels", path, lineNumber, $"expected 4 whitespace-separated fields 'qid iter docid rel', found {count}");
                }

                queryId = text[fields[0]].ToString();
                docId = text[fields[2]].ToString();
                grade = text[fields[3]];
            }
            else
            {
                int firstTab = text.IndexOf('\t');
                int secondTab = firstTab < 0 ? -1 : text[(firstTab + 1)..].IndexOf('\t');
                if (secondTab < 0 || text[(firstTab + secondTab + 2)..].Contains('\t'))
                {
                    throw TextFields.LineError("qrels", path, lineNumber, $"expected 3 tab-separated fields 'query-id<TAB>corpus-id<TAB>score', found {text.Count('\t') + 1}");
                }

                secondTab += firstTab + 1;
                queryId = text[..firstTab].Trim().ToString();
                docId = text[(firstTab + 1)..secondTab].Trim().ToString();
                grade = text[(secondTab + 1)..].Trim();
                if (queryId.Length == 0 || docId.Length == 0)
                {
                    throw TextFields.LineError("qrels", path, lineNumber, "empty query or document id");
                }
            }

            if (!TextFields.TryParseRelevance(grade, out int relevance))
            {
                throw TextFields.LineError("qrels", path, lineNumber, $"relevance '{grade.ToString()}' is not an integer");
            }

            if (!TryAdd(builder, queryId, docId, relevance, out int existing))
            {
                throw TextFields.LineError("qrels", path, lineNumber,
                    $"conflicting judgment for query '{queryId}', document '{docId}': {relevance}, earlier {existing}");
            }
        }

        return new Qrels(builder);
    }

    private static bool IsBeirHeader(ReadOnlySpan<char> line)
    {
        ReadOnlySpan<char> score = line[(line.LastIndexOf('\t') + 1)..].Trim();
        return !double.TryParse(score, NumberStyles.Float, CultureInfo.InvariantCulture, out _);
    }

    private static bool TryAdd(Dictionary<string, IReadOnlyDictionary<string, int>> builder, string queryId, string docId, int relevance, out int existing)
    {
        if (!builder.TryGetValue(queryId, out IReadOnlyDictionary<string, int>? judged))
        {
            judged = new Dictionary<string, int>(StringComparer.Ordinal);
            builder.Add(queryId, judged);
        }

        var judgments = (Dictionary<string, int>)judged;
        if (judgments.TryGetValue(docId, out existing))
        {
            return existing == relevance;
        }

        judgments.Add(docId, relevance);
        existing = relevance;
        return true;
    }
}
