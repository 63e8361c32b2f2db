using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Shoal.Engine.Dense;

/// <summary>
/// Builds an HNSW graph (Malkov and Yashunin, 2016) over float32 rows, inserting nodes from several
/// threads at once. Scores are inner products (higher is closer); the neighbour selection is the
/// paper's heuristic (a candidate is kept only when it is closer to the new node than to every
/// neighbour already kept), as in hnswlib.
/// </summary>
/// <remarks>
/// Each node's link lists are guarded by a spin lock taken only to copy or modify that one list,
/// never while holding another node's lock, so insertions cannot deadlock. The node levels and
/// the insertion order are drawn from <see cref="HnswParameters.Seed"/>; with one thread the graph
/// is deterministic, with several it depends on scheduling.
/// </remarks>
internal sealed unsafe class HnswGraphBuilder : IDisposable
{
    private const int MaxLevelCap = 30;
    private const int WorkChunk = 16;

    private readonly float* _data;
    private readonly sbyte* _nav;
    private readonly float* _navScales;
    private readonly int _count;
    private readonly int _dims;
    private readonly int _m;
    private readonly int _m0;
    private readonly int _efc;
    private readonly int* _links0;
    private readonly long _links0Length;
    private readonly int[][] _upper;
    private readonly byte[] _levels;
    private readonly int[] _locks;
    private readonly object _global = new();
    private int _entry = -1;
    private int _maxLevel = -1;
    private int _next;

    /// <summary>
    /// Prepares a builder over <paramref name="count"/> rows of <paramref name="dims"/> floats at <paramref name="data"/>.
    /// With <paramref name="nav"/> (int8 codes of the same rows, scales in <paramref name="navScales"/>) the
    /// insertion searches traverse the int8 copy and their results are rescored in float32 before the
    /// neighbour selection, which always uses float32.
    /// </summary>
    public HnswGraphBuilder(float* data, sbyte* nav, float* navScales, int count, int dims, HnswParameters parameters)
    {
        _data = data;
        _nav = nav;
        _navScales = navScales;
        _count = count;
        _dims = dims;
        _m = parameters.M;
        _m0 = 2 * parameters.M;
        _efc = Math.Max(parameters.EfConstruction, parameters.M);
        if ((long)count * (_m0 + 1) > Array.MaxLength) throw new ArgumentException($"{count} vectors are too many for one HNSW graph with M = {_m}.");
        _links0Length = (long)count * (_m0 + 1);
        _links0 = (int*)LargePageMemory.Alloc(_links0Length * sizeof(int));
        new Span<int>(_links0, (int)_links0Length).Clear();
        _upper = new int[count][];
        _levels = new byte[count];
        _locks = new int[count];
        double mult = 1.0 / Math.Log(_m);
        for (int i = 0; i < count; i++)
        {
            ulong h = Mix((ulong)(uint)parameters.Seed * 0x9E3779B97F4A7C15UL + (ulong)i);
            double u = ((h >> 11) + 1) * (1.0 / (1UL << 53)); // (0, 1]
            int level = Math.Min(MaxLevelCap, (int)(-Math.Log(u) * mult));
            _levels[i] = (byte)level;
            _upper[i] = level == 0 ? [] : new int[level * (_m + 1)];
        }
    }

    /// <summary>Layer-0 lists: per node a count then up to 2M neighbours.</summary>
    public ReadOnlySpan<int> Links0 => new(_links0, (int)_links0Length);

    /// <summary>Frees the native link array.</summary>
    public void Dispose() => LargePageMemory.Free(_links0);

    /// <summary>Top layer of each node.</summary>
    public byte[] Levels => _levels;

    /// <summary>Entry point after <see cref="Build"/> (-1 when empty).</summary>
    public int EntryPoint => _entry;

    /// <summary>Top layer of the graph after <see cref="Build"/> (-1 when empty).</summary>
    public int MaxLevel => _maxLevel;

