using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using System.Text;
using Shoal.Engine.Search;
using Shoal.Engine.Segments;

namespace Shoal.Engine.Dense;

/// <summary>
/// A read-only dense-vector segment over a memory-mapped file: vectors in doc order (ordinal order of
/// their external ids) stored as float32, binary16 or int8, and optionally an HNSW graph.
/// </summary>
/// <remarks>
/// <para>Scores are inner products of the (for cosine: normalised) query with the stored vectors, computed
/// in one canonical order (see <see cref="DenseKernels"/>), so <see cref="SearchExact"/>,
/// <see cref="SearchExactBatch(ReadOnlySpan{float}, int)"/> and <see cref="SearchApproximate(ReadOnlySpan{float}, int, int)"/>
/// give bit-identical scores for the same document. Results rank by score descending, then doc id ascending
/// (= external id ascending).</para>
/// <para>A segment with float32 originals (<see cref="HasOriginals"/>, the default for int8 storage) ranks by
/// its compact rows, rescores the best <c>ceil(k * oversample)</c> candidates with the originals and returns
/// exact float32 scores, bit-identical to those of a <see cref="DenseStorage.Float32"/> segment of the same
/// vectors; the overloads with an <c>oversample</c> argument override the segment's <see cref="Oversample"/>.</para>
/// <para>Thread-safe: any number of searches may run at once; each thread reuses its own scratch buffers.
/// Disposing while searches run is not allowed (callers reference-count segments).</para>
/// </remarks>
public sealed unsafe class DenseSegment : IDisposable
{
    private const int BatchBlockBytes = 96 * 1024;
    private const int WholeRowPrefetchBytes = 512;

    private readonly SegmentFile _file;
    private readonly DenseSegmentMeta _meta;
    private readonly byte* _vectors;
    private readonly nint _rowBytes;
    private readonly float* _scales;
    private readonly byte* _idBytes;
    private readonly long* _idOffsets;
    private readonly long _idBytesLength;
    private readonly int* _links0;
    private readonly int _links0Stride;
    private readonly byte* _levels;
    private readonly int* _upperOffsets;
    private readonly int* _upperLinks;
    private readonly sbyte* _navCodes;
    private readonly float* _navScales;
    private readonly float* _originals;
    private readonly float _oversample;

    private DenseSegment(SegmentFile file)
    {
        _file = file;
        _meta = file.ReadStruct<DenseSegmentMeta>(DenseSections.Meta);
        var m = _meta;
        if (m.Count < 0 || m.Dims < 1 || m.Dims > 65536 || !Enum.IsDefined((DenseMetric)m.Metric) || !Enum.IsDefined((DenseStorage)m.Storage))
            throw new CorruptSegmentException(file.FilePath, "invalid dense segment metadata");
        int element = DenseSegmentWriter.ElementSize((DenseStorage)m.Storage);
        _rowBytes = (nint)m.Dims * element;
        _vectors = Require(DenseSections.Vectors, (long)m.Count * _rowBytes);
        if ((DenseStorage)m.Storage == DenseStorage.Int8) _scales = (float*)Require(DenseSections.Scales, m.Count * 4L);
        _oversample = DenseBuildOptions.DefaultOversample;
        if (file.HasSection(DenseSections.Rescore))
        {
            var r = file.ReadStruct<DenseRescoreMeta>(DenseSections.Rescore);
            if (!float.IsFinite(r.Oversample) || r.Oversample < 1 || (uint)r.HasOriginals > 1 ||
                (r.HasOriginals != 0) != file.HasSection(DenseSections.Originals) ||
                (r.HasOriginals != 0 && (DenseStorage)m.Storage == DenseStorage.Float32))
                throw new CorruptSegmentException(file.FilePath, "invalid dense rescoring metadata");
            _oversample = r.Oversample;
            if (r.HasOriginals != 0) _originals = (float*)Require(DenseSections.Originals, (long)m.Count * m.Dims * 4);
        }
        _idBytes = file.SectionPointer(DenseSections.IdBytes, out _idBytesLength);
        _idOffsets = (long*)Require(DenseSections.IdOffsets, (m.Count + 1L) * 8);
        if (_idOffsets[0] != 0 || _idOffsets[m.Count] != _idBytesLength)
            throw new CorruptSegmentException(file.FilePath, "id offsets do not match the id bytes");
        if (m.HasAnn != 0)
        {
            if (m.M < 2 || m.M > 256 || m.MaxM0 != 2 * m.M || m.Count == 0 || m.EntryPoint < 0 || m.EntryPoint >= m.Count ||
                m.MaxLevel < 0 || m.MaxLevel > 64 || m.UpperLinkCount < 0)
                throw new CorruptSegmentException(file.FilePath, "invalid HNSW metadata");
            _links0Stride = m.MaxM0 + 1;
            _links0 = (int*)Require(DenseSections.Links0, (long)m.Count * _links0Stride * 4);
            _levels = Require(DenseSections.Levels, m.Count);
            _upperOffsets = (int*)Require(DenseSections.UpperOffsets, m.Count * 4L);
            _upperLinks = (int*)Require(DenseSections.UpperLinks, m.UpperLinkCount * 4);
            if (_levels[m.EntryPoint] != m.MaxLevel) throw new CorruptSegmentException(file.FilePath, "HNSW entry point is not on the top layer");
            if (m.HasNavigation != 0)
            {
                _navCodes = (sbyte*)Require(DenseSections.NavCodes, (long)m.Count * m.Dims);
                _navScales = (float*)Require(DenseSections.NavScales, m.Count * 4L);
            }
        }
    }

