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
/// <para>Parts: this file reads the segment (sections, ids, vectors) and holds the scoring helpers the searches
/// share; <c>DenseSegment.FlatScan.cs</c> is the exact scan of one query, <c>DenseSegment.BatchedScan.cs</c>
/// the exact scan of many queries in one pass, <c>DenseSegment.Graph.cs</c> the HNSW search.</para>
/// </remarks>
public sealed unsafe partial class DenseSegment : IDisposable
{
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

    // ---- shared -----------------------------------------------------------------------------

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
