using Shoal.Engine.Analysis;
using Shoal.Engine.Dense;
using Shoal.Engine.Ingest;
using Shoal.Engine.Routing;
using Shoal.Engine.Snapshots;
using Shoal.Engine.Sparse;
using Shoal.Engine.Text;

namespace Shoal.Engine.Indexing;

/// <summary>What a version build produces: which channels, with which parameters, over how many shards.</summary>
public sealed record IndexBuildPlan
{
    /// <summary>Number of shards (documents are routed by <see cref="ShardRouter"/> on their id).</summary>
    public required int Shards { get; init; }

    /// <summary>BM25 parameters of the text channel; null when the index has no text channel.</summary>
    public Bm25Parameters? Text { get; init; }

    /// <summary>Analyzer of the text channel.</summary>
    public ITextAnalyzer Analyzer { get; init; } = EnglishAnalyzer.Instance;

    /// <summary>Vocabulary of the sparse channel; null when the index has no sparse channel.</summary>
    public SparseVocabulary? SparseVocabulary { get; init; }

    /// <summary>Build knobs of the sparse channel (its <see cref="SparseBuildOptions.MaxWeight"/> is replaced by the index-wide maximum).</summary>
    public SparseBuildOptions SparseOptions { get; init; } = new(1f);

    /// <summary>Options of the dense channel; null when the index has no dense channel.</summary>
    public DenseBuildOptions? Dense { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> when the plan cannot be built.</summary>
    public void Validate()
    {
        if (Shards < 1) throw new ArgumentException($"shards must be at least 1 (got {Shards}).");
        if (Text is null && SparseVocabulary is null && Dense is null)
            throw new ArgumentException("An index needs at least one channel (bm25 text, sparse vectors or dense vectors).");
        Text?.Validate();
        if (SparseVocabulary is { Count: > SparseSegmentWriter.MaxTermId + 1 } v)
            throw new ArgumentException($"The sparse vocabulary has {v.Count} tokens; at most {SparseSegmentWriter.MaxTermId + 1} are supported.");
    }
}

/// <summary>
/// Builds every channel of one index version: BM25 text (collection-global statistics), learned
/// sparse vectors (an index-wide quantisation scale) and dense vectors, all routed to shards by the
/// same hash of the document id, so a document lives in the same shard in every channel. A
/// repeated id within a channel replaces the earlier entry (last one wins), as an upsert would.
/// Inputs are added per channel from separate sources; a document may be present in some channels
/// only. Holds the added documents in memory until <see cref="Build"/>.
/// </summary>
public sealed class IndexVersionBuilder
{
    private readonly IndexBuildPlan _plan;
    private readonly TextIndexBuilder? _text;
    private readonly Dictionary<string, SparseDocument>[]? _sparse;
    private readonly DenseShard[]? _dense;
    private long _sparseRead;
    private long _denseRead;

    /// <summary>Creates a builder for <paramref name="plan"/>.</summary>
    public IndexVersionBuilder(IndexBuildPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        plan.Validate();
        _plan = plan;
        if (plan.Text is { } bm25) _text = new TextIndexBuilder(plan.Shards, bm25, plan.Analyzer);
        if (plan.SparseVocabulary is not null)
        {
            _sparse = new Dictionary<string, SparseDocument>[plan.Shards];
            for (int i = 0; i < plan.Shards; i++) _sparse[i] = new(StringComparer.Ordinal);
        }
        if (plan.Dense is not null)
        {
            _dense = new DenseShard[plan.Shards];
            for (int i = 0; i < plan.Shards; i++) _dense[i] = new DenseShard(plan.Dense.Dims);
        }
    }

    /// <summary>The plan being built.</summary>
    public IndexBuildPlan Plan => _plan;

    /// <summary>Text documents read so far.</summary>
    public long TextRead => _text?.DocumentsRead ?? 0;

    /// <summary>Sparse vectors read (or encoded) so far.</summary>
    public long SparseRead => Interlocked.Read(ref _sparseRead);

    /// <summary>Dense vectors read (or encoded) so far.</summary>
    public long DenseRead => Interlocked.Read(ref _denseRead);

