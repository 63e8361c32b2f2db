using System.Collections.Concurrent;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using System.Text;
using Shoal.Engine.Search;
using Shoal.Engine.Segments;

namespace Shoal.Engine.Sparse;

/// <summary>
/// A read-only learned-sparse segment over a memory-mapped file, answering top-k by dot product.
/// </summary>
/// <remarks>
/// <para><b>Scores.</b> Every reported score is
/// <c>(float)(MaxWeight / 255 * Σ_t q_t · level_t)</c>, the sum over the query terms present in the
/// document, each product <c>(double)q_t * level_t</c> added in double in ascending term-id order.
/// Documents' weights are the stored u8 levels (see <see cref="SparseBuildOptions"/>), the query's are
/// used as given. The score of a (query, document) pair therefore depends on nothing else in the
/// segment: one shard or four give bit-identical scores, and <see cref="SearchExact"/>,
/// <see cref="SearchApproximate"/> and <see cref="SearchExhaustive"/> report the same score for the
/// same document. Ranking is by score descending, then doc id (= external id, ordinal) ascending.
/// Query terms that the segment does not know simply match nothing.</para>
/// <para><b>Memory.</b> Everything is read from the memory-mapped file; <see cref="IndexBytes"/> is what
/// search touches. A search borrows a pooled scratch (about 1 MB plus one bit per document).</para>
/// <para><b>Thread safety.</b> Any number of searches may run at once (per-call scratch, pooled).
/// Disposing while searches run is the caller's error.</para>
/// </remarks>
public sealed unsafe class SparseSegment : IDisposable
{
    private const int RangeSize = 1 << SparseSegmentWriter.RangeShift;

    // Non-essential terms may together bound at most this share of the k-th score: a larger share skips
    // more postings but lets more partially scored documents through to full scoring.
    private const double NonEssentialShare = 0.25;

    private readonly SegmentFile _file;
    private readonly SparseSegmentMeta _meta;
    private readonly double _scale;
    private readonly byte* _idBytes;
    private readonly long* _idOffsets;
    private readonly byte* _textBytes;
    private readonly long* _textOffsets;
    private readonly ulong* _textPresent;
    private readonly long* _fwdOffsets;
    private readonly byte* _fwd;
    private readonly int* _termRanges;
    private readonly SparseRangeEntry* _entries;
    private readonly byte* _postingData;
    private readonly int* _termBlocks;
    private readonly uint* _blockDocStarts;
    private readonly uint* _blockSummaryStarts;
    private readonly uint* _seismicDocs;
    private readonly ushort* _summaryTerms;
    private readonly byte* _summaryLevels;
    private readonly long _indexBytes;
    private readonly ConcurrentBag<SparseSearchScratch> _pool = [];
    private int _disposed;

