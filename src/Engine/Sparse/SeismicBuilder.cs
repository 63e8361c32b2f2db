namespace Shoal.Engine.Sparse;

/// <summary>
/// Builds the Seismic part of a sparse segment from its forward index and exact postings: per term,
/// static pruning to the λ highest levels, clustering into blocks around random centroid documents,
/// and an α-mass-pruned component-wise-max summary per block. Deterministic for a given seed,
/// whatever the number of threads.
/// </summary>
internal sealed class SeismicBuilder
{
    private readonly long[] _fwdOffsets;
    private readonly ushort[] _fwdTerms;
    private readonly byte[] _fwdLevels;
    private readonly long[] _termStart;
    private readonly int[] _invDocs;
    private readonly byte[] _invLevels;
    private readonly SparseBuildOptions _options;
    private readonly int _vocabSize;
    private readonly int _m;
    private ushort[] _topTerms = [];
    private byte[] _topLevels = [];
    private byte[] _topCounts = [];

    public SeismicBuilder(long[] fwdOffsets, ushort[] fwdTerms, byte[] fwdLevels, long[] termStart, int[] invDocs, byte[] invLevels,
        int vocabSize, SparseBuildOptions options)
    {
        _fwdOffsets = fwdOffsets;
        _fwdTerms = fwdTerms;
        _fwdLevels = fwdLevels;
        _termStart = termStart;
        _invDocs = invDocs;
        _invLevels = invLevels;
        _vocabSize = vocabSize;
        _options = options;
        _m = options.ClusteringTerms;
    }

    public int[] TermBlocks { get; private set; } = [];
    public uint[] BlockDocStarts { get; private set; } = [];
    public uint[] BlockSummaryStarts { get; private set; } = [];
    public uint[] Docs { get; private set; } = [];
    public ushort[] SummaryTerms { get; private set; } = [];
    public byte[] SummaryLevels { get; private set; } = [];

    private sealed class TermResult
    {
        public uint[] Docs = [];
        public int[] BlockDocEnds = [];
        public ushort[] SummaryTerms = [];
        public byte[] SummaryLevels = [];
        public int[] BlockSummaryEnds = [];
    }

    private sealed class Scratch
    {
        public readonly byte[] Max = new byte[65536];
        public readonly int[] Touched = new int[65536];
        public readonly int[] Head = new int[65536];
        public readonly int[] HeadStamp = new int[65536];
        public int Stamp;
        public int[] Next = new int[256];
        public int[] EntryCentroid = new int[256];
        public byte[] EntryLevel = new byte[256];
        public int[] Perm = [];
        public int[] SelDoc = [];
        public byte[] SelLevel = [];
        public int[] Assign = [];
        public float[] CentroidScore = [];
        public int[] TouchedCentroids = [];
        public readonly int[] Histogram = new int[256];
        public readonly int[] Nearest = new int[256];
        public readonly int[] LowestAtLevel = new int[256];
        public readonly List<int> Kept = [];
        public readonly List<ushort> SumTerms = [];
        public readonly List<byte> SumLevels = [];
        public readonly List<int> SumEnds = [];
        public readonly List<uint> BlockDocs = [];
        public readonly List<int> BlockEnds = [];
    }

    public void Build()
    {
        int docCount = _fwdOffsets.Length - 1;
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = _options.Threads };
        _topTerms = new ushort[(long)docCount * _m];
        _topLevels = new byte[(long)docCount * _m];
        _topCounts = new byte[docCount];
        Parallel.For(0, (docCount + 4095) / 4096, parallel, chunk =>
        {
            int end = Math.Min(docCount, (chunk + 1) * 4096);
            for (int d = chunk * 4096; d < end; d++) SelectTop(d);
        });

        var results = new TermResult[_vocabSize];
        Parallel.For(0, _vocabSize, parallel, () => new Scratch(), (t, _, scratch) =>
        {
            results[t] = BuildTerm(t, scratch);
            return scratch;
        }, _ => { });

