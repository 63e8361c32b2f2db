using Shoal.Engine.Dense;
using Shoal.Engine.Snapshots;
using Shoal.Engine.Sparse;
using Shoal.Engine.Text;

namespace Shoal.Engine.Indexing;

/// <summary>The local spill files of one shard, per channel, in chunk order.</summary>
/// <param name="Text">Text spills (BM25 channel).</param>
/// <param name="Sparse">Sparse spills.</param>
/// <param name="Dense">Dense spills.</param>
public sealed record ShardSpills(IReadOnlyList<string> Text, IReadOnlyList<string> Sparse, IReadOnlyList<string> Dense)
{
    /// <summary>No spills.</summary>
    public static ShardSpills Empty { get; } = new([], [], []);
}

/// <summary>
/// Collection-global statistics gathered from every shard's spills after de-duplication: what
/// each shard's segments need to score exactly as one big index would.
/// </summary>
/// <param name="TextDocCount">Documents of the text channel.</param>
/// <param name="TotalLength">Sum of their analysed lengths.</param>
/// <param name="DocFreq">Documents of the text channel containing each term.</param>
/// <param name="SparseMaxWeight">Largest sparse weight (the quantisation scale), 0 without sparse documents.</param>
public sealed record SpillStatistics(long TextDocCount, long TotalLength, IReadOnlyDictionary<string, long> DocFreq, float SparseMaxWeight)
{
    /// <summary>The BM25 collection statistics.</summary>
    public CollectionStatistics Collection => new(TextDocCount, TotalLength);
}

/// <summary>
/// Builds an index version's segments from chunk spills, one shard at a time, so memory holds one
/// shard (plus the term → document-frequency table) whatever the corpus size. A first pass over
/// every shard's spills gathers the collection-global statistics (<see cref="ComputeStatistics"/>);
/// then <see cref="BuildShard"/> writes each shard's segments with them. Within a channel a
/// repeated id keeps its last record (highest line), as <see cref="IndexVersionBuilder"/> does, so
/// the segments equal those it would build from the same sources.
/// </summary>
public sealed class SpillIndexBuilder
{
    private readonly IndexBuildPlan _plan;

    /// <summary>A builder for <paramref name="plan"/>.</summary>
    public SpillIndexBuilder(IndexBuildPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        plan.Validate();
        _plan = plan;
    }

    /// <summary>The plan being built.</summary>
    public IndexBuildPlan Plan => _plan;

    /// <summary>First pass: statistics over every shard's de-duplicated spills.</summary>
    public SpillStatistics ComputeStatistics(Func<int, ShardSpills> spillsOf, CancellationToken cancellationToken = default) =>
        ComputeStatistics(spillsOf, null, cancellationToken);