    private byte* Require(uint section, long expectedBytes)
    {
        byte* p = _file.SectionPointer(section, out long length);
        if (length != expectedBytes)
            throw new CorruptSegmentException(_file.FilePath, $"section {section} has {length} bytes, expected {expectedBytes}");
        return p;
    }

    /// <summary>Opens and validates a dense segment file; a truncated or corrupt file throws <see cref="CorruptSegmentException"/> naming it.</summary>
    public static DenseSegment Open(string path, bool verifyChecksums = true)
    {
        var file = SegmentFile.Open(path, SegmentKind.Dense, verifyChecksums);
        try { return new DenseSegment(file); }
        catch { file.Dispose(); throw; }
    }

    /// <summary>The file behind this segment.</summary>
    public string FilePath => _file.FilePath;

    /// <summary>Size of the segment file in bytes.</summary>
    public long SizeBytes => _file.Length;

    /// <summary>Vectors in this segment.</summary>
    public int Count => _meta.Count;

    /// <summary>Dimensions of every vector (and of queries).</summary>
    public int Dims => _meta.Dims;

    /// <summary>The scoring function.</summary>
    public DenseMetric Metric => (DenseMetric)_meta.Metric;

    /// <summary>How the vectors are stored.</summary>
    public DenseStorage Storage => (DenseStorage)_meta.Storage;

    /// <summary>True when the segment holds an HNSW graph (else <see cref="SearchApproximate"/> is exact).</summary>
    public bool HasAnnIndex => _meta.HasAnn != 0;

    /// <summary>True when graph searches traverse an int8 copy of the vectors (see <see cref="DenseBuildOptions.Int8Navigation"/>).</summary>
    public bool HasInt8Navigation => _navCodes is not null;

    /// <summary>The graph's parameters, or null without a graph.</summary>
    public HnswParameters? AnnParameters => HasAnnIndex ? new HnswParameters(_meta.M, _meta.EfConstruction, _meta.Seed) : null;

    /// <summary>
    /// Bytes per stored vector that a flat scan reads (row plus, for int8, its scale), not counting the graph,
    /// the navigation copy or the float32 originals (<see cref="HasOriginals"/>: <c>4 * Dims</c> more, read only to rescore).
    /// </summary>
    public int BytesPerVector => (int)_rowBytes + (_scales is null ? 0 : 4);