    /// <summary>Inserts every node, using <paramref name="threads"/> threads.</summary>
    public void Build(int threads, int seed)
    {
        if (_count == 0) return;
        var order = new int[_count];
        for (int i = 0; i < order.Length; i++) order[i] = i;
        new Random(seed).Shuffle(order);

        Insert(order[0], new Scratch(this));
        _next = 1;
        threads = Math.Clamp(threads, 1, Math.Max(1, _count / 64));
        if (threads == 1)
        {
            Work(order);
            return;
        }
        ExceptionDispatchInfo? failure = null;
        var workers = new Thread[threads - 1];
        for (int t = 0; t < workers.Length; t++)
        {
            workers[t] = new Thread(() =>
            {
                try { Work(order); }
#pragma warning disable CA1031 // the first worker failure is captured and rethrown on the calling thread once every worker has stopped
                catch (Exception e) { Interlocked.CompareExchange(ref failure, ExceptionDispatchInfo.Capture(e), null); _next = int.MaxValue / 2; }
#pragma warning restore CA1031
            }, 16 << 20);
            workers[t].IsBackground = true;
            workers[t].Name = "hnsw-build";
            workers[t].Start();
        }
        try { Work(order); }
#pragma warning disable CA1031 // the first worker failure is captured and rethrown on the calling thread once every worker has stopped
        catch (Exception e) { Interlocked.CompareExchange(ref failure, ExceptionDispatchInfo.Capture(e), null); _next = int.MaxValue / 2; }
#pragma warning restore CA1031
        foreach (var w in workers) w.Join();
        failure?.Throw();
    }

    /// <summary>The upper-layer lists flattened: per node the start of its layer-1 list (-1 if none) and the lists.</summary>
    public (int[] Offsets, int[] Links) FlattenUpper()
    {
        var offsets = new int[_count];
        long total = 0;
        for (int i = 0; i < _count; i++) total += _upper[i].Length;
        var links = new int[checked((int)total)];
        int pos = 0;
        for (int i = 0; i < _count; i++)
        {
            if (_upper[i].Length == 0) { offsets[i] = -1; continue; }
            offsets[i] = pos;
            _upper[i].CopyTo(links, pos);
            pos += _upper[i].Length;
        }
        return (offsets, links);
    }