    /// <summary>
    /// First pass: statistics over every shard's de-duplicated spills. When
    /// <paramref name="knownSparseMaxWeight"/> is given (gathered while the chunks were read, see
    /// <see cref="SparseMaxWeightTracker"/>) the sparse spills are not read.
    /// </summary>
    public SpillStatistics ComputeStatistics(Func<int, ShardSpills> spillsOf, float? knownSparseMaxWeight, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spillsOf);
        var df = new Dictionary<string, long>(StringComparer.Ordinal);
        long docs = 0, length = 0;
        float sparseMax = 0;
        for (int s = 0; s < _plan.Shards; s++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var spills = spillsOf(s);
            if (_plan.Text is not null)
            {
                foreach (var doc in LastById(spills.Text.SelectMany(IndexSpill.ReadText), r => r.Id, r => r with { Title = null, Text = "" }, cancellationToken).Values)
                {
                    docs++;
                    length += doc.Length;
                    foreach (var t in doc.Terms) df[t] = df.TryGetValue(t, out long c) ? c + 1 : 1;
                }
            }
            if (_plan.SparseVocabulary is not null && knownSparseMaxWeight is null)
            {
                foreach (var doc in LastById(spills.Sparse.SelectMany(IndexSpill.ReadSparse), r => r.Id, r => r with { Text = null }, cancellationToken).Values)
                    foreach (float w in doc.Weights) sparseMax = Math.Max(sparseMax, w);
            }
        }
        return new SpillStatistics(docs, length, df, knownSparseMaxWeight ?? sparseMax);
    }

    /// <summary>
    /// Second pass for one shard: writes its segments (<c>bm25.seg</c>, <c>sparse.seg</c>,
    /// <c>dense.seg</c>, as the plan has channels) into <paramref name="directory"/>.
    /// </summary>
    public ShardSegments BuildShard(int shard, ShardSpills spills, SpillStatistics statistics, string directory, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(shard);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(shard, _plan.Shards);
        ArgumentNullException.ThrowIfNull(spills);
        ArgumentNullException.ThrowIfNull(statistics);
        Directory.CreateDirectory(directory);
        var segments = new List<ChannelSegment>(3);
        var ids = new HashSet<string>(StringComparer.Ordinal);

        if (_plan.Text is { } bm25)
        {
            var docs = LastById(spills.Text.SelectMany(IndexSpill.ReadText), r => r.Id, r => r, cancellationToken);
            var terms = new TermDictionary();
            var analysed = new List<AnalyzedDocument>(docs.Count);
            foreach (var r in docs.Values)
            {
                var termIds = new int[r.Terms.Length];
                for (int i = 0; i < termIds.Length; i++) termIds[i] = terms.GetOrAdd(r.Terms[i]);
                analysed.Add(new AnalyzedDocument(r.Id, r.Title, r.Text, termIds, r.Frequencies, r.Length));
                ids.Add(r.Id);
            }
            docs.Clear();
            var globalDf = new long[terms.Count];
            for (int t = 0; t < globalDf.Length; t++)
            {
                if (!statistics.DocFreq.TryGetValue(terms[t], out globalDf[t]))
                    throw new InvalidOperationException($"Term '{terms[t]}' of shard {shard} is missing from the collection statistics (spills changed between passes?).");
            }
            string path = Path.Combine(directory, IndexChannels.Text + ".seg");
            long bytes = TextSegmentWriter.Write(path, analysed, terms, globalDf, statistics.Collection, bm25);
            segments.Add(new ChannelSegment(IndexChannels.Text, path, bytes, analysed.Count));
        }

        if (_plan.SparseVocabulary is { } vocab)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var docs = LastById(spills.Sparse.SelectMany(IndexSpill.ReadSparse), r => r.Id, r => r, cancellationToken)
                .Values.Select(IndexSpill.ToDocument).ToList();
            foreach (var d in docs)
            {
                d.Vector.Validate();
                if (d.Vector.Count > 0 && d.Vector.Terms[^1] >= vocab.Count)
                    throw new SparseVectorException($"Document '{d.Id}' has term id {d.Vector.Terms[^1]}, outside the vocabulary of {vocab.Count} tokens.");
                ids.Add(d.Id);
            }
            var options = _plan.SparseOptions with { MaxWeight = statistics.SparseMaxWeight > 0 ? statistics.SparseMaxWeight : 1f };
            string path = Path.Combine(directory, IndexChannels.Sparse + ".seg");
            long bytes = SparseSegmentWriter.Write(path, docs, options);
            segments.Add(new ChannelSegment(IndexChannels.Sparse, path, bytes, docs.Count));
        }

        if (_plan.Dense is { } dense)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var docs = LastById(spills.Dense.SelectMany(IndexSpill.ReadDense), r => r.Id, r => r, cancellationToken);
            var rowIds = new List<string>(docs.Count);
            var rows = new float[(long)docs.Count * dense.Dims];
            int row = 0;
            foreach (var r in docs.Values)
            {
                if (r.Vector.Length != dense.Dims)
                    throw new DenseVectorException($"Document '{r.Id}' has a vector of {r.Vector.Length} dimensions; the index has {dense.Dims}.");
                r.Vector.CopyTo(rows.AsSpan(row++ * dense.Dims, dense.Dims));
                rowIds.Add(r.Id);
                ids.Add(r.Id);
            }
            docs.Clear();
            string path = Path.Combine(directory, IndexChannels.Dense + ".seg");
            long bytes = DenseSegmentWriter.Write(path, rowIds, rows, dense);
            segments.Add(new ChannelSegment(IndexChannels.Dense, path, bytes, rowIds.Count));
        }

        return new ShardSegments(shard, ids.Count, segments);
    }

    /// <summary>
    /// De-duplicates records by id: the last record read wins, in the position of the first (as a
    /// dictionary update does in <see cref="IndexVersionBuilder"/>); <paramref name="keep"/> trims what is kept.
    /// </summary>
    private static Dictionary<string, T> LastById<T>(IEnumerable<T> records, Func<T, string> idOf, Func<T, T> keep, CancellationToken cancellationToken)
    {
        var byId = new Dictionary<string, T>(StringComparer.Ordinal);
        long n = 0;
        foreach (var r in records)
        {
            if ((++n & 4095) == 0) cancellationToken.ThrowIfCancellationRequested();
            byId[idOf(r)] = keep(r);
        }
        return byId;
    }
}
