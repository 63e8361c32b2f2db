using System.Globalization;
using Shoal.Engine.Analysis;
using Shoal.Engine.Dense;
using Shoal.Engine.Indexing;
using Shoal.Engine.Ingest;
using Shoal.Engine.Sparse;
using Shoal.Engine.Text;

namespace Shoal.Engine.Updates;

/// <summary>
/// The documents of one shard after its pending updates, channel by channel, to rebuild its
/// segments in a merge: the served segment's documents whose ids the buffer does not hide, then
/// the buffer's live documents. Sparse weights come back from the segment as their u8 levels
/// times the scale (a merge that keeps the largest weight reproduces the same levels); dense
/// vectors come back as stored (int8 segments keep the float32 originals).
/// </summary>
public static class DeltaMerge
{
    /// <summary>Documents of the bm25 channel.</summary>
    public static IEnumerable<SourceDocument> Text(TextSegment? segment, ShardDelta delta)
    {
        ArgumentNullException.ThrowIfNull(delta);
        if (segment is not null)
        {
            for (int d = 0; d < segment.DocCount; d++)
            {
                string id = segment.GetId(d);
                if (delta.Hides(id)) continue;
                string title = segment.GetTitle(d);
                yield return new SourceDocument(id, title.Length == 0 ? null : title, segment.GetText(d));
            }
        }
        foreach (var doc in delta.LiveDocuments)
            if (doc.Text is not null) yield return new SourceDocument(doc.Id, doc.Title, doc.Text);
    }

    /// <summary>Documents of the sparse channel; with <paramref name="keepText"/> their stored contents too (an index without bm25 keeps them there).</summary>
    public static IEnumerable<SparseDocument> Sparse(SparseSegment? segment, ShardDelta delta, bool keepText)
    {
        ArgumentNullException.ThrowIfNull(delta);
        if (segment is not null)
        {
            for (int d = 0; d < segment.DocCount; d++)
            {
                string id = segment.GetId(d);
                if (delta.Hides(id)) continue;
                yield return new SparseDocument(id, keepText ? segment.GetText(d) : null, segment.GetVector(d));
            }
        }
        foreach (var doc in delta.LiveDocuments)
        {
            if (doc.SparseTerms is not { } terms || doc.SparseWeights is not { } weights) continue;
            var vector = SparseVector.Create(terms.Zip(weights).Where(p => p.Second > 0));
            string? text = keepText ? (string.IsNullOrEmpty(doc.Title) ? doc.Text : doc.Text is null ? doc.Title : doc.Title + " " + doc.Text) : null;
            yield return new SparseDocument(doc.Id, text, vector);
        }
    }

    /// <summary>Vectors of the dense channel.</summary>
    public static IEnumerable<(string Id, float[] Vector)> Dense(DenseSegment? segment, ShardDelta delta)
    {
        ArgumentNullException.ThrowIfNull(delta);
        if (segment is not null)
        {
            for (int d = 0; d < segment.Count; d++)
            {
                string id = segment.GetId(d);
                if (delta.Hides(id)) continue;
                yield return (id, segment.GetVector(d));
            }
        }
        foreach (var doc in delta.LiveDocuments)
            if (doc.Dense is { } v) yield return (doc.Id, v);
    }

    /// <summary>
    /// Writes one shard's documents after its updates to spill files in <paramref name="directory"/>,
    /// <paramref name="chunkSize"/> documents per file (text analysed on the way), so a merge builds
    /// with <see cref="SpillIndexBuilder"/> one shard at a time instead of holding the index in memory.
    /// Every document must route to <paramref name="shard"/> of <paramref name="shardCount"/>, as the
    /// segments of a version and the ids of its update log do.
    /// </summary>
    public static ShardSpills Spill(
        int shard,
        int shardCount,
        TextSegment? text,
        SparseSegment? sparse,
        DenseSegment? dense,
        ShardDelta delta,
        IndexBuildPlan plan,
        string directory,
        int chunkSize = 20_000,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(delta);
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkSize, 1);
        Directory.CreateDirectory(directory);
        string PathOf(string channel, int chunk) => Path.Combine(directory, string.Create(CultureInfo.InvariantCulture, $"{channel}-{shard:D4}-{chunk:D6}.spill"));
        void CheckRoute(string id)
        {
            if (Routing.ShardRouter.ShardOf(id, shardCount) != shard)
                throw new InvalidDataException($"Document '{id}' belongs to shard {Routing.ShardRouter.ShardOf(id, shardCount)}, not {shard}.");
        }

        var textFiles = new List<string>();
        if (plan.Text is not null)
        {
            long line = 0;
            foreach (var chunk in Text(text, delta).Chunk(chunkSize))
            {
                cancellationToken.ThrowIfCancellationRequested();
                var numbered = chunk.Select(d => new NumberedDocument(++line, d)).ToArray();
                var records = IndexSpill.AnalyzeText(numbered, 1, plan.Analyzer, cancellationToken)[0];
                foreach (var r in records) CheckRoute(r.Id);
                string path = PathOf("text", textFiles.Count);
                IndexSpill.WriteText(path, records);
                textFiles.Add(path);
            }
        }

        var sparseFiles = new List<string>();
        if (plan.SparseVocabulary is not null)
        {
            long line = 0;
            foreach (var chunk in Sparse(sparse, delta, keepText: plan.Text is null).Chunk(chunkSize))
            {
                cancellationToken.ThrowIfCancellationRequested();
                var records = chunk.Select(d => new SparseSpillRecord(++line, d.Id, d.Text, d.Vector.Terms, d.Vector.Weights)).ToArray();
                foreach (var r in records) CheckRoute(r.Id);
                string path = PathOf("sparse", sparseFiles.Count);
                IndexSpill.WriteSparse(path, records);
                sparseFiles.Add(path);
            }
        }

        var denseFiles = new List<string>();
        if (plan.Dense is not null)
        {
            long line = 0;
            foreach (var chunk in Dense(dense, delta).Chunk(chunkSize))
            {
                cancellationToken.ThrowIfCancellationRequested();
                var records = chunk.Select(d => new DenseSpillRecord(++line, d.Id, d.Vector)).ToArray();
                foreach (var r in records) CheckRoute(r.Id);
                string path = PathOf("dense", denseFiles.Count);
                IndexSpill.WriteDense(path, records);
                denseFiles.Add(path);
            }
        }
        return new ShardSpills(textFiles, sparseFiles, denseFiles);
    }
}
