using System.Text;
using Shoal.Engine.Segments;

namespace Shoal.Engine.Text;

/// <summary>
/// Writes one immutable BM25 segment from analysed documents and collection-global statistics.
/// Documents are renumbered in ordinal order of their external ids, so a segment-local doc id
/// tie-break equals the cluster-wide external-id tie-break.
/// </summary>
public static class TextSegmentWriter
{
    /// <summary>Postings per skip block.</summary>
    public const int BlockSize = 128;

    /// <summary>
    /// Writes <paramref name="docs"/> to <paramref name="path"/>. <paramref name="globalDocFreq"/>
    /// is indexed by term id and holds each term's document frequency over the whole index.
    /// Returns the file size in bytes.
    /// </summary>
    public static long Write(
        string path,
        IReadOnlyList<AnalyzedDocument> docs,
        TermDictionary terms,
        ReadOnlySpan<long> globalDocFreq,
        CollectionStatistics stats,
        Bm25Parameters parameters)
    {
        parameters.Validate();
        var ordered = docs.ToArray();
        Array.Sort(ordered, static (a, b) => string.CompareOrdinal(a.Id, b.Id));
        for (int i = 1; i < ordered.Length; i++)
            if (string.Equals(ordered[i - 1].Id, ordered[i].Id, StringComparison.Ordinal))
                throw new ArgumentException($"Document id '{ordered[i].Id}' occurs twice in one segment.", nameof(docs));

        // Count postings per term, then lay out terms present here in UTF-8 byte order.
        var postingCounts = new Dictionary<int, int>();
        long totalPostings = 0;
        foreach (var d in ordered)
        {
            foreach (int t in d.TermIds)
                postingCounts[t] = postingCounts.TryGetValue(t, out int c) ? c + 1 : 1;
            totalPostings += d.TermIds.Length;
        }
        if (totalPostings > int.MaxValue) throw new ArgumentException("A segment holds at most 2^31 postings; use more shards.");

        var present = postingCounts.Keys.Select(t => (Id: t, Bytes: Encoding.UTF8.GetBytes(terms[t]))).ToArray();
        Array.Sort(present, static (a, b) => a.Bytes.AsSpan().SequenceCompareTo(b.Bytes));

        var slot = new Dictionary<int, int>(present.Length); // term id -> ordinal in this segment
        var entries = new TermEntry[present.Length];
        long start = 0;
        int blockStart = 0;
        for (int i = 0; i < present.Length; i++)
        {
            int count = postingCounts[present[i].Id];
            int blocks = (count + BlockSize - 1) / BlockSize;
            entries[i] = new TermEntry
            {
                PostingStart = start,
                PostingCount = count,
                BlockStart = blockStart,
                BlockCount = blocks,
                GlobalDocFreq = globalDocFreq[present[i].Id],
            };
            slot[present[i].Id] = i;
            start += count;
            blockStart += blocks;
        }

        // Fill postings term by term in ascending doc order (documents are visited in doc order).
        var postingDocs = new int[totalPostings];
        var impacts = new float[totalPostings];
        var fill = new long[present.Length];
        var idf = new double[present.Length];
        for (int i = 0; i < present.Length; i++)
        {
            fill[i] = entries[i].PostingStart;
            idf[i] = Bm25Parameters.Idf(entries[i].GlobalDocFreq, stats.DocCount);
        }
        double avgdl = stats.AvgDocLength;
        for (int doc = 0; doc < ordered.Length; doc++)
        {
            var d = ordered[doc];
            for (int j = 0; j < d.TermIds.Length; j++)
            {
                int s = slot[d.TermIds[j]];
                long p = fill[s]++;
                postingDocs[p] = doc;
                impacts[p] = (float)parameters.Impact(idf[s], d.Frequencies[j], d.Length, avgdl);
            }
        }

        var blocksOut = new PostingBlock[blockStart];
        for (int i = 0; i < entries.Length; i++)
        {
            ref var e = ref entries[i];
            float termMax = 0;
            for (int b = 0; b < e.BlockCount; b++)
            {
                long from = e.PostingStart + (long)b * BlockSize;
                long to = Math.Min(from + BlockSize, e.PostingStart + e.PostingCount);
                float max = 0;
                for (long p = from; p < to; p++) max = Math.Max(max, impacts[p]);
                blocksOut[e.BlockStart + b] = new PostingBlock { LastDoc = postingDocs[to - 1], MaxImpact = max };
                termMax = Math.Max(termMax, max);
            }
            e.MaxImpact = termMax;
        }

        using var writer = new SegmentFileWriter(path, SegmentKind.Text);
        var meta = new TextSegmentMeta
        {
            DocCount = ordered.Length,
            TermCount = present.Length,
            PostingCount = totalPostings,
            K1 = parameters.K1,
            B = parameters.B,
            GlobalDocCount = stats.DocCount,
            GlobalTotalLength = stats.TotalLength,
            AvgDocLength = avgdl,
            BlockSize = BlockSize,
            LuceneLengthNorm = parameters.LuceneLengthNorm ? 1 : 0,
        };
        writer.BeginSection(TextSections.Meta);
        writer.WriteValue(meta);
        writer.EndSection();

        writer.BeginSection(TextSections.TermBytes);
        var termOffsets = new uint[present.Length + 1];
        uint offset = 0;
        for (int i = 0; i < present.Length; i++)
        {
            termOffsets[i] = offset;
            writer.Write(present[i].Bytes.AsSpan());
            offset = checked(offset + (uint)present[i].Bytes.Length);
        }
        termOffsets[^1] = offset;
        writer.EndSection();
        writer.WriteSection<uint>(TextSections.TermOffsets, termOffsets);
        writer.WriteSection<TermEntry>(TextSections.Terms, entries);
        writer.WriteSection<PostingBlock>(TextSections.Blocks, blocksOut);
        writer.WriteSection<int>(TextSections.PostingDocs, postingDocs);
        writer.WriteSection<float>(TextSections.PostingImpacts, impacts);

        WriteStrings(writer, TextSections.IdBytes, TextSections.IdOffsets, ordered.Length, i => ordered[i].Id);
        WriteStrings(writer, TextSections.StoredBytes, TextSections.StoredOffsets, ordered.Length * 2,
            i => (i & 1) == 0 ? ordered[i >> 1].Title ?? string.Empty : ordered[i >> 1].Text);

        var lengths = new int[ordered.Length];
        for (int i = 0; i < ordered.Length; i++) lengths[i] = ordered[i].Length;
        writer.WriteSection<int>(TextSections.DocLengths, lengths);
        writer.Complete();
        return new FileInfo(path).Length;
    }

    private static void WriteStrings(SegmentFileWriter writer, uint bytesSection, uint offsetsSection, int count, Func<int, string> get)
    {
        var offsets = new long[count + 1];
        long offset = 0;
        var buffer = new byte[4096];
        writer.BeginSection(bytesSection);
        for (int i = 0; i < count; i++)
        {
            offsets[i] = offset;
            string s = get(i);
            int max = Encoding.UTF8.GetMaxByteCount(s.Length);
            if (buffer.Length < max) buffer = new byte[Math.Max(max, buffer.Length * 2)];
            int n = Encoding.UTF8.GetBytes(s, buffer);
            writer.Write(buffer.AsSpan(0, n));
            offset += n;
        }
        offsets[count] = offset;
        writer.EndSection();
        writer.WriteSection<long>(offsetsSection, offsets);
    }
}