    /// <summary>Records read so far over all channels (duplicates included; a document with text and a vector counts twice).</summary>
    public long DocumentsRead => (_text?.DocumentsRead ?? 0) + Interlocked.Read(ref _sparseRead) + Interlocked.Read(ref _denseRead);

    /// <summary>Adds documents to the BM25 channel (title and text form one field).</summary>
    public void AddText(IEnumerable<SourceDocument> documents, CancellationToken cancellationToken = default)
    {
        if (_text is null) throw new InvalidOperationException("This index has no bm25 text channel.");
        _text.AddRange(documents, cancellationToken);
    }

    /// <summary>Adds documents to the sparse channel; term ids must be below the vocabulary size.</summary>
    /// <exception cref="SparseVectorException">An invalid vector (the message names the document).</exception>
    public void AddSparse(IEnumerable<SparseDocument> documents, CancellationToken cancellationToken = default)
    {
        if (_sparse is null) throw new InvalidOperationException("This index has no sparse channel.");
        int vocab = _plan.SparseVocabulary!.Count;
        long n = 0;
        foreach (var doc in documents)
        {
            if ((++n & 1023) == 0) cancellationToken.ThrowIfCancellationRequested();
            if (string.IsNullOrEmpty(doc.Id)) throw new ArgumentException("A sparse document has an empty id.");
            try
            {
                doc.Vector.Validate();
            }
            catch (SparseVectorException e)
            {
                throw new SparseVectorException($"Document '{doc.Id}': {e.Message}", e);
            }
            if (doc.Vector.Count > 0 && doc.Vector.Terms[^1] >= vocab)
                throw new SparseVectorException($"Document '{doc.Id}' has term id {doc.Vector.Terms[^1]}, outside the vocabulary of {vocab} tokens.");
            _sparse[ShardRouter.ShardOf(doc.Id, _plan.Shards)][doc.Id] = doc;
            Interlocked.Increment(ref _sparseRead);
        }
    }

    /// <summary>Adds vectors to the dense channel; each must have the plan's dimensions and finite components.</summary>
    /// <exception cref="DenseVectorException">A vector of the wrong size or with a non-finite component.</exception>
    public void AddDense(IEnumerable<(string Id, float[] Vector)> vectors, CancellationToken cancellationToken = default)
    {
        if (_dense is null) throw new InvalidOperationException("This index has no dense channel.");
        int dims = _plan.Dense!.Dims;
        long n = 0;
        foreach (var (id, vector) in vectors)
        {
            if ((++n & 1023) == 0) cancellationToken.ThrowIfCancellationRequested();
            if (string.IsNullOrEmpty(id)) throw new ArgumentException("A dense vector has an empty id.");
            if (vector.Length != dims)
                throw new DenseVectorException($"Document '{id}' has a vector of {vector.Length} dimensions; the index has {dims}.");
            for (int i = 0; i < vector.Length; i++)
            {
                if (!float.IsFinite(vector[i]))
                    throw new DenseVectorException($"Document '{id}' has a non-finite component at dimension {i}.");
            }
            var shard = _dense[ShardRouter.ShardOf(id, _plan.Shards)];
            lock (shard) shard.Add(id, vector);
            Interlocked.Increment(ref _denseRead);
        }
    }