    private SparseSegment(SegmentFile file)
    {
        _file = file;
        _meta = file.ReadStruct<SparseSegmentMeta>(SparseSections.Meta);
        var m = _meta;
        if (m.LayoutVersion != 1)
            throw Corrupt($"sparse layout version {m.LayoutVersion} is not supported (this build reads 1)");
        if (m.DocCount < 0 || m.PostingCount < 0 || m.VocabSize < 0 || m.VocabSize > 65536 || m.RangeShift != SparseSegmentWriter.RangeShift ||
            !float.IsFinite(m.MaxWeight) || m.MaxWeight <= 0 || m.RangeEntryCount < 0 || m.SeismicPostingCount < 0 ||
            m.SummaryEntryCount < 0 || m.BlockCount < 0)
            throw Corrupt("invalid sparse segment metadata");
        _scale = SparseLevels.Scale(m.MaxWeight);
        long d = m.DocCount, p = m.PostingCount, v = m.VocabSize, b = m.BlockCount;
        _idBytes = Require(SparseSections.IdBytes, -1, out long idBytesLength);
        _idOffsets = (long*)Require(SparseSections.IdOffsets, (d + 1) * 8, out _);
        _textBytes = Require(SparseSections.TextBytes, -1, out long textBytesLength);
        _textOffsets = (long*)Require(SparseSections.TextOffsets, (d + 1) * 8, out _);
        _textPresent = (ulong*)Require(SparseSections.TextPresent, (d + 63) / 64 * 8, out _);
        _fwdOffsets = (long*)Require(SparseSections.ForwardOffsets, (d + 1) * 8, out long a1);
        _fwd = Require(SparseSections.ForwardData, 3 * p + 16, out long a2);
        _termRanges = (int*)Require(SparseSections.TermRanges, (v + 1) * 4, out long a4);
        _entries = (SparseRangeEntry*)Require(SparseSections.RangeEntries, (long)m.RangeEntryCount * sizeof(SparseRangeEntry), out long a5);
        _postingData = Require(SparseSections.PostingData, -1, out long a6);
        _termBlocks = (int*)Require(SparseSections.TermBlocks, (v + 1) * 4, out long a8);
        _blockDocStarts = (uint*)Require(SparseSections.BlockDocStarts, (b + 1) * 4, out long a9);
        _blockSummaryStarts = (uint*)Require(SparseSections.BlockSummaryStarts, (b + 1) * 4, out long a10);
        _seismicDocs = (uint*)Require(SparseSections.SeismicDocs, m.SeismicPostingCount * 4, out long a11);
        _summaryTerms = (ushort*)Require(SparseSections.SummaryTerms, m.SummaryEntryCount * 2, out long a12);
        _summaryLevels = Require(SparseSections.SummaryLevels, m.SummaryEntryCount, out long a13);
        _indexBytes = a1 + a2 + a4 + a5 + a6 + a8 + a9 + a10 + a11 + a12 + a13;

        CheckOffsets(_idOffsets, d, idBytesLength, "id offsets");
        CheckOffsets(_textOffsets, d, textBytesLength, "text offsets");
        CheckOffsets(_fwdOffsets, d, p, "forward index offsets");
        int rangeCount = (int)((d + RangeSize - 1) >> SparseSegmentWriter.RangeShift);
        if (_termRanges[0] != 0 || _termRanges[v] != m.RangeEntryCount) throw Corrupt("term range directory does not cover the range entries");
        for (long t = 0; t < v; t++)
        {
            int e0 = _termRanges[t], e1 = _termRanges[t + 1];
            if (e1 < e0) throw Corrupt($"term {t}: range directory is not ascending");
            for (int e = e0; e < e1; e++)
            {
                var entry = _entries[e];
                int docsInRange = entry.Range < rangeCount ? (int)Math.Min(RangeSize, d - ((long)entry.Range << SparseSegmentWriter.RangeShift)) : 0;
                if (entry.Count <= 0 || entry.Count > docsInRange || entry.Kind > SparseRangeEntry.Dense || entry.Offset < 0 || (entry.Offset & 7) != 0 ||
                    entry.Offset + SparseRangeEntry.Bytes(entry.Kind, entry.Count, docsInRange) + 16 > a6 ||
                    (e > e0 && entry.Range <= _entries[e - 1].Range))
                    throw Corrupt($"term {t}: range entry {e} points outside the postings");
            }
        }
        if (_termBlocks[0] != 0 || _termBlocks[v] != b) throw Corrupt("term block directory does not cover the blocks");
        for (long t = 0; t < v; t++)
            if (_termBlocks[t + 1] < _termBlocks[t]) throw Corrupt($"term {t}: block directory is not ascending");
        if (_blockDocStarts[0] != 0 || _blockDocStarts[b] != m.SeismicPostingCount ||
            _blockSummaryStarts[0] != 0 || _blockSummaryStarts[b] != m.SummaryEntryCount)
            throw Corrupt("block directory does not cover the Seismic postings");
        for (long i = 0; i < b; i++)
            if (_blockDocStarts[i + 1] < _blockDocStarts[i] || _blockSummaryStarts[i + 1] < _blockSummaryStarts[i])
                throw Corrupt($"block {i}: offsets are not ascending");
        for (long i = 0; i < m.SeismicPostingCount; i++)
            if (_seismicDocs[i] >= (uint)d) throw Corrupt($"Seismic posting {i} names doc {_seismicDocs[i]} of {d}");
    }

