using System.Text;
using Shoal.Engine.Search;
using Shoal.Engine.Segments;

namespace Shoal.Engine.Text;

/// <summary>
/// A read-only BM25 segment over a memory-mapped file. Search is exact: MaxScore
/// (Turtle and Flood, 1995) over impact-ordered terms, with block skipping when a
/// non-essential term is advanced; results equal exhaustive scoring.
/// Thread-safe: any number of searches may run at once.
/// </summary>
public sealed unsafe class TextSegment : IDisposable
{
    private readonly SegmentFile _file;
    private readonly TextSegmentMeta _meta;
    private readonly byte* _termBytes;
    private readonly uint* _termOffsets;
    private readonly TermEntry* _terms;
    private readonly PostingBlock* _blocks;
    private readonly int* _postingDocs;
    private readonly float* _impacts;
    private readonly byte* _idBytes;
    private readonly long* _idOffsets;
    private readonly byte* _storedBytes;
    private readonly long* _storedOffsets;
    private readonly int* _docLengths;
    private readonly int _blockShift;

    private TextSegment(SegmentFile file)
    {
        _file = file;
        _meta = file.ReadStruct<TextSegmentMeta>(TextSections.Meta);
        var m = _meta;
        if (m.DocCount < 0 || m.TermCount < 0 || m.PostingCount < 0 || m.BlockSize <= 0 || m.BlockSize > 1 << 20 || (m.BlockSize & (m.BlockSize - 1)) != 0
            || m.DocCount > int.MaxValue / 2 - 1 || m.PostingCount > int.MaxValue / 4)
            throw new CorruptSegmentException(file.FilePath, "invalid text segment metadata");
        _termBytes = Require(TextSections.TermBytes, -1);
        _termOffsets = (uint*)Require(TextSections.TermOffsets, (m.TermCount + 1L) * 4);
        _terms = (TermEntry*)Require(TextSections.Terms, (long)m.TermCount * sizeof(TermEntry));
        _blocks = (PostingBlock*)Require(TextSections.Blocks, -1);
        _postingDocs = (int*)Require(TextSections.PostingDocs, m.PostingCount * 4);
        _impacts = (float*)Require(TextSections.PostingImpacts, m.PostingCount * 4);
        _idBytes = Require(TextSections.IdBytes, -1);
        _idOffsets = (long*)Require(TextSections.IdOffsets, (m.DocCount + 1L) * 8);
        _storedBytes = Require(TextSections.StoredBytes, -1);
        _storedOffsets = (long*)Require(TextSections.StoredOffsets, (2L * m.DocCount + 1) * 8);
        _docLengths = (int*)Require(TextSections.DocLengths, m.DocCount * 4L);
        _blockShift = System.Numerics.BitOperations.Log2((uint)m.BlockSize);
        file.SectionPointer(TextSections.Blocks, out long blockBytes);
        for (int t = 0; t < m.TermCount; t++)
        {
            var e = _terms[t];
            if (e.PostingStart < 0 || e.PostingCount < 0 || e.BlockStart < 0 || e.PostingStart > m.PostingCount - e.PostingCount ||
                e.BlockCount != (e.PostingCount + (long)m.BlockSize - 1) / m.BlockSize ||
                (e.BlockStart + (long)e.BlockCount) * sizeof(PostingBlock) > blockBytes)
                throw new CorruptSegmentException(file.FilePath, $"term {t} points outside the postings");
        }
        ValidateStructure(file.FilePath);
    }

    /// <summary>
    /// The structural invariants every read relies on (searches and id lookups index raw pointers):
    /// offset tables ascend within their byte sections, and every posting names a document of this
    /// segment. Checksums catch accidental damage; this catches a file that is well-formed for the
    /// container but inconsistent inside (a bug or a crafted file), so it is refused instead of read
    /// out of bounds. One sequential pass, like the checksum verification at open.
    /// </summary>
    private void ValidateStructure(string path)
    {
        var m = _meta;
        _file.SectionPointer(TextSections.TermBytes, out long termBytes);
        _file.SectionPointer(TextSections.IdBytes, out long idBytes);
        _file.SectionPointer(TextSections.StoredBytes, out long storedBytes);
        if (!Ascending(new ReadOnlySpan<uint>(_termOffsets, m.TermCount + 1), termBytes))
            throw new CorruptSegmentException(path, "term offsets do not ascend within the term bytes");
        if (!Ascending(new ReadOnlySpan<long>(_idOffsets, m.DocCount + 1), idBytes))
            throw new CorruptSegmentException(path, "id offsets do not ascend within the id bytes");
        if (!Ascending(new ReadOnlySpan<long>(_storedOffsets, 2 * m.DocCount + 1), storedBytes))
            throw new CorruptSegmentException(path, "stored-field offsets do not ascend within the stored bytes");
        for (long p = 0; p < m.PostingCount; p++)
            if ((uint)_postingDocs[p] >= (uint)m.DocCount)
                throw new CorruptSegmentException(path, $"posting {p} names document {_postingDocs[p]} of {m.DocCount}");
        for (int d = 0; d < m.DocCount; d++)
            if (_docLengths[d] < 0) throw new CorruptSegmentException(path, $"document {d} has a negative length");
    }

