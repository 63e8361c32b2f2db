using Shoal.Engine.Analysis;
using Shoal.Engine.Ingest;
using Shoal.Engine.Routing;

namespace Shoal.Engine.Text;

/// <summary>
/// Builds the BM25 segments of a whole index version: documents are analysed (in parallel
/// batches), routed to shards by <see cref="ShardRouter"/>, and each shard's segment is written
/// with statistics of the whole collection, so scores are identical for any shard count.
/// A repeated document id replaces the earlier document (last one wins), as an upsert would.
/// </summary>
public sealed class TextIndexBuilder
{
    private const int BatchSize = 2048;
    private readonly int _shardCount;
    private readonly Bm25Parameters _parameters;
    private readonly ITextAnalyzer _analyzer;
    private readonly TermDictionary _terms = new();
    private readonly Dictionary<string, AnalyzedDocument>[] _shards;
    private long _documentsRead;

    /// <summary>Creates a builder for <paramref name="shardCount"/> shards.</summary>
    public TextIndexBuilder(int shardCount, Bm25Parameters parameters, ITextAnalyzer analyzer)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(shardCount, 1);
        parameters.Validate();
        _shardCount = shardCount;
        _parameters = parameters;
        _analyzer = analyzer;
        _shards = new Dictionary<string, AnalyzedDocument>[shardCount];
        for (int i = 0; i < shardCount; i++) _shards[i] = new(StringComparer.Ordinal);
    }

    /// <summary>Documents read so far (including replaced duplicates).</summary>
    public long DocumentsRead => Interlocked.Read(ref _documentsRead);

    /// <summary>Ids of the documents routed to <paramref name="shard"/> so far (after replacement of repeated ids).</summary>
    public IReadOnlyCollection<string> ShardIds(int shard) => _shards[shard].Keys;

    /// <summary>Documents that replaced an earlier document with the same id.</summary>
    public long DuplicatesReplaced { get; private set; }

    /// <summary>Analyses and adds documents, in parallel batches. Progress is visible through <see cref="DocumentsRead"/>.</summary>
    public void AddRange(IEnumerable<SourceDocument> documents, CancellationToken cancellationToken = default)
    {
        var batch = new List<SourceDocument>(BatchSize);
        foreach (var doc in documents)
        {
            batch.Add(doc);
            if (batch.Count == BatchSize)
            {
                AddBatch(batch, cancellationToken);
                batch.Clear();
            }
        }
        if (batch.Count > 0) AddBatch(batch, cancellationToken);
    }

    private void AddBatch(List<SourceDocument> batch, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var tokens = new List<string>[batch.Count];
        Parallel.For(0, batch.Count, new ParallelOptions { CancellationToken = cancellationToken }, () => new List<string>(256), (i, _, scratch) =>
        {
            var doc = batch[i];
            if (string.IsNullOrEmpty(doc.Id)) throw new ArgumentException("A document has an empty id.");
            scratch.Clear();
            // Title and text form one field, as in Anserini's "flat" BEIR indexes.
            if (!string.IsNullOrEmpty(doc.Title)) _analyzer.Analyze(doc.Title, scratch);
            _analyzer.Analyze(doc.Text, scratch);
            tokens[i] = [.. scratch];
            return scratch;
        }, static _ => { });

        var counts = new Dictionary<int, int>();
        for (int i = 0; i < batch.Count; i++)
        {
            counts.Clear();
            foreach (var token in tokens[i])
            {
                int id = _terms.GetOrAdd(token);
                counts[id] = counts.TryGetValue(id, out int c) ? c + 1 : 1;
            }
            var termIds = new int[counts.Count];
            var freqs = new int[counts.Count];
            int j = 0;
            foreach (var (id, f) in counts) { termIds[j] = id; freqs[j] = f; j++; }
            var doc = batch[i];
            var analyzed = new AnalyzedDocument(doc.Id, doc.Title, doc.Text, termIds, freqs, tokens[i].Count);
            var shard = _shards[ShardRouter.ShardOf(doc.Id, _shardCount)];
            if (shard.ContainsKey(doc.Id)) DuplicatesReplaced++;
            shard[doc.Id] = analyzed;
        }
        Interlocked.Add(ref _documentsRead, batch.Count);
    }

    /// <summary>
    /// Computes the collection statistics over the surviving documents and writes one segment per
    /// shard into <paramref name="directoryForShard"/>(shard) as <c>seg-000001.seg</c>.
    /// </summary>
    public TextIndexBuildResult Build(Func<int, string> directoryForShard, CancellationToken cancellationToken = default)
    {
        var docFreq = new long[_terms.Count];
        long docCount = 0, totalLength = 0;
        foreach (var shard in _shards)
        {
            foreach (var doc in shard.Values)
            {
                docCount++;
                totalLength += doc.Length;
                foreach (int t in doc.TermIds) docFreq[t]++;
            }
        }
        var stats = new CollectionStatistics(docCount, totalLength);
        var results = new ShardBuildResult[_shardCount];
        Parallel.For(0, _shardCount, new ParallelOptions { CancellationToken = cancellationToken }, shard =>
        {
            string dir = directoryForShard(shard);
            string path = Path.Combine(dir, "seg-000001.seg");
            var docs = _shards[shard].Values.ToList();
            long bytes = TextSegmentWriter.Write(path, docs, _terms, docFreq, stats, _parameters);
            results[shard] = new ShardBuildResult(shard, docs.Count, path, bytes);
        });
        return new TextIndexBuildResult(stats, results, _terms.Count, DuplicatesReplaced);
    }
}

/// <summary>What <see cref="TextIndexBuilder.Build"/> wrote.</summary>
public sealed record TextIndexBuildResult(
    CollectionStatistics Statistics,
    IReadOnlyList<ShardBuildResult> Shards,
    int DistinctTerms,
    long DuplicatesReplaced);

/// <summary>One shard's segment as written.</summary>
public sealed record ShardBuildResult(int Shard, int DocCount, string SegmentPath, long Bytes);
