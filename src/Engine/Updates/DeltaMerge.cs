using Shoal.Engine.Dense;
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
}
