// text-1M benchmark data (../shared/docs/BENCHMARKS.md): synthetic passages over SciFact's vocabulary.
//
// Files (BEIR jsonl, readable by `shoal ingest`, indexing jobs and any BEIR tool):
//   <dir>/text-<docs>-s<seed>.jsonl                  {"_id":"d000000000","title":"","text":"w w ..."} per line
//   <dir>/text-<docs>-s<seed>.jsonl.meta             parameters and length (reuse check)
//   <dir>/text-<docs>-s<seed>-q<n>.queries.jsonl     {"_id":"q0","text":"w w"} per line
//
// Vocabulary: the distinct words of ../shared/data/scifact/corpus.jsonl (title and text; a word is
// a maximal run of letters or digits, lower-cased), ranked by their count in SciFact (ties in
// ordinal order). A passage's length is log-normal with median 60 words and sigma 0.3 (clipped
// 10..200; mean ~63); each word is drawn independently from Zipf(s = 1.0) over the ranks (so the
// commonest SciFact words, stop words included, are the commonest here). A query has 2..8 distinct
// words (uniform) drawn from the same popularity, skipping words the English analyzer drops (stop
// words), so every query has at least two terms. Passages are generated in chunks of 8,192, each
// from its own SplitMix64 stream (seed, 1 + chunk); queries from stream (seed, -1): deterministic
// whatever the thread count.

using System.Buffers;
using System.Globalization;
using System.Text;
using Shoal.Bench.Sparse;
using Shoal.Engine.Analysis;
using Shoal.Engine.Ingest;

namespace Shoal.Bench.Index;

/// <summary>Generates (or reuses) the text-1M corpus and its queries; format and recipe in the file header comment.</summary>
internal static class TextBenchData
{
    public const double ZipfExponent = 1.0;
    public const double LengthMedian = 60;
    public const double LengthSigma = 0.3;
    public const int LengthMin = 10;
    public const int LengthMax = 200;
    public const int QueryMin = 2;
    public const int QueryMax = 8;
    private const int Chunk = 8192;

    public static string CorpusPath(string dir, int docs, long seed) => Path.Combine(dir, $"text-{docs}-s{seed}.jsonl");

    public static string QueriesPath(string dir, int docs, long seed, int queries) => Path.Combine(dir, $"text-{docs}-s{seed}-q{queries}.queries.jsonl");

    /// <summary>SciFact's words by descending count, and the Zipf alias table over their ranks.</summary>
    public sealed record Vocabulary(string[] Words, byte[][] Utf8, double[] Prob, int[] Alias);

    /// <summary>Reads the vocabulary from SciFact's corpus.</summary>
    public static Vocabulary LoadVocabulary(string scifactCorpus)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        var word = new StringBuilder();
        void Count(string? s)
        {
            if (s is null) return;
            foreach (char ch in s + " ")
            {
                if (char.IsLetterOrDigit(ch))
                {
                    word.Append(char.ToLowerInvariant(ch));
                }
                else if (word.Length > 0)
                {
                    string w = word.ToString();
                    counts[w] = counts.GetValueOrDefault(w) + 1;
                    word.Clear();
                }
            }
        }
        foreach (var doc in CorpusReader.Read(scifactCorpus, CorpusFormat.BeirJsonl))
        {
            Count(doc.Title);
            Count(doc.Text);
        }
        var words = counts.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => kv.Key).ToArray();
        var (prob, alias) = SparseBenchData.ZipfAlias(words.Length, ZipfExponent);
        // Letters and digits only: nothing to escape in JSON.
        return new Vocabulary(words, [.. words.Select(Encoding.UTF8.GetBytes)], prob, alias);
    }

    /// <summary>Parameters recorded beside the corpus (a change means the file is made again).</summary>
    private static string Parameters(int docs, long seed, Vocabulary vocabulary, long scifactBytes) => string.Create(CultureInfo.InvariantCulture,
        $"text-bench/1 docs={docs} seed={seed} zipf={ZipfExponent} length=lognormal({LengthMedian},{LengthSigma})[{LengthMin},{LengthMax}] vocabulary={vocabulary.Words.Length} scifact_bytes={scifactBytes}");

    /// <summary>The corpus file, generated unless a current one is there.</summary>
    public static (string Path, bool Reused) EnsureCorpus(string dir, int docs, long seed, int threads, Vocabulary vocabulary, string scifactCorpus)
    {
        string path = CorpusPath(dir, docs, seed);
        string parameters = Parameters(docs, seed, vocabulary, new FileInfo(scifactCorpus).Length);
        if (GeneratedFile.IsCurrent(path, parameters)) return (path, true);
        int chunks = (docs + Chunk - 1) / Chunk;
        GeneratedFile.Write(path, parameters, temp => GeneratedFile.WriteChunks(temp, chunks, threads, c => GenerateChunk(c, docs, seed, vocabulary)));
        return (path, false);
    }

    private static byte[] GenerateChunk(int chunk, int docs, long seed, Vocabulary vocabulary)
    {
        var rng = new SparseBenchData.SplitMix(seed, 1 + chunk);
        int from = chunk * Chunk, to = Math.Min(docs, from + Chunk);
        var output = new ArrayBufferWriter<byte>((to - from) * 512);
        for (int d = from; d < to; d++)
        {
            int length = Math.Clamp((int)Math.Round(LengthMedian * Math.Exp(LengthSigma * rng.Normal())), LengthMin, LengthMax);
            Append(output, "{\"_id\":\""u8);
            Append(output, Encoding.ASCII.GetBytes(SparseBenchData.DocId(d)));
            Append(output, "\",\"title\":\"\",\"text\":\""u8);
            for (int i = 0; i < length; i++)
            {
                if (i > 0) Append(output, " "u8);
                Append(output, vocabulary.Utf8[SparseBenchData.SampleAlias(ref rng, vocabulary.Prob, vocabulary.Alias)]);
            }
            Append(output, "\"}\n"u8);
        }
        return output.WrittenSpan.ToArray();
    }

    private static void Append(ArrayBufferWriter<byte> output, ReadOnlySpan<byte> bytes) => output.Write(bytes);

    /// <summary>The queries (id, text); also written to <see cref="QueriesPath"/> for peers.</summary>
    public static IReadOnlyList<(string Id, string Text)> Queries(string dir, int docs, long seed, int count, Vocabulary vocabulary)
    {
        var rng = new SparseBenchData.SplitMix(seed, -1);
        var usable = new bool?[vocabulary.Words.Length];
        var queries = new List<(string, string)>(count);
        var terms = new List<string>();
        for (int q = 0; q < count; q++)
        {
            int length = QueryMin + (int)(rng.Next() % (ulong)(QueryMax - QueryMin + 1));
            terms.Clear();
            while (terms.Count < length)
            {
                int rank = SparseBenchData.SampleAlias(ref rng, vocabulary.Prob, vocabulary.Alias);
                usable[rank] ??= EnglishAnalyzer.Instance.Analyze(vocabulary.Words[rank]).Count > 0;
                if (usable[rank] == true && !terms.Contains(vocabulary.Words[rank])) terms.Add(vocabulary.Words[rank]);
            }
            queries.Add(("q" + q.ToString(CultureInfo.InvariantCulture), string.Join(' ', terms)));
        }
        Directory.CreateDirectory(dir);
        File.WriteAllLines(QueriesPath(dir, docs, seed, count), queries.Select(x => $"{{\"_id\":\"{x.Item1}\",\"text\":\"{x.Item2}\"}}"));
        return queries;
    }
}