    private static bool Ascending(ReadOnlySpan<uint> offsets, long limit)
    {
        for (int i = 1; i < offsets.Length; i++)
            if (offsets[i] < offsets[i - 1]) return false;
        return offsets[^1] <= limit;
    }

    private static bool Ascending(ReadOnlySpan<long> offsets, long limit)
    {
        if (offsets[0] < 0) return false;
        for (int i = 1; i < offsets.Length; i++)
            if (offsets[i] < offsets[i - 1]) return false;
        return offsets[^1] <= limit;
    }

    private byte* Require(uint section, long expectedBytes)
    {
        byte* p = _file.SectionPointer(section, out long length);
        if (expectedBytes >= 0 && length != expectedBytes)
            throw new CorruptSegmentException(_file.FilePath, $"section {section} has {length} bytes, expected {expectedBytes}");
        return p;
    }

    /// <summary>Opens and validates a text segment file.</summary>
    public static TextSegment Open(string path, bool verifyChecksums = true)
    {
        var file = SegmentFile.Open(path, SegmentKind.Text, verifyChecksums);
        try { return new TextSegment(file); }
        catch { file.Dispose(); throw; }
    }

    /// <summary>The file behind this segment.</summary>
    public string FilePath => _file.FilePath;

    /// <summary>Size of the segment file.</summary>
    public long SizeBytes => _file.Length;

    /// <summary>Documents in this segment.</summary>
    public int DocCount => _meta.DocCount;

    /// <summary>Distinct terms in this segment.</summary>
    public int TermCount => _meta.TermCount;

    /// <summary>Postings in this segment.</summary>
    public long PostingCount => _meta.PostingCount;

    /// <summary>The collection-global statistics the impacts were computed with.</summary>
    public CollectionStatistics Statistics => new(_meta.GlobalDocCount, _meta.GlobalTotalLength);

    /// <summary>The BM25 parameters the impacts were computed with.</summary>
    public Bm25Parameters Parameters => new(_meta.K1, _meta.B, _meta.LuceneLengthNorm != 0);

    /// <summary>External id of a segment-local document.</summary>
    public string GetId(int doc) => ReadString(_idBytes, _idOffsets, doc);

    /// <summary>Stored title ("" when none).</summary>
    public string GetTitle(int doc) => ReadString(_storedBytes, _storedOffsets, 2 * doc);

    /// <summary>Stored text.</summary>
    public string GetText(int doc) => ReadString(_storedBytes, _storedOffsets, 2 * doc + 1);