        long docTotal = 0, summaryTotal = 0;
        int blockTotal = 0;
        foreach (var r in results)
        {
            docTotal += r.Docs.Length;
            summaryTotal += r.SummaryTerms.Length;
            blockTotal += r.BlockDocEnds.Length;
        }
        if (docTotal > uint.MaxValue || summaryTotal > uint.MaxValue)
            throw new InvalidOperationException($"The Seismic lists of this segment are too large ({docTotal} postings, {summaryTotal} summary entries); lower PostingsPerTerm or split the shard.");
        TermBlocks = new int[_vocabSize + 1];
        BlockDocStarts = new uint[blockTotal + 1];
        BlockSummaryStarts = new uint[blockTotal + 1];
        Docs = new uint[docTotal];
        SummaryTerms = new ushort[summaryTotal];
        SummaryLevels = new byte[summaryTotal];
        int block = 0;
        uint docBase = 0, sumBase = 0;
        for (int t = 0; t < _vocabSize; t++)
        {
            TermBlocks[t] = block;
            var r = results[t];
            r.Docs.CopyTo(Docs, docBase);
            r.SummaryTerms.CopyTo(SummaryTerms, sumBase);
            r.SummaryLevels.CopyTo(SummaryLevels, sumBase);
            for (int b = 0; b < r.BlockDocEnds.Length; b++)
            {
                BlockDocStarts[block + b + 1] = docBase + (uint)r.BlockDocEnds[b];
                BlockSummaryStarts[block + b + 1] = sumBase + (uint)r.BlockSummaryEnds[b];
            }
            block += r.BlockDocEnds.Length;
            docBase += (uint)r.Docs.Length;
            sumBase += (uint)r.SummaryTerms.Length;
            results[t] = null!;
        }
        TermBlocks[_vocabSize] = block;
        _topTerms = [];
        _topLevels = [];
        _topCounts = [];
    }

    // The doc's m highest levels (ties: lower term id), kept for clustering.
    private void SelectTop(int d)
    {
        long from = _fwdOffsets[d], to = _fwdOffsets[d + 1];
        long baseIdx = (long)d * _m;
        int count = 0;
        for (long i = from; i < to; i++)
        {
            byte level = _fwdLevels[i];
            ushort term = _fwdTerms[i];
            if (count == _m && level <= _topLevels[baseIdx + count - 1]) continue;
            int pos = count == _m ? _m - 1 : count++;
            // Insertion keeps the list sorted by level descending; terms arrive ascending so ties keep the lower term first.
            while (pos > 0 && _topLevels[baseIdx + pos - 1] < level)
            {
                _topLevels[baseIdx + pos] = _topLevels[baseIdx + pos - 1];
                _topTerms[baseIdx + pos] = _topTerms[baseIdx + pos - 1];
                pos--;
            }
            _topLevels[baseIdx + pos] = level;
            _topTerms[baseIdx + pos] = term;
        }
        _topCounts[d] = (byte)count;
    }

    private TermResult BuildTerm(int t, Scratch s)
    {
        long p0 = _termStart[t], p1 = _termStart[t + 1];
        long df = p1 - p0;
        if (df == 0) return new TermResult();
        int lambda = _options.PostingsPerTerm;
        int n = (int)Math.Min(df, lambda);
        if (s.SelDoc.Length < n)
        {
            s.SelDoc = new int[n];
            s.SelLevel = new byte[n];
            s.Perm = new int[n];
            s.Assign = new int[n];
        }
        CollectTop(t, p0, p1, n, s);

        // Clustering: random centroids, each doc to the centroid with the largest dot product over
        // the docs' top entries (the list's own term excluded: every member has it).
        int beta = (int)Math.Clamp(Math.Round(n * _options.CentroidFraction), 1, n);
        if (beta == 1)
        {
            Array.Clear(s.Assign, 0, n);
        }
        else
        {
            Cluster(t, n, beta, s);
        }

        // Group by centroid (counting sort keeps doc order inside a group).
        var groupStart = new int[beta + 1];
        for (int i = 0; i < n; i++) groupStart[s.Assign[i] + 1]++;
        for (int j = 0; j < beta; j++) groupStart[j + 1] += groupStart[j];
        var members = new int[n];
        var fill = (int[])groupStart.Clone();
        for (int i = 0; i < n; i++) members[fill[s.Assign[i]]++] = i;

        var blocks = new List<(int From, int Count, byte MaxLevel, int FirstDoc)>();
        int maxBlock = _options.MaxBlockSize;
        var ordered = new List<int>();
        for (int j = 0; j < beta; j++)
        {
            int from = groupStart[j], count = groupStart[j + 1] - from;
            if (count == 0) continue;
            if (count > maxBlock)
            {
                // Oversized cluster: split by the list term's level so each piece has a tight bound.
                Array.Sort(members, from, count, Comparer<int>.Create((a, b) =>
                    s.SelLevel[a] != s.SelLevel[b] ? s.SelLevel[b].CompareTo(s.SelLevel[a]) : a.CompareTo(b)));
                int pieces = (count + maxBlock - 1) / maxBlock;
                for (int p = 0; p < pieces; p++)
                {
                    int pFrom = from + (int)((long)count * p / pieces);
                    int pTo = from + (int)((long)count * (p + 1) / pieces);
                    Array.Sort(members, pFrom, pTo - pFrom);
                    blocks.Add(Describe(members, pFrom, pTo - pFrom, s));
                }
            }
            else
            {
                blocks.Add(Describe(members, from, count, s));
            }
        }
        // Heaviest blocks (for the list's term) first, so the heap fills with good documents early.
        blocks.Sort((a, b) => a.MaxLevel != b.MaxLevel ? b.MaxLevel.CompareTo(a.MaxLevel) : a.FirstDoc.CompareTo(b.FirstDoc));

        s.BlockDocs.Clear();
        s.BlockEnds.Clear();
        s.SumTerms.Clear();
        s.SumLevels.Clear();
        s.SumEnds.Clear();
        foreach (var b in blocks)
        {
            for (int i = 0; i < b.Count; i++) s.BlockDocs.Add((uint)s.SelDoc[members[b.From + i]]);
            s.BlockEnds.Add(s.BlockDocs.Count);
            Summarize(t, members, b.From, b.Count, s);
            s.SumEnds.Add(s.SumTerms.Count);
        }
        return new TermResult
        {
            Docs = [.. s.BlockDocs],
            BlockDocEnds = [.. s.BlockEnds],
            SummaryTerms = [.. s.SumTerms],
            SummaryLevels = [.. s.SumLevels],
            BlockSummaryEnds = [.. s.SumEnds],
        };
    }

    private static (int, int, byte, int) Describe(int[] members, int from, int count, Scratch s)
    {
        byte max = 0;
        for (int i = from; i < from + count; i++) max = Math.Max(max, s.SelLevel[members[i]]);
        return (from, count, max, s.SelDoc[members[from]]);
    }

    // Static pruning: the n highest levels of term t (ties: lower doc id), in doc order.
    private void CollectTop(int t, long p0, long p1, int n, Scratch s)
    {
        int cutoff = 0, takeAtCutoff = int.MaxValue;
        if (p1 - p0 > n)
        {
            Array.Clear(s.Histogram);
            for (long p = p0; p < p1; p++) s.Histogram[_invLevels[p]]++;
            int above = 0;
            for (int level = 255; level >= 1; level--)
            {
                if (above + s.Histogram[level] >= n)
                {
                    cutoff = level;
                    takeAtCutoff = n - above;
                    break;
                }
                above += s.Histogram[level];
            }
        }
        int k = 0, atCutoff = 0;
        for (long p = p0; p < p1; p++)
        {
            byte level = _invLevels[p];
            if (level < cutoff) continue;
            if (level == cutoff && atCutoff++ >= takeAtCutoff) continue;
            s.SelDoc[k] = _invDocs[p];
            s.SelLevel[k] = level;
            k++;
        }
        if (k != n) throw new InvalidOperationException($"Internal error: selected {k} of {n} postings for term {t}.");
    }

    private void Cluster(int t, int n, int beta, Scratch s)
    {
        // Centroids: a partial Fisher-Yates shuffle with a per-term seeded generator.
        ulong state = (ulong)(uint)_options.Seed * 0x9E3779B97F4A7C15UL ^ ((ulong)(uint)t << 32 | 0x5EED);
        for (int i = 0; i < n; i++) s.Perm[i] = i;
        for (int j = 0; j < beta; j++)
        {
            int r = j + (int)(NextRandom(ref state) % (ulong)(n - j));
            (s.Perm[j], s.Perm[r]) = (s.Perm[r], s.Perm[j]);
        }
        if (s.CentroidScore.Length < beta)
        {
            s.CentroidScore = new float[beta];
            s.TouchedCentroids = new int[beta];
        }

        // A small inverted index over the centroids' top entries.
        s.Stamp++;
        int entries = 0;
        for (int j = 0; j < beta; j++)
        {
            int doc = s.SelDoc[s.Perm[j]];
            long b = (long)doc * _m;
            for (int q = 0; q < _topCounts[doc]; q++)
            {
                int term = _topTerms[b + q];
                if (term == t) continue;
                if (entries == s.Next.Length)
                {
                    Array.Resize(ref s.Next, entries * 2);
                    Array.Resize(ref s.EntryCentroid, entries * 2);
                    Array.Resize(ref s.EntryLevel, entries * 2);
                }
                if (s.HeadStamp[term] != s.Stamp)
                {
                    s.HeadStamp[term] = s.Stamp;
                    s.Head[term] = -1;
                }
                s.Next[entries] = s.Head[term];
                s.EntryCentroid[entries] = j;
                s.EntryLevel[entries] = _topLevels[b + q];
                s.Head[term] = entries++;
            }
        }

        // Fallback for a doc sharing no top entry with any centroid: the centroid whose level of t is
        // nearest (the lowest-numbered centroid of the nearest level present; the lower level on a tie).
        Array.Fill(s.LowestAtLevel, -1);
        for (int j = beta - 1; j >= 0; j--) s.LowestAtLevel[s.SelLevel[s.Perm[j]]] = j;
        for (int level = 0; level < 256; level++)
        {
            for (int gap = 0; gap < 256; gap++)
            {
                if (level - gap >= 0 && s.LowestAtLevel[level - gap] >= 0) { s.Nearest[level] = s.LowestAtLevel[level - gap]; break; }
                if (level + gap < 256 && s.LowestAtLevel[level + gap] >= 0) { s.Nearest[level] = s.LowestAtLevel[level + gap]; break; }
            }
        }

        var centroidOf = new Dictionary<int, int>(beta);
        for (int j = 0; j < beta; j++) centroidOf[s.Perm[j]] = j;
        for (int i = 0; i < n; i++)
        {
            if (centroidOf.TryGetValue(i, out int self)) { s.Assign[i] = self; continue; }
            int doc = s.SelDoc[i];
            long b = (long)doc * _m;
            int touched = 0;
            for (int q = 0; q < _topCounts[doc]; q++)
            {
                int term = _topTerms[b + q];
                if (term == t || s.HeadStamp[term] != s.Stamp) continue;
                float level = _topLevels[b + q];
                for (int e = s.Head[term]; e >= 0; e = s.Next[e])
                {
                    int c = s.EntryCentroid[e];
                    if (s.CentroidScore[c] == 0) s.TouchedCentroids[touched++] = c;
                    s.CentroidScore[c] += level * s.EntryLevel[e];
                }
            }
            int bestC = -1;
            float bestScore = 0;
            for (int x = 0; x < touched; x++)
            {
                int c = s.TouchedCentroids[x];
                float score = s.CentroidScore[c];
                if (score > bestScore || (score == bestScore && c < bestC)) { bestScore = score; bestC = c; }
                s.CentroidScore[c] = 0;
            }
            if (bestC < 0) bestC = s.Nearest[s.SelLevel[i]];
            s.Assign[i] = bestC;
        }
    }

    // Summary: component-wise max of the block's docs, pruned to the largest entries holding α of the
    // L1 mass (at most SummaryMaxTerms; the list's own term always kept), stored ascending by term.
    private void Summarize(int t, int[] members, int from, int count, Scratch s)
    {
        int touched = 0;
        for (int i = from; i < from + count; i++)
        {
            int doc = s.SelDoc[members[i]];
            for (long p = _fwdOffsets[doc]; p < _fwdOffsets[doc + 1]; p++)
            {
                int term = _fwdTerms[p];
                byte level = _fwdLevels[p];
                byte cur = s.Max[term];
                if (cur == 0) s.Touched[touched++] = term;
                if (level > cur) s.Max[term] = level;
            }
        }
        Array.Clear(s.Histogram);
        long total = 0;
        for (int i = 0; i < touched; i++)
        {
            byte level = s.Max[s.Touched[i]];
            s.Histogram[level]++;
            total += level;
        }
        double target = _options.SummaryEnergy * total;
        int cap = _options.SummaryMaxTerms;
        long mass = 0;
        int kept = 0, cutoff = 256, takeAtCutoff = 0;
        for (int level = 255; level >= 1 && kept < cap && mass < target; level--)
        {
            int c = s.Histogram[level];
            if (c == 0) continue;
            int need = (int)Math.Min(c, Math.Ceiling((target - mass) / level));
            need = Math.Min(need, cap - kept);
            cutoff = level;
            takeAtCutoff = need;
            kept += need;
            mass += (long)need * level;
            if (need < c) break;
        }
        s.Kept.Clear();
        bool hasT = false;
        int atCutoff = 0;
        for (int i = 0; i < touched; i++)
        {
            int term = s.Touched[i];
            byte level = s.Max[term];
            if (level > cutoff || (level == cutoff && atCutoff++ < takeAtCutoff))
            {
                s.Kept.Add(term);
                if (term == t) hasT = true;
            }
        }
        if (!hasT)
        {
            if (s.Kept.Count >= cap)
            {
                // Replace the lightest kept entry by the list's term.
                int lightest = 0;
                for (int i = 1; i < s.Kept.Count; i++)
                    if (s.Max[s.Kept[i]] < s.Max[s.Kept[lightest]]) lightest = i;
                s.Kept.RemoveAt(lightest);
            }
            s.Kept.Add(t);
        }
        s.Kept.Sort();
        foreach (int term in s.Kept)
        {
            s.SumTerms.Add((ushort)term);
            s.SumLevels.Add(s.Max[term]);
        }
        for (int i = 0; i < touched; i++) s.Max[s.Touched[i]] = 0;
    }

    private static ulong NextRandom(ref ulong state)
    {
        ulong z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
