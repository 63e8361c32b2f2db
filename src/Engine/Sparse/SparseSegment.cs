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
/// <para><b>Parts.</b> This file reads the segment and scores documents from the forward index;
/// <c>SparseSegment.Exact.cs</c> holds exact (and exhaustive) search, <c>SparseSegment.Approximate.cs</c> the
/// Seismic-style approximate search.</para>
/// </remarks>
public sealed unsafe partial class SparseSegment : IDisposable
{
    private const int RangeSize = 1 << SparseSegmentWriter.RangeShift;

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

    // ---------------------------------------------------------------- forward index, shared by the searches

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