    /// <summary>
    /// The start of a document's stored text: at least <paramref name="chars"/> + 1 characters when
    /// the text is longer (so a caller can tell it was cut), the whole text otherwise. Decodes only
    /// the bytes those characters can take (UTF-8 spends at most 3 bytes per UTF-16 character), not
    /// the whole text; a character cut in two at the end decodes as U+FFFD, past the characters asked for.
    /// </summary>
    public string GetTextPrefix(int doc, int chars)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(chars);
        long from = _storedOffsets[2 * doc + 1], to = _storedOffsets[2 * doc + 2];
        long wanted = 3L * chars + 6; // >= chars + 2 characters: the one past `chars` is whole
        return Encoding.UTF8.GetString(_storedBytes + from, checked((int)Math.Min(to - from, wanted)));
    }

    /// <summary>Analysed length of a document.</summary>
    public int GetLength(int doc) => _docLengths[doc];

    /// <summary>The segment-local doc id of an external id, or -1 (binary search over the ordinal-sorted ids).</summary>
    public int FindDocument(string id)
    {
        int lo = 0, hi = _meta.DocCount - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            int c = string.CompareOrdinal(GetId(mid), id);
            if (c == 0) return mid;
            if (c < 0) lo = mid + 1; else hi = mid - 1;
        }
        return -1;
    }

    private static string ReadString(byte* bytes, long* offsets, int index)
    {
        long from = offsets[index], to = offsets[index + 1];
        return Encoding.UTF8.GetString(bytes + from, checked((int)(to - from)));
    }

    /// <summary>The term ordinal of <paramref name="term"/>, or -1 when absent.</summary>
    public int FindTerm(string term)
    {
        int max = Encoding.UTF8.GetMaxByteCount(term.Length);
        Span<byte> buffer = max <= 1024 ? stackalloc byte[max] : new byte[max];
        var key = buffer[..Encoding.UTF8.GetBytes(term, buffer)];
        int lo = 0, hi = _meta.TermCount - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            var candidate = new ReadOnlySpan<byte>(_termBytes + _termOffsets[mid], (int)(_termOffsets[mid + 1] - _termOffsets[mid]));
            int c = candidate.SequenceCompareTo(key);
            if (c == 0) return mid;
            if (c < 0) lo = mid + 1; else hi = mid - 1;
        }
        return -1;
    }

    /// <summary>Number of documents of the whole index version containing <paramref name="term"/> (the df its idf uses), or 0 when this segment lacks the term.</summary>
    public long GlobalDocFrequency(string term)
    {
        int t = FindTerm(term);
        return t < 0 ? 0 : _terms[t].GlobalDocFreq;
    }

    /// <summary>Number of documents in this segment containing <paramref name="term"/>.</summary>
    public int DocFrequency(string term)
    {
        int t = FindTerm(term);
        return t < 0 ? 0 : _terms[t].PostingCount;
    }

    /// <summary>Exact top-k by BM25 with the MaxScore algorithm.</summary>
    public ScoredDoc[] Search(TextQuery query, int k)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        var cursors = OpenCursors(query);
        if (cursors.Length == 0) return [];
        var heap = new TopKHeap(k);

        // Terms sorted by upper bound ascending; prefix[i] bounds the score from terms 0..i.
        Array.Sort(cursors, static (a, b) => a.UpperBound.CompareTo(b.UpperBound));
        int n = cursors.Length;
        var prefix = new double[n];
        double running = 0;
        for (int i = 0; i < n; i++) prefix[i] = running += cursors[i].UpperBound;

        // Terms [0, firstEssential) cannot lift a document into the heap on their own.
        int firstEssential = 0;
        float threshold = float.NegativeInfinity;
        fixed (PostingCursor* c = cursors)
        {
            while (true)
            {
                int doc = int.MaxValue;
                for (int i = firstEssential; i < n; i++) doc = Math.Min(doc, c[i].Doc);
                if (doc == int.MaxValue) break;

                double score = 0;
                for (int i = firstEssential; i < n; i++)
                {
                    if (c[i].Pos < c[i].Count && c[i].Docs[c[i].Pos] == doc)
                    {
                        score += c[i].Score;
                        c[i].Pos++;
                    }
                }
                // Non-essential terms, strongest first, while they can still change the outcome.
                // Documents arrive in ascending id, so at an equal score a later document loses the
                // tie: a bound that does not exceed the threshold rules the document out.
                bool dropped = false;
                for (int i = firstEssential - 1; i >= 0; i--)
                {
                    if (heap.IsFull && (float)(score + prefix[i]) <= threshold) { dropped = true; break; }
                    c[i].Advance(doc);
                    if (c[i].Doc == doc) score += c[i].Score;
                }
                if (dropped) continue;

                if (heap.TryAdd(doc, (float)score) && heap.IsFull)
                {
                    threshold = heap.Threshold;
                    while (firstEssential < n && (float)prefix[firstEssential] <= threshold) firstEssential++;
                    if (firstEssential == n) break;
                }
            }
        }
        return heap.ToSortedArray();
    }

    /// <summary>
    /// Scores every posting of every query term into a dense accumulator: the reference that
    /// <see cref="Search"/> must equal. For tests and diagnostics, not serving.
    /// </summary>
    public ScoredDoc[] SearchExhaustive(TextQuery query, int k)
    {
        var cursors = OpenCursors(query);
        var scores = new double[_meta.DocCount];
        var hit = new bool[_meta.DocCount];
        foreach (var cursor in cursors)
        {
            for (int p = 0; p < cursor.Count; p++)
            {
                int d = cursor.Docs[p];
                scores[d] += cursor.Weight * cursor.Impacts[p];
                hit[d] = true;
            }
        }
        var heap = new TopKHeap(k);
        for (int d = 0; d < scores.Length; d++)
            if (hit[d]) heap.TryAdd(d, (float)scores[d]);
        return heap.ToSortedArray();
    }

    private PostingCursor[] OpenCursors(TextQuery query)
    {
        if (query.Terms.Count != query.Weights.Count) throw new ArgumentException("Query terms and weights differ in length.");
        var list = new List<PostingCursor>(query.Terms.Count);
        for (int q = 0; q < query.Terms.Count; q++)
        {
            float w = query.Weights[q];
            if (!float.IsFinite(w) || w <= 0) throw new ArgumentException($"Query term weight must be positive and finite (term '{query.Terms[q]}', weight {w}).");
            int t = FindTerm(query.Terms[q]);
            if (t < 0) continue;
            var e = _terms[t];
            list.Add(new PostingCursor
            {
                Docs = _postingDocs + e.PostingStart,
                Impacts = _impacts + e.PostingStart,
                Blocks = _blocks + e.BlockStart,
                Count = e.PostingCount,
                BlockCount = e.BlockCount,
                BlockShift = _blockShift,
                Weight = w,
                UpperBound = (double)w * e.MaxImpact,
            });
        }
        return [.. list];
    }

    /// <inheritdoc />
    public void Dispose() => _file.Dispose();
}