    private CorruptSegmentException Corrupt(string reason) => new(_file.FilePath, reason);

    private byte* Require(uint section, long expectedBytes, out long length)
    {
        byte* p = _file.SectionPointer(section, out length);
        if (expectedBytes >= 0 && length != expectedBytes)
            throw Corrupt($"section {section} has {length} bytes, expected {expectedBytes}");
        return p;
    }

    private void CheckOffsets(long* offsets, long count, long total, string what)
    {
        if (offsets[0] != 0 || offsets[count] != total) throw Corrupt($"{what} do not cover their data");
        for (long i = 0; i < count; i++)
            if (offsets[i + 1] < offsets[i]) throw Corrupt($"{what} are not ascending at {i}");
    }

    /// <summary>Opens and validates a sparse segment; a truncated or corrupt file is refused with a
    /// <see cref="CorruptSegmentException"/> naming it.</summary>
    /// <param name="path">The segment file.</param>
    /// <param name="verifyChecksums">Hash every section and compare with the directory (a sequential read of the file).</param>
    public static SparseSegment Open(string path, bool verifyChecksums = true)
    {
        var file = SegmentFile.Open(path, SegmentKind.Sparse, verifyChecksums);
        try { return new SparseSegment(file); }
        catch { file.Dispose(); throw; }
    }

    /// <summary>The file behind this segment.</summary>
    public string FilePath => _file.FilePath;

    /// <summary>Documents in this segment.</summary>
    public int DocCount => _meta.DocCount;

    /// <summary>Non-zero (document, term) entries: postings of the exact index, also the forward index size.</summary>
    public long PostingCount => _meta.PostingCount;

    /// <summary>Size of the segment file in bytes.</summary>
    public long SizeBytes => _file.Length;

    /// <summary>
    /// Bytes of everything search reads: forward index, exact postings and their directory, Seismic
    /// blocks and summaries (not ids or stored texts, which are read only for returned hits).
    /// </summary>
    public long IndexBytes => _indexBytes;

    /// <summary>The index-wide quantisation scale the levels were computed with (level 255 = MaxWeight).</summary>
    public float MaxWeight => _meta.MaxWeight;

    /// <summary>One more than the largest term id stored in this segment.</summary>
    public int VocabSize => _meta.VocabSize;

    /// <summary>Postings kept in the Seismic (pruned) lists.</summary>
    public long SeismicPostingCount => _meta.SeismicPostingCount;

    /// <summary>Seismic blocks over all terms.</summary>
    public int BlockCount => _meta.BlockCount;

    /// <summary>Entries of all block summaries.</summary>
    public long SummaryEntryCount => _meta.SummaryEntryCount;

    /// <summary>External id of a segment-local document.</summary>
    public string GetId(int doc)
    {
        CheckDoc(doc);
        return ReadString(_idBytes, _idOffsets, doc);
    }

    /// <summary>Stored text of a document, or <see langword="null"/> when it had none.</summary>
    public string? GetText(int doc)
    {
        CheckDoc(doc);
        return (_textPresent[doc >> 6] & (1UL << (doc & 63))) == 0 ? null : ReadString(_textBytes, _textOffsets, doc);
    }

    /// <summary>The document's stored vector: its terms with the de-quantised weights <c>level * MaxWeight / 255</c>.</summary>
    public SparseVector GetVector(int doc)
    {
        CheckDoc(doc);
        long from = _fwdOffsets[doc];
        int n = (int)(_fwdOffsets[doc + 1] - from);
        var terms = new int[n];
        var weights = new float[n];
        ushort* fwdTerms = (ushort*)(_fwd + 3 * from);
        byte* fwdLevels = _fwd + 3 * from + 2L * n;
        for (int i = 0; i < n; i++)
        {
            terms[i] = fwdTerms[i];
            weights[i] = (float)(fwdLevels[i] * _scale);
        }
        return new SparseVector(terms, weights);
    }

