using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using System.Text;
using Shoal.Engine.Search;
using Shoal.Engine.Segments;

namespace Shoal.Engine.Dense;

// Approximate search over the HNSW graph.
public sealed unsafe partial class DenseSegment
{
    private const int WholeRowPrefetchBytes = 512;

    // ---- approximate (HNSW) -----------------------------------------------------------------

    /// <summary>
    /// The approximate top <paramref name="k"/> by an HNSW search with a candidate list of
    /// <c>max(ef, k)</c>: greedy descent through the upper layers, then a best-first search of the
    /// bottom layer. When the search traverses compact rows that have more precise ones beside them (an int8
    /// navigation copy, <see cref="HasInt8Navigation"/>, or float32 originals, <see cref="HasOriginals"/>) the
    /// list holds at least <see cref="RescoreCandidates"/><c>(k, </c><see cref="Oversample"/><c>)</c> and all of
    /// it is rescored with the stored (or original) vectors before the top <paramref name="k"/> are taken.
    /// Either way the returned scores equal <see cref="SearchExact(ReadOnlySpan{float}, int)"/>'s for those
    /// documents, bit for bit. Without a graph this is <see cref="SearchExact(ReadOnlySpan{float}, int)"/>.
    /// No allocation besides the result in steady state (buffers are per thread).
    /// </summary>
    /// <param name="query">The query vector (<see cref="Dims"/> finite floats).</param>
    /// <param name="k">Results wanted.</param>
    /// <param name="ef">Candidate-list size; larger is slower and more accurate (<see cref="HnswParameters.DefaultEfSearch"/> is a good start).</param>
    public ScoredDoc[] SearchApproximate(ReadOnlySpan<float> query, int k, int ef) => SearchApproximate(query, k, ef, _oversample);

