using Shoal.Engine.Ingest;
namespace Shoal.Engine.Indexing;

/// <summary>
/// Gathers the sparse channel's index-wide quantisation scale (the largest weight of the documents
/// the version will hold) while chunks are read, so the build need not read every sparse spill
/// again. Within the channel a repeated id replaces its earlier record (last one wins); the scale
/// must be the largest weight of the records that remain. The tracker keeps the largest weight seen
/// and the id that holds it; when that id is re-issued with smaller weights the true scale may be
/// smaller and is no longer known (<see cref="Stale"/>): the build then computes it from the
/// de-duplicated spills. Feed it the well-formed records in source order (chunk by chunk, each
/// chunk in line order); it is a value, so a chunk read again after a restart, fed to the state of
/// the last checkpoint, gives the same result.
/// </summary>
/// <param name="MaxWeight">Largest weight of every record seen (0 before any).</param>
/// <param name="HolderId">Id of the record that set <paramref name="MaxWeight"/>.</param>
/// <param name="Stale">True when the holder was replaced by a record with smaller weights (the scale must be recomputed).</param>
public sealed record SparseMaxWeightTracker(float MaxWeight = 0, string? HolderId = null, bool Stale = false)
{
    /// <summary>The scale for the build when it is known, else null (recompute it from the spills).</summary>
    public float? Known => Stale ? null : MaxWeight;

    /// <summary>The state after <paramref name="records"/> (in source order).</summary>
    public SparseMaxWeightTracker Observe(IEnumerable<SparseSpillRecord> records)
    {
        ArgumentNullException.ThrowIfNull(records);
        float max = MaxWeight;
        string? holder = HolderId;
        bool stale = Stale;
        foreach (var r in records)
        {
            float w = 0;
            foreach (float x in r.Weights) w = Math.Max(w, x);
            if (holder is not null && string.Equals(r.Id, holder, StringComparison.Ordinal))
            {
                // The holder is replaced: still exact if the new record reaches the maximum.
                if (w >= max)
                {
                    max = w;
                    stale = false;
                }
                else stale = true;
            }
            else if (w > max)
            {
                max = w;
                holder = r.Id;
                stale = false;
            }
        }
        return new SparseMaxWeightTracker(max, holder, stale);
    }
}
