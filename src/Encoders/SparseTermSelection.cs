using Shoal.Engine.Sparse;

namespace Shoal.Encoders;

/// <summary>
/// Turns term weights into a <see cref="SparseVector"/>: keep weights that are &gt; 0 and
/// ≥ threshold; with top-k &gt; 0 keep the k heaviest (ties: the lower term id wins); term ids
/// ascending.
/// </summary>
internal static class SparseTermSelection
{
    /// <summary>From a dense weight row indexed by term id.</summary>
    public static SparseVector FromDense(ReadOnlySpan<float> weights, float threshold, int topK)
    {
        if (topK > 0)
        {
            var heap = new PriorityQueue<int, (float Weight, int NegId)>(topK + 1);
            for (int id = 0; id < weights.Length; id++)
            {
                float w = weights[id];
                if (!Keep(w, threshold)) continue;
                Offer(heap, topK, id, w);
            }
            return Drain(heap, weights);
        }
        int count = 0;
        for (int id = 0; id < weights.Length; id++)
        {
            if (Keep(weights[id], threshold)) count++;
        }
        var terms = new int[count];
        var values = new float[count];
        int n = 0;
        for (int id = 0; id < weights.Length && n < count; id++)
        {
            if (!Keep(weights[id], threshold)) continue;
            terms[n] = id;
            values[n++] = weights[id];
        }
        return new SparseVector(terms, values);
    }

    /// <summary>From (term id, weight) pairs in any order; a repeated id keeps its largest weight.</summary>
    /// <exception cref="InvalidOperationException">A term id is negative.</exception>
    public static SparseVector FromPairs(ReadOnlySpan<long> ids, ReadOnlySpan<float> weights, float threshold, int topK)
    {
        var best = new Dictionary<int, float>();
        for (int i = 0; i < ids.Length; i++)
        {
            float w = weights[i];
            if (!Keep(w, threshold)) continue;
            long id = ids[i];
            if (id < 0 || id > int.MaxValue) throw new InvalidOperationException($"The model returned term id {id}; term ids must be in [0, {int.MaxValue}].");
            if (!best.TryGetValue((int)id, out float old) || w > old) best[(int)id] = w;
        }
        IEnumerable<KeyValuePair<int, float>> kept = best;
        if (topK > 0 && best.Count > topK)
            kept = best.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key).Take(topK);
        var terms = kept.Select(kv => kv.Key).ToArray();
        var values = kept.Select(kv => kv.Value).ToArray();
        Array.Sort(terms, values);
        return new SparseVector(terms, values);
    }

    private static bool Keep(float w, float threshold) => w > 0 && w >= threshold && float.IsFinite(w);

    private static void Offer(PriorityQueue<int, (float Weight, int NegId)> heap, int topK, int id, float w)
    {
        // Min-heap on (weight, -id): the root is the entry to evict (lightest; on a tie the higher id).
        if (heap.Count < topK)
        {
            heap.Enqueue(id, (w, -id));
            return;
        }
        heap.TryPeek(out _, out var worst);
        if (w > worst.Weight || (w == worst.Weight && -id > worst.NegId)) heap.DequeueEnqueue(id, (w, -id));
    }

    private static SparseVector Drain(PriorityQueue<int, (float Weight, int NegId)> heap, ReadOnlySpan<float> weights)
    {
        var terms = new int[heap.Count];
        int n = 0;
        while (heap.TryDequeue(out int id, out _)) terms[n++] = id;
        Array.Sort(terms);
        var values = new float[terms.Length];
        for (int i = 0; i < terms.Length; i++) values[i] = weights[terms[i]];
        return new SparseVector(terms, values);
    }
}