    /// <summary>
    /// As <see cref="SearchApproximate(ReadOnlySpan{float}, int, int)"/> with this search's own oversample factor:
    /// a search that rescores keeps a candidate list of <c>max(ef, </c><see cref="RescoreCandidates"/><c>(k, oversample))</c>
    /// (1 gives the plain <c>max(ef, k)</c>); a search that does not checks and ignores it.
    /// </summary>
    /// <param name="query">The query vector (<see cref="Dims"/> finite floats).</param>
    /// <param name="k">Results wanted.</param>
    /// <param name="ef">Candidate-list size.</param>
    /// <param name="oversample">Candidates per result to rescore: finite, at least 1.</param>
    public ScoredDoc[] SearchApproximate(ReadOnlySpan<float> query, int k, int ef, float oversample)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(ef, 1);
        CheckOversample(oversample);
        if (!HasAnnIndex) return SearchExact(query, k, oversample);
        var scratch = DenseSearchScratch.Current;
        PrepareQuery(query, scratch);
        scratch.EnsureGraph(Count, _links0Stride);
        var main = new RowSet(_vectors, _rowBytes, _scales);
        // Rescoring reads the originals when there are any, else (after traversing the navigation copy) the stored rows.
        bool rescore = _navCodes is not null || _originals is not null;
        ef = Math.Max(ef, rescore ? Candidates(k, oversample) : k);
        fixed (float* q = scratch.Query)
        {
            if (_navCodes is not null) SearchGraph<Int8Codec>(new RowSet((byte*)_navCodes, Dims, _navScales), q, ef, scratch);
            else
            {
                switch (Storage)
                {
                    case DenseStorage.Float32: SearchGraph<Float32Codec>(main, q, ef, scratch); break;
                    case DenseStorage.Float16: SearchGraph<Float16Codec>(main, q, ef, scratch); break;
                    default: SearchGraph<Int8Codec>(main, q, ef, scratch); break;
                }
            }
            var items = scratch.Results.Items;
            int count = items.Length;
            scratch.EnsureSort(count);
            for (int i = 0; i < count; i++)
            {
                scratch.SortDocs[i] = items[i].Node;
                scratch.SortScores[i] = items[i].Key;
            }
            if (_originals is not null)
            {
                var originals = new RowSet((byte*)_originals, (nint)Dims * sizeof(float), null);
                PrefetchRows(originals, scratch.SortDocs, count);
                ScoreRows<Float32Codec>(originals, scratch.SortDocs, count, q, scratch.SortScores);
            }
            else if (rescore)
            {
                PrefetchRows(main, scratch.SortDocs, count);
                switch (Storage)
                {
                    case DenseStorage.Float32: ScoreRows<Float32Codec>(main, scratch.SortDocs, count, q, scratch.SortScores); break;
                    default: ScoreRows<Float16Codec>(main, scratch.SortDocs, count, q, scratch.SortScores); break;
                }
            }
        }
        return TopOfSorted(scratch, scratch.Results.Count, k);
    }

    private void SearchGraph<TCodec>(RowSet rows, float* q, int ef, DenseSearchScratch s) where TCodec : struct, IRowCodec
    {
        int ep = _meta.EntryPoint;
        float epScore = rows.Score<TCodec>(ep, q, Dims);
        for (int level = _meta.MaxLevel; level >= 1; level--)
        {
            while (true)
            {
                int* list = UpperList(ep, level);
                int n = CheckedCount(list, _meta.M);
                int best = ep;
                float bestScore = epScore;
                ScoreList<TCodec>(rows, list + 1, n, q, s);
                for (int j = 0; j < n; j++)
                {
                    if (s.Scores[j] > bestScore)
                    {
                        bestScore = s.Scores[j];
                        best = s.Pending[j];
                    }
                }
                if (best == ep) break;
                ep = best;
                epScore = bestScore;
            }
        }

        ushort epoch = s.NextEpoch();
        var visited = s.Visited;
        var cand = s.Candidates;
        var res = s.Results;
        cand.Clear();
        res.Clear();
        visited[ep] = epoch;
        cand.Push(-epScore, ep);
        res.Push(epScore, ep);
        int count = Count;
        while (cand.Count > 0)
        {
            float cs = -cand.MinKey;
            int c = cand.MinNode;
            if (res.Count >= ef && cs < res.MinKey) break;
            cand.Pop();
            if (cand.Count > 0 && Sse.IsSupported) Sse.Prefetch0(_links0 + (nint)cand.MinNode * _links0Stride);
            int* list = _links0 + (nint)c * _links0Stride;
            int n = CheckedCount(list, _meta.MaxM0);
            int np = 0;
            for (int j = 1; j <= n; j++)
            {
                int nb = list[j];
                if ((uint)nb >= (uint)count) throw new CorruptSegmentException(FilePath, $"HNSW link {nb} of node {c} is out of range");
                if (visited[nb] == epoch) continue;
                visited[nb] = epoch;
                s.Pending[np++] = nb;
                if (Sse.IsSupported)
                {
                    // Short rows (the int8 copy) whole, long ones their first two lines (measured best).
                    byte* row = rows.Rows + nb * rows.RowBytes;
                    nint bytes = rows.RowBytes <= WholeRowPrefetchBytes ? rows.RowBytes : 128;
                    for (nint o = 0; o < bytes; o += 64) Sse.Prefetch0(row + o);
                }
            }
            ScorePending<TCodec>(rows, np, q, s);
            for (int j = 0; j < np; j++)
            {
                float sc = s.Scores[j];
                if (res.Count < ef || sc > res.MinKey)
                {
                    cand.Push(-sc, s.Pending[j]);
                    res.Push(sc, s.Pending[j]);
                    if (res.Count > ef) res.Pop();
                }
            }
        }
    }

    private int* UpperList(int node, int level)
    {
        int start = _upperOffsets[node];
        int nodeLevel = _levels[node];
        long at = start + (long)(level - 1) * (_meta.M + 1);
        if (start < 0 || level > nodeLevel || at + _meta.M + 1 > _meta.UpperLinkCount)
            throw new CorruptSegmentException(FilePath, $"HNSW upper-layer list of node {node} at level {level} is out of range");
        return _upperLinks + at;
    }

    private int CheckedCount(int* list, int max)
    {
        int n = list[0];
        if ((uint)n > (uint)max) throw new CorruptSegmentException(FilePath, $"HNSW list holds {n} links (more than {max})");
        return n;
    }

    /// <summary>Copies a link list into Pending (checking the ids) and scores it.</summary>
    private void ScoreList<TCodec>(RowSet rows, int* ids, int n, float* q, DenseSearchScratch s) where TCodec : struct, IRowCodec
    {
        for (int j = 0; j < n; j++)
        {
            int nb = ids[j];
            if ((uint)nb >= (uint)Count) throw new CorruptSegmentException(FilePath, $"HNSW link {nb} is out of range");
            s.Pending[j] = nb;
        }
        ScorePending<TCodec>(rows, n, q, s);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void ScorePending<TCodec>(RowSet rows, int n, float* q, DenseSearchScratch s) where TCodec : struct, IRowCodec =>
        ScoreRows<TCodec>(rows, s.Pending, n, q, s.Scores);
}