    /// <summary>
    /// Writes every channel's segment of every shard into <paramref name="directoryForShard"/>(shard)
    /// as <c>bm25.seg</c>, <c>sparse.seg</c> and <c>dense.seg</c>.
    /// </summary>
    public IndexVersionBuildResult Build(Func<int, string> directoryForShard, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(directoryForShard);
        int shards = _plan.Shards;
        var segments = new List<ChannelSegment>[shards];
        var ids = new HashSet<string>[shards];
        for (int s = 0; s < shards; s++)
        {
            segments[s] = [];
            ids[s] = new HashSet<string>(StringComparer.Ordinal);
            Directory.CreateDirectory(directoryForShard(s));
        }

        CollectionStatistics? textStats = null;
        if (_text is not null)
        {
            var text = _text.Build(s => Path.Combine(directoryForShard(s), ".text"), cancellationToken);
            textStats = text.Statistics;
            foreach (var r in text.Shards)
            {
                string path = Path.Combine(directoryForShard(r.Shard), IndexChannels.Text + ".seg");
                File.Move(r.SegmentPath, path, overwrite: true);
                Directory.Delete(Path.GetDirectoryName(r.SegmentPath)!, recursive: true);
                segments[r.Shard].Add(new ChannelSegment(IndexChannels.Text, path, r.Bytes, r.DocCount));
            }
            for (int s = 0; s < shards; s++) ids[s].UnionWith(_text.ShardIds(s));
        }

        float sparseMax = 0;
        if (_sparse is not null)
        {
            foreach (var shard in _sparse)
                foreach (var doc in shard.Values)
                    foreach (float w in doc.Vector.Weights ?? []) sparseMax = Math.Max(sparseMax, w);
            var options = _plan.SparseOptions with { MaxWeight = sparseMax > 0 ? sparseMax : 1f };
            for (int s = 0; s < shards; s++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var docs = _sparse[s].Values.ToList();
                string path = Path.Combine(directoryForShard(s), IndexChannels.Sparse + ".seg");
                long bytes = SparseSegmentWriter.Write(path, docs, options);
                segments[s].Add(new ChannelSegment(IndexChannels.Sparse, path, bytes, docs.Count));
                foreach (var d in docs) ids[s].Add(d.Id);
            }
        }

        if (_dense is not null)
        {
            for (int s = 0; s < shards; s++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var shard = _dense[s];
                string path = Path.Combine(directoryForShard(s), IndexChannels.Dense + ".seg");
                long bytes = DenseSegmentWriter.Write(path, shard.Ids, shard.Rows(), _plan.Dense!);
                segments[s].Add(new ChannelSegment(IndexChannels.Dense, path, bytes, shard.Ids.Count));
                foreach (var id in shard.Ids) ids[s].Add(id);
            }
        }

        var result = new ShardSegments[shards];
        long total = 0;
        for (int s = 0; s < shards; s++)
        {
            result[s] = new ShardSegments(s, ids[s].Count, segments[s]);
            total += ids[s].Count;
        }
        return new IndexVersionBuildResult(total, textStats, sparseMax, result);
    }

    /// <summary>One shard's dense rows, with replacement of repeated ids.</summary>
    private sealed class DenseShard(int dims)
    {
        private readonly Dictionary<string, int> _rowOf = new(StringComparer.Ordinal);
        private float[] _rows = new float[dims * 64];

        public List<string> Ids { get; } = [];

        public void Add(string id, float[] vector)
        {
            if (!_rowOf.TryGetValue(id, out int row))
            {
                row = Ids.Count;
                _rowOf[id] = row;
                Ids.Add(id);
                if ((long)(row + 1) * dims > _rows.Length) Array.Resize(ref _rows, checked((int)Math.Min(Array.MaxLength, Math.Max((long)_rows.Length * 2, (long)(row + 1) * dims))));
            }
            vector.AsSpan().CopyTo(_rows.AsSpan(row * dims, dims));
        }

        public ReadOnlySpan<float> Rows() => _rows.AsSpan(0, Ids.Count * dims);
    }
}

/// <summary>What <see cref="IndexVersionBuilder.Build"/> wrote.</summary>
/// <param name="DocCount">Distinct documents over all channels and shards.</param>
/// <param name="TextStatistics">BM25 collection statistics, when the index has a text channel.</param>
/// <param name="SparseMaxWeight">The sparse channel's quantisation scale (largest weight), 0 without one.</param>
/// <param name="Shards">Per-shard segments.</param>
public sealed record IndexVersionBuildResult(long DocCount, CollectionStatistics? TextStatistics, float SparseMaxWeight, IReadOnlyList<ShardSegments> Shards);

/// <summary>The segments of one shard.</summary>
public sealed record ShardSegments(int Shard, long DocCount, IReadOnlyList<ChannelSegment> Segments);

/// <summary>One channel's segment file of a shard.</summary>
public sealed record ChannelSegment(string Channel, string Path, long Bytes, int DocCount);