    /// <summary>
    /// True when the segment keeps the float32 originals of its int8 or binary16 rows (see
    /// <see cref="DenseBuildOptions.StoreOriginals"/>): searches then return exact float32 scores.
    /// </summary>
    public bool HasOriginals => _originals is not null;

    /// <summary>
    /// The default oversample factor of searches that rescore (<see cref="DenseBuildOptions.Oversample"/> at build time):
    /// flat searches of a segment with originals, and graph searches of a segment with originals or an int8 navigation copy.
    /// </summary>
    public float Oversample => _oversample;

    /// <summary>
    /// How many candidates a rescoring search for <paramref name="k"/> results takes by the compact rows:
    /// <c>ceil(k * oversample)</c>, at least <see cref="DenseBuildOptions.MinOversampledCandidates"/> when
    /// <paramref name="oversample"/> exceeds 1, and at most <see cref="Count"/> (and never fewer than <c>min(k, Count)</c>).
    /// </summary>
    public int RescoreCandidates(int k, float oversample)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        CheckOversample(oversample);
        return Candidates(k, oversample);
    }

    private int Candidates(int k, float oversample)
    {
        double c = Math.Ceiling(k * (double)oversample);
        if (oversample > 1) c = Math.Max(c, DenseBuildOptions.MinOversampledCandidates);
        return (int)Math.Min(Math.Max(c, k), Count);
    }

    private static void CheckOversample(float oversample)
    {
        if (!float.IsFinite(oversample) || oversample < 1)
            throw new ArgumentOutOfRangeException(nameof(oversample), oversample, "Oversample must be finite and at least 1.");
    }

    /// <summary>External id of a segment-local document.</summary>
    public string GetId(int doc)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(doc);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(doc, Count);
        long from = _idOffsets[doc], to = _idOffsets[doc + 1];
        if (from < 0 || to < from || to > _idBytesLength) throw new CorruptSegmentException(FilePath, $"id offsets of doc {doc} are invalid");
        return Encoding.UTF8.GetString(_idBytes + from, checked((int)(to - from)));
    }

    /// <summary>The segment-local doc id of an external id, or -1 (binary search over the ordinal-sorted ids).</summary>
    public int FindDocument(string id)
    {
        ArgumentNullException.ThrowIfNull(id);
        int lo = 0, hi = Count - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            int c = string.CompareOrdinal(GetId(mid), id);
            if (c == 0) return mid;
            if (c < 0) lo = mid + 1; else hi = mid - 1;
        }
        return -1;
    }

    /// <summary>
    /// The stored vector of <paramref name="doc"/> as float32 (normalised for cosine): the float32 original when
    /// the segment has one (<see cref="HasOriginals"/>), else the decoded row (int8: scale times codes).
    /// </summary>
    public float[] GetVector(int doc)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(doc);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(doc, Count);
        if (_originals is not null) return new ReadOnlySpan<float>(_originals + (nint)doc * Dims, Dims).ToArray();
        var v = new float[Dims];
        byte* row = _vectors + doc * _rowBytes;
        for (int i = 0; i < v.Length; i++)
        {
            v[i] = Storage switch
            {
                DenseStorage.Float32 => ((float*)row)[i],
                DenseStorage.Float16 => (float)((Half*)row)[i],
                _ => _scales[doc] * ((sbyte*)row)[i],
            };
        }
        return v;
    }

    // ---- exact, one query -------------------------------------------------------------------

    /// <summary>
    /// The exact top <paramref name="k"/> by a flat scan of every vector (SIMD, single thread, reading
    /// the rows once in order). Returns at most <see cref="Count"/> results, best first. With float32
    /// originals (<see cref="HasOriginals"/>) the scan ranks by the compact rows and the segment's
    /// <see cref="Oversample"/> decides how many candidates are rescored (see <see cref="SearchExact(ReadOnlySpan{float}, int, float)"/>).
    /// </summary>
    /// <exception cref="ArgumentException">The query has the wrong length or a non-finite component.</exception>
    public ScoredDoc[] SearchExact(ReadOnlySpan<float> query, int k) => SearchExact(query, k, _oversample);

    /// <summary>
    /// As <see cref="SearchExact(ReadOnlySpan{float}, int)"/> with this search's own oversample factor. With
    /// originals the scan keeps the best <see cref="RescoreCandidates"/><c>(k, oversample)</c> documents by their
    /// int8 (or binary16) scores, scores those with the float32 originals, and returns the top <paramref name="k"/>
    /// of them with exact float32 scores; without originals <paramref name="oversample"/> is checked and ignored.
    /// </summary>
    /// <param name="query">The query vector (<see cref="Dims"/> finite floats).</param>
    /// <param name="k">Results wanted.</param>
    /// <param name="oversample">Candidates per result to rescore: finite, at least 1 (1 rescores exactly <c>k</c>).</param>
    public ScoredDoc[] SearchExact(ReadOnlySpan<float> query, int k, float oversample)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        CheckOversample(oversample);
        var scratch = DenseSearchScratch.Current;
        PrepareQuery(query, scratch);
        return ScanPrepared(scratch.Query, k, oversample);
    }

    /// <summary>The flat scan for a query that is already prepared (checked and, for cosine, normalised).</summary>
    private ScoredDoc[] ScanPrepared(float[] query, int k, float oversample)
    {
        if (Count == 0) return [];
        var heap = new TopKHeap(_originals is null ? Math.Min(k, Count) : Candidates(k, oversample));
        fixed (float* q = query)
        {
            switch (Storage)
            {
                case DenseStorage.Float32: Scan<Float32Codec>(q, heap); break;
                case DenseStorage.Float16: Scan<Float16Codec>(q, heap); break;
                default: Scan<Int8Codec>(q, heap); break;
            }
            return _originals is null ? heap.ToSortedArray() : RescoreWithOriginals(heap, q, k);
        }
    }

    /// <summary>
    /// Scores the documents held by <paramref name="candidates"/> with the float32 originals (canonical kernel
    /// order, so the scores equal a float32 segment's bit for bit) and returns the top <paramref name="k"/>.
    /// </summary>
    private ScoredDoc[] RescoreWithOriginals(TopKHeap candidates, float* q, int k)
    {
        var held = candidates.ToSortedArray();
        int n = held.Length;
        var s = DenseSearchScratch.Current;
        s.EnsureSort(n);
        for (int i = 0; i < n; i++) s.SortDocs[i] = held[i].DocId;
        var originals = new RowSet((byte*)_originals, (nint)Dims * sizeof(float), null);
        PrefetchRows(originals, s.SortDocs, n);
        ScoreRows<Float32Codec>(originals, s.SortDocs, n, q, s.SortScores);
        return TopOfSorted(s, n, k);
    }

    /// <summary>Sorts SortScores/SortDocs[0..n) into ranking order and returns the first <paramref name="k"/>.</summary>
    private static ScoredDoc[] TopOfSorted(DenseSearchScratch s, int n, int k)
    {
        ScoreSort.Descending(s.SortScores.AsSpan(0, n), s.SortDocs.AsSpan(0, n), s.SortKeys);
        var result = new ScoredDoc[Math.Min(k, n)];
        for (int i = 0; i < result.Length; i++) result[i] = new ScoredDoc(s.SortDocs[i], s.SortScores[i]);
        return result;
    }

    /// <summary>Prefetches the first two cache lines of the rows of ids[0..n) (rescoring reads them at random).</summary>
    private static void PrefetchRows(RowSet rows, int[] ids, int n)
    {
        if (!Sse.IsSupported) return;
        for (int i = 0; i < n; i++)
        {
            byte* row = rows.Rows + ids[i] * rows.RowBytes;
            Sse.Prefetch0(row);
            Sse.Prefetch0(row + 64);
        }
    }

    /// <summary>
    /// The flat scan: rows are scored one after another (a single sequential stream, which the hardware
    /// prefetchers follow best; consecutive rows' FMA chains overlap in the out-of-order core).
    /// Measured on dense-1M this reads as fast as a plain SIMD sum of the same memory, faster than
    /// interleaving 4 or 8 rows or adding software prefetches. Int8 and binary16 rows, which the decode
    /// rather than memory bounds, scan about twice as fast as float32 this way (100k x 384); scoring four
    /// int8 rows together (<see cref="DenseKernels.Dot4{TCodec}"/>) was not faster in an A/B on Zen 2.
    /// </summary>
    private void Scan<TCodec>(float* q, TopKHeap heap) where TCodec : struct, IRowCodec
    {
        int n = Count, dims = Dims;
        nint stride = _rowBytes;
        byte* row = _vectors;
        float* scales = _scales;
        float threshold = float.NegativeInfinity;
        for (int doc = 0; doc < n; doc++, row += stride)
        {
            float score = DenseKernels.Dot1<TCodec>(row, q, dims);
            if (TCodec.Scaled) score *= scales[doc];
            if (score > threshold)
            {
                heap.TryAdd(doc, score);
                threshold = heap.Threshold;
            }
        }
    }

    // ---- exact, many queries ----------------------------------------------------------------

    /// <summary>
    /// The exact top <paramref name="k"/> of each of <c>m = queries.Length / Dims</c> queries, reading the
    /// vectors once per call: blocks of rows that fit the L2 cache are scored against all queries by a
    /// register-blocked kernel (2 rows x 6 queries per tile, 12 FMA chains), with the next block
    /// prefetched meanwhile. Results equal <see cref="SearchExact"/> for each query, bit for bit.
    /// </summary>
    /// <param name="queries">Row-major queries, <c>m x Dims</c>.</param>
    /// <param name="k">Results per query.</param>
    public ScoredDoc[][] SearchExactBatch(ReadOnlySpan<float> queries, int k) => SearchExactBatch(queries, k, _oversample);

    /// <summary>
    /// As <see cref="SearchExactBatch(ReadOnlySpan{float}, int)"/> with the batch's own oversample factor (see
    /// <see cref="SearchExact(ReadOnlySpan{float}, int, float)"/>); results equal that method's for each query, bit for bit.
    /// </summary>
    /// <param name="queries">Row-major queries, <c>m x Dims</c>.</param>
    /// <param name="k">Results per query.</param>
    /// <param name="oversample">Candidates per result to rescore with the originals: finite, at least 1.</param>
    public ScoredDoc[][] SearchExactBatch(ReadOnlySpan<float> queries, int k, float oversample)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        CheckOversample(oversample);
        int dims = Dims;
        if (queries.Length == 0 || queries.Length % dims != 0)
            throw new ArgumentException($"Queries hold {queries.Length} floats, not a positive multiple of {dims} dimensions.", nameof(queries));
        int m = queries.Length / dims;
        var prepared = new float[queries.Length];
        var scratch = DenseSearchScratch.Current;
        for (int i = 0; i < m; i++)
        {
            PrepareQuery(queries.Slice(i * dims, dims), scratch);
            scratch.Query.AsSpan(0, dims).CopyTo(prepared.AsSpan(i * dims));
        }
        var results = new ScoredDoc[m][];
        if (Count == 0)
        {
            for (int i = 0; i < m; i++) results[i] = [];
            return results;
        }
        if (!DenseKernels.Simd || dims < 8)
        {
            for (int i = 0; i < m; i++) results[i] = ScanPrepared(prepared.AsSpan(i * dims, dims).ToArray(), k, oversample);
            return results;
        }

        var heaps = new TopKHeap[m];
        int kept = _originals is null ? Math.Min(k, Count) : Candidates(k, oversample);
        for (int i = 0; i < m; i++) heaps[i] = new TopKHeap(kept);
        var batch = new BatchState(this, prepared, m, heaps);
        try
        {
            switch (Storage)
            {
                case DenseStorage.Float32: batch.RunFloat32(); break;
                case DenseStorage.Float16: batch.RunDecoded<Float16Codec>(); break;
                default: batch.RunDecoded<Int8Codec>(); break;
            }
        }
        finally
        {
            batch.Dispose();
        }
        if (_originals is null)
        {
            for (int i = 0; i < m; i++) results[i] = heaps[i].ToSortedArray();
            return results;
        }
        fixed (float* q = prepared)
        {
            for (int i = 0; i < m; i++) results[i] = RescoreWithOriginals(heaps[i], q + (nint)i * dims, k);
        }
        return results;
    }

    /// <summary>Buffers and loop of one batched scan.</summary>
    private sealed class BatchState : IDisposable
    {
        private readonly DenseSegment _seg;
        private readonly float[] _queries;
        private readonly int _m;
        private readonly TopKHeap[] _heaps;
        private readonly int _dims;
        private readonly int _n8;
        private readonly int _groups;
        private readonly float* _interleaved;
        private readonly float* _thresholds;
        private readonly float* _zeroRow;
        private readonly int _blockRows;

        public BatchState(DenseSegment seg, float[] queries, int m, TopKHeap[] heaps)
        {
            _seg = seg;
            _queries = queries;
            _m = m;
            _heaps = heaps;
            _dims = seg.Dims;
            _n8 = _dims & ~7;
            _groups = (m + DenseKernels.TileQueries - 1) / DenseKernels.TileQueries;
            int slots = _groups * DenseKernels.TileQueries;
            _interleaved = (float*)NativeMemory.AlignedAlloc((nuint)((long)slots * _n8 * 4 + 64), 64);
            _thresholds = (float*)NativeMemory.AlignedAlloc((nuint)(slots * 4 + 64), 64);
            _zeroRow = (float*)NativeMemory.AlignedAlloc((nuint)(_dims * 4 + 64), 64);
            new Span<float>(_zeroRow, _dims).Clear();
            for (int i = 0; i < slots; i++) _thresholds[i] = i < m ? float.NegativeInfinity : float.PositiveInfinity;
            DenseKernels.InterleaveQueries(queries, m, _dims, _interleaved);
            _blockRows = Math.Max(2, BatchBlockBytes / (_dims * 4)) & ~1;
        }

        public void RunFloat32()
        {
            int n = _seg.Count;
            nint rowBytes = _seg._rowBytes;
            byte* rows = _seg._vectors;
            byte* end = rows + n * rowBytes;
            for (int first = 0; first < n; first += _blockRows)
            {
                int count = Math.Min(_blockRows, n - first);
                byte* next = rows + (first + count) * rowBytes;
                nint nextBytes = Math.Min((nint)(end - next), (nint)_blockRows * rowBytes);
                Block((float*)(rows + first * rowBytes), first, count, null, next, nextBytes);
            }
        }

        public void RunDecoded<TCodec>() where TCodec : struct, IRowCodec
        {
            int n = _seg.Count;
            nint rowBytes = _seg._rowBytes;
            byte* rows = _seg._vectors;
            byte* end = rows + n * rowBytes;
            float* decoded = (float*)NativeMemory.AlignedAlloc((nuint)((long)_blockRows * _dims * 4 + 64), 64);
            try
            {
                for (int first = 0; first < n; first += _blockRows)
                {
                    int count = Math.Min(_blockRows, n - first);
                    DenseKernels.DecodeRows<TCodec>(rows + first * rowBytes, rowBytes, count, _dims, decoded);
                    byte* next = rows + (first + count) * rowBytes;
                    nint nextBytes = Math.Min((nint)(end - next), (nint)_blockRows * rowBytes);
                    Block(decoded, first, count, TCodec.Scaled ? _seg._scales + first : null, next, nextBytes);
                }
            }
            finally
            {
                NativeMemory.AlignedFree(decoded);
            }
        }

        /// <summary>Scores <paramref name="count"/> float rows (doc ids from <paramref name="first"/>) against every query group.</summary>
        private void Block(float* rows, int first, int count, float* scales, byte* prefetch, nint prefetchBytes)
        {
            int dims = _dims;
            nint n8 = _n8;
            int pairs = (count + 1) >> 1;
            int tiles = pairs * _groups;
            nint perTile = Math.Max(1, (prefetchBytes / 64 + tiles - 1) / tiles) * 64;
            byte* pf = prefetch, pfEnd = prefetch + prefetchBytes;
            for (int g = 0; g < _groups; g++)
            {
                float* group = _interleaved + (long)g * DenseKernels.TileQueries * n8;
                float* thr = _thresholds + g * DenseKernels.TileQueries;
                var tA = Vector128.Load(thr);
                var tB = Vector128.Create(thr[4], thr[5], thr[4], thr[5]);
                for (int p = 0; p < count; p += 2)
                {
                    float* r0 = rows + (nint)p * dims;
                    bool two = p + 1 < count;
                    float* r1 = two ? r0 + dims : _zeroRow;
                    DenseKernels.Tile2x6(r0, r1, group, n8, out var a, out var b, out var c);
                    if (n8 != dims) AddTails(r0, r1, g, ref a, ref b, ref c);
                    if (scales is not null)
                    {
                        float s0 = scales[p], s1 = two ? scales[p + 1] : 0f;
                        a *= Vector128.Create(s0);
                        b *= Vector128.Create(s1);
                        c *= Vector128.Create(s0, s0, s1, s1);
                    }
                    uint ma = Vector128.GreaterThan(a, tA).ExtractMostSignificantBits();
                    uint mb = two ? Vector128.GreaterThan(b, tA).ExtractMostSignificantBits() : 0u;
                    uint mc = Vector128.GreaterThan(c, tB).ExtractMostSignificantBits() & (two ? 0xFu : 0x3u);
                    if ((ma | mb | mc) != 0)
                    {
                        int doc = first + p;
                        int q0 = g * DenseKernels.TileQueries;
                        Offer(ma, a, doc, q0, 0);
                        Offer(mb, b, doc + 1, q0, 0);
                        OfferMixed(mc, c, doc, q0);
                        tA = Vector128.Load(thr);
                        tB = Vector128.Create(thr[4], thr[5], thr[4], thr[5]);
                    }
                    for (nint t = 0; t < perTile && pf < pfEnd; t += 64, pf += 64) Sse.Prefetch0(pf);
                }
            }
        }

        private void Offer(uint mask, Vector128<float> scores, int doc, int q0, int lane0)
        {
            while (mask != 0)
            {
                int lane = System.Numerics.BitOperations.TrailingZeroCount(mask);
                mask &= mask - 1;
                int q = q0 + lane0 + lane;
                float score = scores.GetElement(lane);
                if (score > _thresholds[q])
                {
                    _heaps[q].TryAdd(doc, score);
                    _thresholds[q] = _heaps[q].Threshold;
                }
            }
        }

        private void OfferMixed(uint mask, Vector128<float> scores, int doc, int q0)
        {
            // Lanes: (row 0, q4), (row 0, q5), (row 1, q4), (row 1, q5).
            while (mask != 0)
            {
                int lane = System.Numerics.BitOperations.TrailingZeroCount(mask);
                mask &= mask - 1;
                int q = q0 + 4 + (lane & 1);
                int d = doc + (lane >> 1);
                float score = scores.GetElement(lane);
                if (score > _thresholds[q])
                {
                    _heaps[q].TryAdd(d, score);
                    _thresholds[q] = _heaps[q].Threshold;
                }
            }
        }

        /// <summary>Adds the trailing dims % 8 dimensions, in canonical order, to the 12 sums of a tile.</summary>
        private void AddTails(float* r0, float* r1, int g, ref Vector128<float> a, ref Vector128<float> b, ref Vector128<float> c)
        {
            Span<float> sa = stackalloc float[4], sb = stackalloc float[4], sc = stackalloc float[4];
            a.CopyTo(sa);
            b.CopyTo(sb);
            c.CopyTo(sc);
            int q0 = g * DenseKernels.TileQueries;
            for (int j = 0; j < DenseKernels.TileQueries; j++)
            {
                int qi = q0 + j;
                if (qi >= _m) break;
                var q = _queries.AsSpan(qi * _dims, _dims);
                for (int i = _n8; i < _dims; i++)
                {
                    if (j < 4)
                    {
                        sa[j] = MathF.FusedMultiplyAdd(r0[i], q[i], sa[j]);
                        sb[j] = MathF.FusedMultiplyAdd(r1[i], q[i], sb[j]);
                    }
                    else
                    {
                        sc[j - 4] = MathF.FusedMultiplyAdd(r0[i], q[i], sc[j - 4]);
                        sc[j - 2] = MathF.FusedMultiplyAdd(r1[i], q[i], sc[j - 2]);
                    }
                }
            }
            a = Vector128.Create(sa);
            b = Vector128.Create(sb);
            c = Vector128.Create(sc);
        }

        public void Dispose()
        {
            NativeMemory.AlignedFree(_interleaved);
            NativeMemory.AlignedFree(_thresholds);
            NativeMemory.AlignedFree(_zeroRow);
        }
    }

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

    /// <summary>Scores ids[0..n) into scores[0..n), four rows at a time.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void ScoreRows<TCodec>(RowSet rows, int[] ids, int n, float* q, float[] scores) where TCodec : struct, IRowCodec
    {
        int dims = Dims;
        byte* v = rows.Rows;
        nint rb = rows.RowBytes;
        int j = 0;
        for (; j + 4 <= n; j += 4)
        {
            int i0 = ids[j], i1 = ids[j + 1], i2 = ids[j + 2], i3 = ids[j + 3];
            var d = DenseKernels.Dot4<TCodec>(v + i0 * rb, v + i1 * rb, v + i2 * rb, v + i3 * rb, q, dims);
            if (TCodec.Scaled) d *= Vector128.Create(rows.Scales[i0], rows.Scales[i1], rows.Scales[i2], rows.Scales[i3]);
            d.CopyTo(scores.AsSpan(j));
        }
        for (; j < n; j++) scores[j] = rows.Score<TCodec>(ids[j], q, dims);
    }

    /// <summary>Stored rows of one encoding: base pointer, bytes per row, and per-row scales (int8).</summary>
    private readonly struct RowSet(byte* rows, nint rowBytes, float* scales)
    {
        public byte* Rows { get; } = rows;

        public nint RowBytes { get; } = rowBytes;

        public float* Scales { get; } = scales;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public float Score<TCodec>(int doc, float* q, int dims) where TCodec : struct, IRowCodec
        {
            float s = DenseKernels.Dot1<TCodec>(Rows + doc * RowBytes, q, dims);
            return TCodec.Scaled ? s * Scales[doc] : s;
        }
    }

    // ---- shared -----------------------------------------------------------------------------

    /// <summary>Copies (and for cosine normalises) the query into the thread's scratch.</summary>
    private void PrepareQuery(ReadOnlySpan<float> query, DenseSearchScratch scratch)
    {
        if (query.Length != Dims)
            throw new ArgumentException($"The query has {query.Length} dimensions; segment '{FilePath}' has {Dims}.", nameof(query));
        if (!DenseKernels.AllFinite(query, out int bad))
            throw new ArgumentException($"Query component {bad} is NaN or infinite.", nameof(query));
        scratch.EnsureQuery(Dims);
        var q = scratch.Query.AsSpan(0, Dims);
        query.CopyTo(q);
        if (Metric == DenseMetric.Cosine) DenseKernels.Normalize(q);
    }

    /// <inheritdoc />
    public void Dispose() => _file.Dispose();
}