    /// <summary>The segment-local doc id of an external id, or -1 (binary search over the ordinal-sorted ids).</summary>
    public int FindDocument(string id)
    {
        ArgumentNullException.ThrowIfNull(id);
        int lo = 0, hi = _meta.DocCount - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            int c = string.CompareOrdinal(ReadString(_idBytes, _idOffsets, mid), id);
            if (c == 0) return mid;
            if (c < 0) lo = mid + 1; else hi = mid - 1;
        }
        return -1;
    }

    /// <summary>The score this segment gives <paramref name="doc"/> for <paramref name="query"/> (the rule in the remarks).</summary>
    public float Score(SparseVector query, int doc)
    {
        CheckDoc(doc);
        var scratch = Rent(query);
        try
        {
            fixed (float* qd = scratch.QueryDense) return CanonicalScore(doc, qd);
        }
        finally { Return(scratch, query); }
    }

    private void CheckDoc(int doc)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        if ((uint)doc >= (uint)_meta.DocCount)
            throw new ArgumentOutOfRangeException(nameof(doc), doc, $"Doc id must be in [0, {_meta.DocCount}).");
    }

    private static string ReadString(byte* bytes, long* offsets, int index)
    {
        long from = offsets[index], to = offsets[index + 1];
        return Encoding.UTF8.GetString(bytes + from, checked((int)(to - from)));
    }

    // ---------------------------------------------------------------- exact

    /// <summary>
    /// Exact top-k over the quantised weights; equal (ids and scores) to <see cref="SearchExhaustive"/>.
    /// </summary>
    /// <remarks>
    /// Term-at-a-time within doc-id ranges of 2^16 documents (a float accumulator of 256 KB that stays
    /// in cache; dense and bitmap-encoded postings are added with SIMD), with block-max MaxScore pruning
    /// per range: from each query term's largest level in the range, a range whose bound cannot beat the
    /// current k-th score is skipped, and the weakest terms whose bounds together stay below a quarter of
    /// it are not accumulated ("non-essential"). Only documents whose partial score plus that bound can
    /// still enter the top k (with a margin that covers float rounding) are scored in full, through the
    /// forward index in the canonical order, so the result equals <see cref="SearchExhaustive"/> exactly.
    /// While the heap is not yet full, a range's own k-th best partial score is the cut.
    /// </remarks>
    public ScoredDoc[] SearchExact(SparseVector query, int k)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        k = Math.Min(k, Math.Max(1, _meta.DocCount));
        var scratch = Rent(query);
        try
        {
            return ExactCore(query, k, scratch);
        }
        finally { Return(scratch, query); }
    }

    private ScoredDoc[] ExactCore(SparseVector query, int k, SparseSearchScratch s)
    {
        int nq = 0;
        s.Ensure(query.Count);
        for (int i = 0; i < query.Count; i++)
        {
            int t = query.Terms[i];
            if (t >= _meta.VocabSize || _termRanges[t + 1] == _termRanges[t]) continue;
            s.Terms[nq] = t;
            s.Weights[nq] = query.Weights[i];
            s.Cursor[nq] = _termRanges[t];
            s.End[nq] = _termRanges[t + 1];
            nq++;
        }
        if (nq == 0) return [];
        var heap = new TopKHeap(k);
        double scale = _scale;
        double relTol = (nq + 2) * 2.4e-7 + 1e-6;
        double threshold = double.NegativeInfinity; // unscaled: a doc must reach it to enter the heap
        int docCount = _meta.DocCount;
        int rangeCount = (docCount + RangeSize - 1) >> SparseSegmentWriter.RangeShift;
        if (s.KHeap.Length < k) s.KHeap = new float[Math.Max(k, s.KHeap.Length * 2)];

        fixed (float* tables = s.Tables)
        fixed (float* acc = s.Accumulator)
        fixed (int* candidates = s.Candidates)
        fixed (float* qd = s.QueryDense)
        {
            for (int i = 0; i < nq; i++)
            {
                float* tab = tables + i * 256;
                double w = s.Weights[i];
                for (int level = 0; level < 256; level++) tab[level] = (float)(w * level);
            }
            int[] active = s.Active;
            double[] bound = s.Bound;
            for (int r = 0; r < rangeCount; r++)
            {
                int na = 0;
                for (int i = 0; i < nq; i++)
                {
                    int c = s.Cursor[i];
                    if (c < s.End[i] && _entries[c].Range == r)
                    {
                        // Insertion by bound ascending.
                        double ub = (double)s.Weights[i] * _entries[c].MaxLevel;
                        int j = na++;
                        while (j > 0 && bound[j - 1] > ub) { bound[j] = bound[j - 1]; active[j] = active[j - 1]; j--; }
                        bound[j] = ub;
                        active[j] = i;
                    }
                }
                if (na == 0) continue;
                int baseDoc = r << SparseSegmentWriter.RangeShift;
                int docsInRange = Math.Min(RangeSize, docCount - baseDoc);
                bool full = heap.IsFull;
                double total = 0;
                for (int j = 0; j < na; j++) total += bound[j];
                if (full && total < threshold)
                {
                    for (int j = 0; j < na; j++) s.Cursor[active[j]]++;
                    continue;
                }
                int firstEssential = 0;
                double nonEssential = 0;
                if (full)
                {
                    while (firstEssential < na - 1 && nonEssential + bound[firstEssential] < threshold * NonEssentialShare)
                        nonEssential += bound[firstEssential++];
                }
                new Span<float>(acc, docsInRange).Clear();
                for (int j = firstEssential; j < na; j++)
                {
                    int i = active[j];
                    AccumulateEntry(acc, _entries[s.Cursor[i]], docsInRange, s.Weights[i], tables + i * 256);
                }
                for (int j = 0; j < na; j++) s.Cursor[active[j]]++;

                float cut;
                if (full)
                {
                    cut = (float)((threshold - nonEssential) / (1 + relTol) * (1 - 1e-7));
                }
                else
                {
                    // The heap is not full yet, so every term was accumulated: a doc below this range's
                    // k-th best cannot be in the top k.
                    float kth = KthLargest(acc, docsInRange, k, s.KHeap);
                    cut = (float)(kth * (1 - 2 * relTol));
                }
                if (!(cut > 0)) cut = float.Epsilon;
                int nc = Scan(acc, docsInRange, cut, candidates);
                for (int c = 0; c < nc; c++)
                {
                    int low = candidates[c];
                    int doc = baseDoc + low;
                    if (heap.IsFull)
                    {
                        if (acc[low] * (1 + relTol) + nonEssential < threshold) continue;
                        if (ApproximateSum(doc, qd) * (1 + (_fwdOffsets[doc + 1] - _fwdOffsets[doc] + 4) * 2.4e-7) < threshold) continue;
                    }
                    if (heap.TryAdd(doc, CanonicalScore(doc, qd)) && heap.IsFull)
                        threshold = heap.Threshold / scale * (1 - 1e-6);
                }
            }
        }
        return heap.ToSortedArray();
    }

    private void AccumulateEntry(float* acc, SparseRangeEntry e, int docsInRange, float weight, float* table)
    {
        byte* data = _postingData + e.Offset;
        switch (e.Kind)
        {
            case SparseRangeEntry.Sparse:
                Accumulate(acc, (ushort*)data, data + 2L * e.Count, e.Count, table);
                break;
            case SparseRangeEntry.Bitmap:
                int words = (docsInRange + 63) >> 6;
                if (8L * e.Count >= docsInRange && SparseKernels.IsAccelerated)
                    SparseKernels.AccumulateBitmapExpand(acc, (ulong*)data, words, data + 8L * words, weight);
                else
                    SparseKernels.AccumulateBitmapBits(acc, (ulong*)data, words, data + 8L * words, table);
                break;
            default:
                SparseKernels.AccumulateDense(acc, data, docsInRange, weight);
                break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Accumulate(float* acc, ushort* docs, byte* levels, int count, float* table)
    {
        int i = 0;
        for (; i + 4 <= count; i += 4)
        {
            acc[docs[i]] += table[levels[i]];
            acc[docs[i + 1]] += table[levels[i + 1]];
            acc[docs[i + 2]] += table[levels[i + 2]];
            acc[docs[i + 3]] += table[levels[i + 3]];
        }
        for (; i < count; i++) acc[docs[i]] += table[levels[i]];
    }

    // Positions with acc >= cut (cut > 0), ascending.
    private static int Scan(float* acc, int n, float cut, int* output)
    {
        int count = 0, i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var vc = Vector256.Create(cut);
            for (; i + 8 <= n; i += 8)
            {
                uint mask = Vector256.GreaterThanOrEqual(Vector256.Load(acc + i), vc).ExtractMostSignificantBits();
                while (mask != 0)
                {
                    output[count++] = i + BitOperations.TrailingZeroCount(mask);
                    mask &= mask - 1;
                }
            }
        }
        for (; i < n; i++)
            if (acc[i] >= cut) output[count++] = i;
        return count;
    }

    // The k-th largest positive value (0 when fewer than k are positive), with a min-heap of size k.
    private static float KthLargest(float* acc, int n, int k, float[] heap)
    {
        int size = 0;
        for (int i = 0; i < n; i++)
        {
            float v = acc[i];
            if (v <= 0) continue;
            if (size < k)
            {
                int j = size++;
                while (j > 0 && heap[(j - 1) >> 1] > v) { heap[j] = heap[(j - 1) >> 1]; j = (j - 1) >> 1; }
                heap[j] = v;
            }
            else if (v > heap[0])
            {
                int j = 0;
                while (true)
                {
                    int child = 2 * j + 1;
                    if (child >= k) break;
                    if (child + 1 < k && heap[child + 1] < heap[child]) child++;
                    if (heap[child] >= v) break;
                    heap[j] = heap[child];
                    j = child;
                }
                heap[j] = v;
            }
        }
        return size < k ? 0 : heap[0];
    }

    // The canonical score: Σ (double)q·level in ascending term order (forward-index order), times MaxWeight/255.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private float CanonicalScore(int doc, float* qd)
    {
        long from = _fwdOffsets[doc];
        int n = (int)(_fwdOffsets[doc + 1] - from);
        ushort* terms = (ushort*)(_fwd + 3 * from);
        byte* levels = _fwd + 3 * from + 2L * n;
        double sum = 0;
        for (int p = 0; p < n; p++)
        {
            float q = qd[terms[p]];
            if (q != 0) sum += (double)q * levels[p];
        }
        return (float)(sum * _scale);
    }

    // A fast float estimate of Σ q·level (four independent sums); within (n + 4)·2^-22 relative of the exact sum.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private float ApproximateSum(int doc, float* qd)
    {
        long from = _fwdOffsets[doc];
        int n = (int)(_fwdOffsets[doc + 1] - from);
        ushort* terms = (ushort*)(_fwd + 3 * from);
        byte* levels = _fwd + 3 * from + 2L * n;
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        int i = 0;
        for (; i + 4 <= n; i += 4)
        {
            s0 += qd[terms[i]] * levels[i];
            s1 += qd[terms[i + 1]] * levels[i + 1];
            s2 += qd[terms[i + 2]] * levels[i + 2];
            s3 += qd[terms[i + 3]] * levels[i + 3];
        }
        for (; i < n; i++) s0 += qd[terms[i]] * levels[i];
        return (s0 + s1) + (s2 + s3);
    }

    // ---------------------------------------------------------------- exhaustive

    /// <summary>
    /// Brute force: scores every posting of every query term into a dense accumulator. The reference that
    /// <see cref="SearchExact"/> equals; for tests and diagnostics, not serving.
    /// </summary>
    public ScoredDoc[] SearchExhaustive(SparseVector query, int k)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        k = Math.Min(k, Math.Max(1, _meta.DocCount));
        ValidateQuery(query);
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        int docCount = _meta.DocCount;
        int rangeCount = (docCount + RangeSize - 1) >> SparseSegmentWriter.RangeShift;
        var acc = new double[(long)rangeCount << SparseSegmentWriter.RangeShift];
        var lows = new int[RangeSize];
        var levels = new byte[RangeSize];
        for (int i = 0; i < query.Count; i++)
        {
            int t = query.Terms[i];
            if (t >= _meta.VocabSize) continue;
            double w = query.Weights[i];
            for (int e = _termRanges[t]; e < _termRanges[t + 1]; e++)
            {
                var entry = _entries[e];
                int baseDoc = entry.Range << SparseSegmentWriter.RangeShift;
                int docsInRange = Math.Min(RangeSize, docCount - baseDoc);
                int n = Decode(entry, docsInRange, lows, levels);
                for (int x = 0; x < n; x++) acc[baseDoc + lows[x]] += w * levels[x];
            }
        }
        var heap = new TopKHeap(k);
        for (int d = 0; d < docCount; d++)
            if (acc[d] > 0) heap.TryAdd(d, (float)(acc[d] * _scale));
        return heap.ToSortedArray();
    }

    // Decodes an entry into (doc offset within the range, level) pairs, docs ascending.
    private int Decode(SparseRangeEntry e, int docsInRange, int[] lows, byte[] levels)
    {
        byte* data = _postingData + e.Offset;
        int n = 0;
        switch (e.Kind)
        {
            case SparseRangeEntry.Sparse:
                for (int x = 0; x < e.Count; x++)
                {
                    lows[x] = ((ushort*)data)[x];
                    levels[x] = data[2L * e.Count + x];
                }
                return e.Count;
            case SparseRangeEntry.Bitmap:
                int words = (docsInRange + 63) >> 6;
                for (int w = 0; w < words; w++)
                {
                    ulong bits = ((ulong*)data)[w];
                    while (bits != 0 && n < e.Count)
                    {
                        lows[n] = (w << 6) + BitOperations.TrailingZeroCount(bits);
                        levels[n] = data[8L * words + n];
                        n++;
                        bits &= bits - 1;
                    }
                }
                return n;
            default:
                for (int x = 0; x < docsInRange; x++)
                {
                    if (data[x] == 0) continue;
                    lows[n] = x;
                    levels[n++] = data[x];
                }
                return n;
        }
    }

    // ---------------------------------------------------------------- approximate

    /// <summary>
    /// Seismic approximate top-k: visits the blocks of the query's <see cref="SeismicSearchParameters.QueryTermCut"/>
    /// highest-weighted terms (heaviest first), skipping a block when the heap is full and the dot product
    /// of the query with the block summary is below threshold / <see cref="SeismicSearchParameters.HeapFactor"/>;
    /// every not yet visited document of a visited block is scored exactly through the forward index.
    /// Scores are the canonical ones (equal to <see cref="SearchExact"/>'s for the same document).
    /// </summary>
    public ScoredDoc[] SearchApproximate(SparseVector query, int k, SeismicSearchParameters parameters)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        k = Math.Min(k, Math.Max(1, _meta.DocCount));
        ArgumentNullException.ThrowIfNull(parameters);
        parameters.Validate();
        var scratch = Rent(query);
        try
        {
            return ApproximateCore(query, k, parameters, scratch);
        }
        finally { Return(scratch, query); }
    }

    private ScoredDoc[] ApproximateCore(SparseVector query, int k, SeismicSearchParameters parameters, SparseSearchScratch s)
    {
        // The query's highest-weighted terms (ties: lower term id) among those the segment has blocks for.
        int nq = 0;
        s.Ensure(query.Count);
        for (int i = 0; i < query.Count; i++)
        {
            int t = query.Terms[i];
            if (t >= _meta.VocabSize || _termBlocks[t + 1] == _termBlocks[t]) continue;
            s.Terms[nq] = t;
            s.Weights[nq] = query.Weights[i];
            nq++;
        }
        if (nq == 0) return [];
        int cut = Math.Min(nq, parameters.QueryTermCut);
        var order = s.Active;
        for (int i = 0; i < nq; i++) order[i] = i;
        Array.Sort(order, 0, nq, Comparer<int>.Create((a, b) =>
            s.Weights[a] != s.Weights[b] ? s.Weights[b].CompareTo(s.Weights[a]) : s.Terms[a].CompareTo(s.Terms[b])));

        var heap = new TopKHeap(k);
        double scale = _scale;
        double threshold = double.NegativeInfinity;  // unscaled score a doc must reach
        float blockThreshold = float.NegativeInfinity; // unscaled summary dot a block must reach
        double heapFactor = parameters.HeapFactor;
        Array.Clear(s.Visited);
        int[] pending = s.Pending;
        fixed (float* qd = s.QueryDense)
        fixed (ulong* visited = s.Visited)
        {
            for (int x = 0; x < cut; x++)
            {
                int t = s.Terms[order[x]];
                int b1 = _termBlocks[t + 1];
                for (int b = _termBlocks[t]; b < b1; b++)
                {
                    if (heap.IsFull && SummaryDot(b, qd) < blockThreshold) continue;
                    // Collect the block's unvisited documents and prefetch their forward-index regions, so
                    // that the (random) memory accesses of the whole block overlap.
                    uint p0 = _blockDocStarts[b], p1 = _blockDocStarts[b + 1];
                    if (pending.Length < p1 - p0) pending = s.Pending = new int[p1 - p0];
                    int m = 0;
                    for (uint p = p0; p < p1; p++)
                    {
                        uint doc = _seismicDocs[p];
                        ulong bit = 1UL << (int)(doc & 63);
                        ulong word = visited[doc >> 6];
                        if ((word & bit) != 0) continue;
                        visited[doc >> 6] = word | bit;
                        pending[m++] = (int)doc;
                        if (Sse.IsSupported) Sse.Prefetch0(_fwdOffsets + doc);
                    }
                    if (Sse.IsSupported)
                    {
                        for (int i = 0; i < m; i++) PrefetchDocument(pending[i]);
                    }
                    for (int i = 0; i < m; i++)
                    {
                        int doc = pending[i];
                        if (heap.IsFull && ApproximateSum(doc, qd) * (1 + (_fwdOffsets[doc + 1] - _fwdOffsets[doc] + 4) * 2.4e-7) < threshold)
                            continue;
                        if (heap.TryAdd(doc, CanonicalScore(doc, qd)) && heap.IsFull)
                        {
                            threshold = heap.Threshold / scale * (1 - 1e-6);
                            blockThreshold = (float)(heap.Threshold / (scale * heapFactor));
                        }
                    }
                }
            }
        }
        return heap.ToSortedArray();
    }

    // Brings a document's forward-index entries towards the cache.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void PrefetchDocument(int doc)
    {
        long from = _fwdOffsets[doc];
        byte* start = _fwd + 3 * from;
        byte* end = _fwd + 3 * _fwdOffsets[doc + 1];
        for (byte* line = (byte*)((nint)start & ~(nint)63); line < end; line += 64) Sse.Prefetch0(line);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private float SummaryDot(int block, float* qd)
    {
        uint from = _blockSummaryStarts[block], to = _blockSummaryStarts[block + 1];
        ushort* terms = _summaryTerms;
        byte* levels = _summaryLevels;
        float s0 = 0, s1 = 0;
        uint p = from;
        for (; p + 2 <= to; p += 2)
        {
            s0 += qd[terms[p]] * levels[p];
            s1 += qd[terms[p + 1]] * levels[p + 1];
        }
        if (p < to) s0 += qd[terms[p]] * levels[p];
        return s0 + s1;
    }

    // ---------------------------------------------------------------- scratch

    private static void ValidateQuery(SparseVector query)
    {
        try
        {
            query.Validate();
        }
        catch (SparseVectorException ex)
        {
            throw new ArgumentException($"Invalid query vector: {ex.Message}", nameof(query), ex);
        }
    }

    private SparseSearchScratch Rent(SparseVector query)
    {
        ValidateQuery(query);
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        if (!_pool.TryTake(out var scratch)) scratch = new SparseSearchScratch(_meta.DocCount);
        var qd = scratch.QueryDense;
        for (int i = 0; i < query.Count; i++)
        {
            int t = query.Terms[i];
            if (t < qd.Length) qd[t] = query.Weights[i];
        }
        return scratch;
    }

    private void Return(SparseSearchScratch scratch, SparseVector query)
    {
        scratch.ResetQuery(query.Terms ?? []);
        if (_pool.Count < 4 * Environment.ProcessorCount) _pool.Add(scratch);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _file.Dispose();
    }
}