    private void Work(int[] order)
    {
        var scratch = new Scratch(this);
        while (true)
        {
            int start = Interlocked.Add(ref _next, WorkChunk) - WorkChunk;
            if (start >= _count) return;
            int end = Math.Min(_count, start + WorkChunk);
            for (int i = start; i < end; i++) Insert(order[i], scratch);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private byte* Row(int node) => (byte*)(_data + (nint)node * _dims);

    private Span<int> List(int node, int level) =>
        level == 0 ? new Span<int>(_links0 + (nint)node * (_m0 + 1), _m0 + 1) : _upper[node].AsSpan((level - 1) * (_m + 1), _m + 1);

    private void Insert(int cur, Scratch s)
    {
        int level = _levels[cur];
        Monitor.Enter(_global);
        int ep = _entry, maxLevel = _maxLevel;
        bool keepGlobal = level > maxLevel;
        if (!keepGlobal) Monitor.Exit(_global);
        try
        {
            if (ep < 0)
            {
                _entry = cur;
                _maxLevel = level;
                return;
            }
            float* q = (float*)Row(cur);
            float epScore = NavScore1(ep, q);
            for (int l = maxLevel; l > level; l--) Greedy(q, ref ep, ref epScore, l, s);
            for (int l = Math.Min(level, maxLevel); l >= 0; l--)
            {
                SearchLayer(cur, q, ep, epScore, l, s);
                SortResults(q, s);
                ep = s.CandIds[0];
                epScore = NavScore1(ep, q);
                Connect(cur, l, s);
            }
            if (keepGlobal)
            {
                _entry = cur;
                _maxLevel = level;
            }
        }
        finally
        {
            if (keepGlobal) Monitor.Exit(_global);
        }
    }

    private void Greedy(float* q, ref int ep, ref float epScore, int level, Scratch s)
    {
        while (true)
        {
            int n = CopyLinks(ep, level, s.Neighbours);
            NavScore(q, s.Neighbours, n, s.Scores);
            int best = ep;
            float bestScore = epScore;
            for (int j = 0; j < n; j++)
            {
                if (s.Scores[j] > bestScore)
                {
                    bestScore = s.Scores[j];
                    best = s.Neighbours[j];
                }
            }
            if (best == ep) return;
            ep = best;
            epScore = bestScore;
        }
    }

    private void SearchLayer(int cur, float* q, int ep, float epScore, int level, Scratch s)
    {
        ushort epoch = s.NextEpoch();
        var visited = s.Visited;
        visited[cur] = epoch;
        visited[ep] = epoch;
        var cand = s.Candidates;
        var res = s.Results;
        cand.Clear();
        res.Clear();
        cand.Push(-epScore, ep);
        res.Push(epScore, ep);
        int ef = _efc;
        while (cand.Count > 0)
        {
            float cs = -cand.MinKey;
            int c = cand.MinNode;
            if (res.Count >= ef && cs < res.MinKey) break;
            cand.Pop();
            if (level == 0 && cand.Count > 0 && Sse.IsSupported) Sse.Prefetch0(_links0 + (nint)cand.MinNode * (_m0 + 1));
            int n = CopyLinks(c, level, s.Neighbours);
            int np = 0;
            for (int j = 0; j < n; j++)
            {
                int nb = s.Neighbours[j];
                if (visited[nb] == epoch) continue;
                visited[nb] = epoch;
                s.Pending[np++] = nb;
                if (Sse.IsSupported)
                {
                    // Short int8 rows whole, anything else its first two lines (measured best).
                    byte* row = _nav is null ? Row(nb) : (byte*)(_nav + (nint)nb * _dims);
                    int bytes = _nav is null || _dims > 512 ? 128 : _dims;
                    for (int o = 0; o < bytes; o += 64) Sse.Prefetch0(row + o);
                }
            }
            NavScore(q, s.Pending, np, s.Scores);
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

    /// <summary>
    /// Copies the results heap into CandIds/CandScores sorted by float32 score descending (then node
    /// ascending), rescoring them first when the search traversed the int8 copy.
    /// </summary>
    private void SortResults(float* q, Scratch s)
    {
        var items = s.Results.Items;
        int n = items.Length;
        s.EnsureCandidates(n + 1);
        for (int i = 0; i < n; i++)
        {
            s.CandIds[i] = items[i].Node;
            s.CandScores[i] = items[i].Key;
        }
        if (_nav is not null) Score(q, s.CandIds, n, s.CandScores);
        SortDescending(s.CandScores.AsSpan(0, n), s.CandIds.AsSpan(0, n), s);
    }

    private static void SortDescending(Span<float> scores, Span<int> ids, Scratch s) =>
        ScoreSort.Descending(scores, ids, s.SortKeys(scores.Length));

    private void Connect(int cur, int level, Scratch s)
    {
        int cap = level == 0 ? _m0 : _m;
        int nsel = SelectHeuristic(s.CandIds, s.CandScores, s.Results.Count, _m, s.SelIds, s.SelScores, s);
        SetOwnLinks(cur, level, cap, nsel, s);
        for (int i = 0; i < nsel; i++) AddReverse(s.SelIds[i], cur, level, cap, s.SelScores[i], s);
    }

    /// <summary>
    /// The HNSW neighbour-selection heuristic over candidates sorted closest first: keep a candidate
    /// unless some already-kept neighbour is closer to it than the base node is. Returns the kept count.
    /// </summary>
    private int SelectHeuristic(int[] ids, float[] scores, int n, int cap, int[] outIds, float[] outScores, Scratch s)
    {
        if (n < cap)
        {
            Array.Copy(ids, outIds, n);
            Array.Copy(scores, outScores, n);
            return n;
        }
        int kept = 0;
        for (int i = 0; i < n && kept < cap; i++)
        {
            int c = ids[i];
            float cs = scores[i];
            float* cq = (float*)Row(c);
            bool good = true;
            int j = 0;
            for (; j + 4 <= kept && good; j += 4)
            {
                var d = DenseKernels.Dot4<Float32Codec>(Row(outIds[j]), Row(outIds[j + 1]), Row(outIds[j + 2]), Row(outIds[j + 3]), cq, _dims);
                if (d.GetElement(0) > cs || d.GetElement(1) > cs || d.GetElement(2) > cs || d.GetElement(3) > cs) good = false;
            }
            for (; j < kept && good; j++)
            {
                if (DenseKernels.Dot1<Float32Codec>(Row(outIds[j]), cq, _dims) > cs) good = false;
            }
            if (good)
            {
                outIds[kept] = c;
                outScores[kept] = cs;
                kept++;
            }
        }
        return kept;
    }

    private void SetOwnLinks(int cur, int level, int cap, int nsel, Scratch s)
    {
        Lock(cur);
        try
        {
            var list = List(cur, level);
            int existing = list[0];
            if (existing == 0)
            {
                for (int i = 0; i < nsel; i++) list[1 + i] = s.SelIds[i];
                Volatile.Write(ref list[0], nsel);
                return;
            }
            // Other threads linked to this node before it finished: merge, pruning if needed.
            int n = 0;
            s.EnsureCandidates(nsel + existing + 1);
            for (int i = 0; i < nsel; i++) s.PruneIds[n++] = s.SelIds[i];
            for (int i = 0; i < existing; i++)
            {
                int x = list[1 + i];
                if (Array.IndexOf(s.PruneIds, x, 0, n) < 0) s.PruneIds[n++] = x;
            }
            WriteList(cur, list, n, cap, s);
        }
        finally
        {
            Unlock(cur);
        }
    }

    private void AddReverse(int node, int cur, int level, int cap, float score, Scratch s)
    {
        Lock(node);
        try
        {
            var list = List(node, level);
            int cnt = list[0];
            for (int j = 0; j < cnt; j++)
            {
                if (list[1 + j] == cur) return;
            }
            if (cnt < cap)
            {
                list[1 + cnt] = cur;
                Volatile.Write(ref list[0], cnt + 1);
                return;
            }
            s.EnsureCandidates(cnt + 1);
            for (int j = 0; j < cnt; j++) s.PruneIds[j] = list[1 + j];
            s.PruneIds[cnt] = cur;
            WriteList(node, list, cnt + 1, cap, s, knownLast: score);
        }
        finally
        {
            Unlock(node);
        }
    }

    /// <summary>Writes the best <paramref name="cap"/> (by the heuristic) of PruneIds[0..n) as the list of <paramref name="node"/>.</summary>
    private void WriteList(int node, Span<int> list, int n, int cap, Scratch s, float? knownLast = null)
    {
        float* q = (float*)Row(node);
        Score(q, s.PruneIds, knownLast.HasValue ? n - 1 : n, s.PruneScores);
        if (knownLast.HasValue) s.PruneScores[n - 1] = knownLast.Value;
        if (n <= cap)
        {
            for (int i = 0; i < n; i++) list[1 + i] = s.PruneIds[i];
            Volatile.Write(ref list[0], n);
            return;
        }
        SortDescending(s.PruneScores.AsSpan(0, n), s.PruneIds.AsSpan(0, n), s);
        int kept = SelectHeuristic(s.PruneIds, s.PruneScores, n, cap, s.PruneSelIds, s.PruneSelScores, s);
        for (int i = 0; i < kept; i++) list[1 + i] = s.PruneSelIds[i];
        Volatile.Write(ref list[0], kept);
    }

    /// <summary>
    /// Copies a link list without taking its lock. Writers (which do lock) store neighbour ids before
    /// the count and every slot always holds a valid node id, so a read racing a write sees a list
    /// that is merely a little stale or mixed, which only changes which candidates the search visits.
    /// </summary>
    private int CopyLinks(int node, int level, int[] buffer)
    {
        var list = List(node, level);
        int n = Math.Min(Volatile.Read(ref list[0]), list.Length - 1);
        list.Slice(1, n).CopyTo(buffer);
        return n;
    }

    /// <summary>The traversal score of one node: int8 copy when present, else float32.</summary>
    private float NavScore1(int node, float* q) =>
        _nav is null ? DenseKernels.Dot1<Float32Codec>(Row(node), q, _dims)
                     : DenseKernels.Dot1<Int8Codec>((byte*)(_nav + (nint)node * _dims), q, _dims) * _navScales[node];

    /// <summary>Traversal scores of ids[0..n): int8 copy when present, else float32.</summary>
    private void NavScore(float* q, int[] ids, int n, float[] scores)
    {
        if (_nav is null)
        {
            Score(q, ids, n, scores);
            return;
        }
        int j = 0;
        for (; j + 4 <= n; j += 4)
        {
            int i0 = ids[j], i1 = ids[j + 1], i2 = ids[j + 2], i3 = ids[j + 3];
            var d = DenseKernels.Dot4<Int8Codec>((byte*)(_nav + (nint)i0 * _dims), (byte*)(_nav + (nint)i1 * _dims),
                (byte*)(_nav + (nint)i2 * _dims), (byte*)(_nav + (nint)i3 * _dims), q, _dims);
            d *= Vector128.Create(_navScales[i0], _navScales[i1], _navScales[i2], _navScales[i3]);
            d.CopyTo(scores.AsSpan(j));
        }
        for (; j < n; j++) scores[j] = NavScore1(ids[j], q);
    }

    /// <summary>Float32 scores of ids[0..n) against <paramref name="q"/>, four rows at a time.</summary>
    private void Score(float* q, int[] ids, int n, float[] scores)
    {
        int j = 0;
        for (; j + 4 <= n; j += 4)
        {
            var d = DenseKernels.Dot4<Float32Codec>(Row(ids[j]), Row(ids[j + 1]), Row(ids[j + 2]), Row(ids[j + 3]), q, _dims);
            scores[j] = d.GetElement(0);
            scores[j + 1] = d.GetElement(1);
            scores[j + 2] = d.GetElement(2);
            scores[j + 3] = d.GetElement(3);
        }
        for (; j < n; j++) scores[j] = DenseKernels.Dot1<Float32Codec>(Row(ids[j]), q, _dims);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Lock(int node)
    {
        if (Interlocked.CompareExchange(ref _locks[node], 1, 0) != 0) LockSlow(node);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void LockSlow(int node)
    {
        var spin = new SpinWait();
        while (Interlocked.CompareExchange(ref _locks[node], 1, 0) != 0) spin.SpinOnce();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Unlock(int node) => Volatile.Write(ref _locks[node], 0);

    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Per-thread buffers of an insertion.</summary>
    private sealed class Scratch
    {
        private ushort _epoch;
        private ulong[] _keys = new ulong[64];

        public Scratch(HnswGraphBuilder b)
        {
            Visited = new ushort[b._count];
            Candidates = new ScoreHeap(b._efc * 2);
            Results = new ScoreHeap(b._efc + 1);
            int width = b._m0 + 1;
            Neighbours = new int[width];
            Pending = new int[width];
            Scores = new float[width];
            SelIds = new int[width];
            SelScores = new float[width];
            PruneSelIds = new int[width];
            PruneSelScores = new float[width];
            CandIds = [];
            CandScores = [];
            PruneIds = [];
            PruneScores = [];
            EnsureCandidates(Math.Max(b._efc, b._m0) + 2);
        }

        public ushort[] Visited { get; }
        public ScoreHeap Candidates { get; }
        public ScoreHeap Results { get; }
        public int[] Neighbours { get; }
        public int[] Pending { get; }
        public float[] Scores { get; }
        public int[] SelIds { get; }
        public float[] SelScores { get; }
        public int[] PruneSelIds { get; }
        public float[] PruneSelScores { get; }
        public int[] CandIds { get; private set; }
        public float[] CandScores { get; private set; }
        public int[] PruneIds { get; private set; }
        public float[] PruneScores { get; private set; }

        public void EnsureCandidates(int n)
        {
            if (CandIds.Length >= n && PruneIds.Length >= n) return;
            int size = Math.Max(n, CandIds.Length * 2);
            CandIds = new int[size];
            CandScores = new float[size];
            PruneIds = new int[size];
            PruneScores = new float[size];
        }

        public Span<ulong> SortKeys(int n)
        {
            if (_keys.Length < n) _keys = new ulong[Math.Max(n, _keys.Length * 2)];
            return _keys.AsSpan(0, n);
        }

        public ushort NextEpoch()
        {
            if (++_epoch == 0)
            {
                Array.Clear(Visited);
                _epoch = 1;
            }
            return _epoch;
        }
    }
}
