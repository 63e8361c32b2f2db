using System.Globalization;
using System.Text;
using Shoal.Engine.Segments;

namespace Shoal.Engine.Sparse;

/// <summary>
/// Writes an immutable sparse segment (<see cref="SegmentKind.Sparse"/>) from documents.
/// </summary>
/// <remarks>
/// <para>Documents are renumbered in ordinal order of their ids (<see cref="string.CompareOrdinal(string, string)"/>),
/// so segment-local doc order equals external id order and the in-segment tie-break equals the
/// cluster-wide one. Weights are quantised to u8 levels with the index-wide
/// <see cref="SparseBuildOptions.MaxWeight"/> (see there for the rule and error bound).</para>
/// <para>Sections (see <see cref="SparseSections"/>), all little-endian and mapped directly:</para>
/// <list type="bullet">
/// <item><description>ids and stored texts (UTF-8 with i64 offsets; a bit set marks docs that have a text);</description></item>
/// <item><description>forward index: per doc, contiguously, its term ids (u16, ascending) then its levels (u8):
/// 3 bytes per posting, one memory region per document;</description></item>
/// <item><description>exact inverted index: per term, one <see cref="SparseRangeEntry"/> per doc-id range of 2^16 documents
/// that it occurs in (offset, count, max level, encoding), the postings encoded as u16 doc offsets + u8 levels
/// (3 bytes a posting), a bitmap + u8 levels, or a dense u8 level array, whichever the density favours
/// (see <see cref="SparseRangeEntry"/>);</description></item>
/// <item><description>Seismic: per term its blocks (u32 doc ids of the pruned list, grouped, ascending within a
/// block, blocks ordered by their largest level of the term) and per block a summary (u16 terms, u8 levels) —
/// see <see cref="SparseBuildOptions"/>.</description></item>
/// </list>
/// Building is deterministic: the same documents (in any order), options and seed give the same file,
/// whatever the number of threads.
/// Term ids must be below 65,536 (the forward index stores them as u16).
/// </remarks>
public static class SparseSegmentWriter
{
    /// <summary>Width of a doc-id range of the exact index, as a shift (2^16 documents).</summary>
    internal const int RangeShift = 16;

    /// <summary>Largest term id a segment can hold.</summary>
    public const int MaxTermId = 65535;

    /// <summary>
    /// Builds a segment from <paramref name="docs"/> and writes it to <paramref name="path"/> (atomically,
    /// via a temporary file); returns the file size in bytes.
    /// </summary>
    /// <exception cref="ArgumentException">Invalid options, a duplicate or empty id, an invalid vector, a
    /// term id above <see cref="MaxTermId"/>, or a weight above <see cref="SparseBuildOptions.MaxWeight"/>.</exception>
    public static long Write(string path, IReadOnlyList<SparseDocument> docs, SparseBuildOptions options)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(docs);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        int docCount = docs.Count;
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = options.Threads };

        // Ordinal id order.
        var order = new int[docCount];
        var ids = new string[docCount];
        for (int i = 0; i < docCount; i++)
        {
            var d = docs[i] ?? throw new ArgumentException($"Document {i} is null.", nameof(docs));
            if (string.IsNullOrEmpty(d.Id)) throw new ArgumentException($"Document {i} has an empty id.", nameof(docs));
            order[i] = i;
            ids[i] = d.Id;
        }
        Array.Sort(ids, order, StringComparer.Ordinal);
        for (int i = 1; i < docCount; i++)
            if (string.Equals(ids[i], ids[i - 1], StringComparison.Ordinal))
                throw new ArgumentException($"Duplicate document id '{ids[i]}'.", nameof(docs));

        // Validate vectors and lay out the forward index.
        var fwdOffsets = new long[docCount + 1];
        var maxTerm = new int[docCount];
        // (Sequential so that the first invalid document in id order is the one reported.)
        for (int i = 0; i < docCount; i++)
        {
            var d = docs[order[i]];
            var v = d.Vector;
            try
            {
                v.Validate();
            }
            catch (SparseVectorException ex)
            {
                throw new ArgumentException($"Document '{d.Id}': {ex.Message}", nameof(docs), ex);
            }
            int n = v.Count;
            if (n > 0)
            {
                if (v.Terms[n - 1] > MaxTermId)
                    throw new ArgumentException($"Document '{d.Id}': term id {v.Terms[n - 1]} is above {MaxTermId}.", nameof(docs));
                foreach (float w in v.Weights)
                    if (w > options.MaxWeight)
                        throw new ArgumentException($"Document '{d.Id}': weight {w.ToString(CultureInfo.InvariantCulture)} exceeds MaxWeight {options.MaxWeight.ToString(CultureInfo.InvariantCulture)} (MaxWeight must be the largest weight of the whole index).", nameof(docs));
            }
            fwdOffsets[i + 1] = n;
            maxTerm[i] = n > 0 ? v.Terms[n - 1] : -1;
        }
        for (int i = 0; i < docCount; i++) fwdOffsets[i + 1] += fwdOffsets[i];
        long postings = fwdOffsets[docCount];
        int vocabSize = docCount == 0 ? 0 : maxTerm.Max() + 1;
        var fwdTerms = new ushort[postings];
        var fwdLevels = new byte[postings];
        Parallel.For(0, docCount, parallel, i =>
        {
            var v = docs[order[i]].Vector;
            long at = fwdOffsets[i];
            for (int j = 0; j < v.Count; j++)
            {
                fwdTerms[at + j] = (ushort)v.Terms[j];
                fwdLevels[at + j] = SparseLevels.Quantize(v.Weights[j], options.MaxWeight);
            }
        });

        // Transposed (term-major) postings, docs ascending within a term: built in doc chunks in parallel.
        int chunkCount = Math.Max(1, Math.Min(64, (docCount + 16383) / 16384));
        var chunkCounts = new long[chunkCount][];
        Parallel.For(0, chunkCount, parallel, c =>
        {
            var counts = new long[vocabSize];
            var (from, to) = ChunkBounds(c, chunkCount, docCount);
            for (long p = fwdOffsets[from]; p < fwdOffsets[to]; p++) counts[fwdTerms[p]]++;
            chunkCounts[c] = counts;
        });
        var termStart = new long[vocabSize + 1];
        for (int t = 0; t < vocabSize; t++)
        {
            long at = termStart[t];
            for (int c = 0; c < chunkCount; c++)
            {
                long n = chunkCounts[c][t];
                chunkCounts[c][t] = at; // becomes the chunk's fill cursor for term t
                at += n;
            }
            termStart[t + 1] = at;
        }
        var invDocs = new int[postings];
        var invLevels = new byte[postings];
        Parallel.For(0, chunkCount, parallel, c =>
        {
            var cursor = chunkCounts[c];
            var (from, to) = ChunkBounds(c, chunkCount, docCount);
            for (int d = from; d < to; d++)
            {
                for (long p = fwdOffsets[d]; p < fwdOffsets[d + 1]; p++)
                {
                    long at = cursor[fwdTerms[p]]++;
                    invDocs[at] = d;
                    invLevels[at] = fwdLevels[p];
                }
            }
        });
        chunkCounts = null!;

        // Exact index: one encoded entry per (term, doc-id range).
        var plans = new (SparseRangeEntry Entry, long PostingStart)[vocabSize][];
        Parallel.For(0, vocabSize, parallel, t =>
        {
            var list = new List<(SparseRangeEntry, long)>();
            long p = termStart[t], end = termStart[t + 1];
            while (p < end)
            {
                int range = invDocs[p] >> RangeShift;
                long q = p;
                byte max = 0;
                while (q < end && invDocs[q] >> RangeShift == range) max = Math.Max(max, invLevels[q++]);
                int count = (int)(q - p);
                int docsInRange = Math.Min(1 << RangeShift, docCount - (range << RangeShift));
                var entry = new SparseRangeEntry
                {
                    Count = count,
                    Range = (ushort)range,
                    MaxLevel = max,
                    Kind = SparseRangeEntry.Choose(count, docsInRange),
                };
                list.Add((entry, p));
                p = q;
            }
            plans[t] = [.. list];
        });
        var termRanges = new int[vocabSize + 1];
        int entryCount = 0;
        for (int t = 0; t < vocabSize; t++)
        {
            termRanges[t] = entryCount;
            entryCount += plans[t].Length;
        }
        termRanges[vocabSize] = entryCount;
        var entries = new SparseRangeEntry[entryCount];
        var entryPostings = new long[entryCount];
        long blobBytes = 0;
        for (int t = 0, e = 0; t < vocabSize; t++)
        {
            foreach (var (entry, postingStart) in plans[t])
            {
                int docsInRange = Math.Min(1 << RangeShift, docCount - (entry.Range << RangeShift));
                entries[e] = entry;
                entries[e].Offset = blobBytes;
                entryPostings[e] = postingStart;
                blobBytes += (SparseRangeEntry.Bytes(entry.Kind, entry.Count, docsInRange) + 7) & ~7L;
                e++;
            }
        }
        plans = null!;
        blobBytes += 16; // kernels may read up to 16 bytes past a block
        if (blobBytes > Array.MaxLength)
            throw new InvalidOperationException($"The exact postings of this segment need {blobBytes} bytes, more than one array holds; split the shard.");
        var blob = new byte[blobBytes];
        Parallel.For(0, entryCount, parallel, e =>
        {
            var entry = entries[e];
            int docsInRange = Math.Min(1 << RangeShift, docCount - (entry.Range << RangeShift));
            Encode(blob, entry, docsInRange, invDocs, invLevels, entryPostings[e]);
        });
        entryPostings = null!;

        var seismic = new SeismicBuilder(fwdOffsets, fwdTerms, fwdLevels, termStart, invDocs, invLevels, vocabSize, options);
        seismic.Build();
        invDocs = null!;
        invLevels = null!;

        var meta = new SparseSegmentMeta
        {
            LayoutVersion = 1,
            DocCount = docCount,
            PostingCount = postings,
            VocabSize = vocabSize,
            RangeShift = RangeShift,
            MaxWeight = options.MaxWeight,
            RangeEntryCount = entries.Length,
            SeismicPostingCount = seismic.Docs.LongLength,
            SummaryEntryCount = seismic.SummaryTerms.LongLength,
            BlockCount = seismic.BlockDocStarts.Length - 1,
            PostingsPerTerm = options.PostingsPerTerm,
            CentroidFraction = options.CentroidFraction,
            SummaryEnergy = options.SummaryEnergy,
            SummaryMaxTerms = options.SummaryMaxTerms,
            MaxBlockSize = options.MaxBlockSize,
            ClusteringTerms = options.ClusteringTerms,
            Seed = options.Seed,
        };

        using var writer = new SegmentFileWriter(path, SegmentKind.Sparse);
        writer.BeginSection(SparseSections.Meta);
        writer.WriteValue(meta);
        writer.EndSection();
        WriteStrings(writer, SparseSections.IdBytes, SparseSections.IdOffsets, docCount, i => ids[i]);
        var textPresent = new ulong[(docCount + 63) / 64];
        for (int i = 0; i < docCount; i++)
            if (docs[order[i]].Text is not null) textPresent[i >> 6] |= 1UL << (i & 63);
        WriteStrings(writer, SparseSections.TextBytes, SparseSections.TextOffsets, docCount, i => docs[order[i]].Text ?? "");
        writer.WriteSection<ulong>(SparseSections.TextPresent, textPresent);
        writer.WriteSection<long>(SparseSections.ForwardOffsets, fwdOffsets);
        WriteForward(writer, fwdOffsets, fwdTerms, fwdLevels);
        writer.WriteSection<int>(SparseSections.TermRanges, termRanges);
        writer.WriteSection<SparseRangeEntry>(SparseSections.RangeEntries, entries);
        writer.WriteSection<byte>(SparseSections.PostingData, blob);
        writer.WriteSection<int>(SparseSections.TermBlocks, seismic.TermBlocks);
        writer.WriteSection<uint>(SparseSections.BlockDocStarts, seismic.BlockDocStarts);
        writer.WriteSection<uint>(SparseSections.BlockSummaryStarts, seismic.BlockSummaryStarts);
        writer.WriteSection<uint>(SparseSections.SeismicDocs, seismic.Docs);
        writer.WriteSection<ushort>(SparseSections.SummaryTerms, seismic.SummaryTerms);
        writer.WriteSection<byte>(SparseSections.SummaryLevels, seismic.SummaryLevels);
        writer.Complete();
        return new FileInfo(Path.GetFullPath(path)).Length;
    }

    // Interleaved per document (terms then levels) so that scoring one document reads one contiguous region.
    private static void WriteForward(SegmentFileWriter writer, long[] offsets, ushort[] terms, byte[] levels)
    {
        writer.BeginSection(SparseSections.ForwardData);
        var buffer = new byte[1 << 20];
        int used = 0;
        int docCount = offsets.Length - 1;
        for (int d = 0; d < docCount; d++)
        {
            int n = (int)(offsets[d + 1] - offsets[d]);
            if (used + 3 * n > buffer.Length)
            {
                writer.Write(buffer.AsSpan(0, used));
                used = 0;
                if (3 * n > buffer.Length) buffer = new byte[3 * n];
            }
            System.Runtime.InteropServices.MemoryMarshal.AsBytes(terms.AsSpan((int)offsets[d], n)).CopyTo(buffer.AsSpan(used));
            levels.AsSpan((int)offsets[d], n).CopyTo(buffer.AsSpan(used + 2 * n));
            used += 3 * n;
        }
        writer.Write(buffer.AsSpan(0, used));
        writer.Write(new byte[16]);
        writer.EndSection();
    }

    private static (int From, int To) ChunkBounds(int chunk, int chunks, int count) =>
        ((int)((long)count * chunk / chunks), (int)((long)count * (chunk + 1) / chunks));

    private static void Encode(byte[] blob, SparseRangeEntry entry, int docsInRange, int[] invDocs, byte[] invLevels, long start)
    {
        int rangeBase = entry.Range << RangeShift;
        var span = blob.AsSpan((int)entry.Offset, (int)SparseRangeEntry.Bytes(entry.Kind, entry.Count, docsInRange));
        switch (entry.Kind)
        {
            case SparseRangeEntry.Sparse:
                var lows = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ushort>(span[..(2 * entry.Count)]);
                for (int i = 0; i < entry.Count; i++)
                {
                    lows[i] = (ushort)(invDocs[start + i] - rangeBase);
                    span[2 * entry.Count + i] = invLevels[start + i];
                }
                break;
            case SparseRangeEntry.Bitmap:
                int words = (docsInRange + 63) / 64;
                var bits = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ulong>(span[..(8 * words)]);
                for (int i = 0; i < entry.Count; i++)
                {
                    int low = invDocs[start + i] - rangeBase;
                    bits[low >> 6] |= 1UL << (low & 63);
                    span[8 * words + i] = invLevels[start + i];
                }
                break;
            default:
                for (int i = 0; i < entry.Count; i++) span[invDocs[start + i] - rangeBase] = invLevels[start + i];
                break;
        }
    }

    private static void WriteStrings(SegmentFileWriter writer, uint bytesSection, uint offsetsSection, int count, Func<int, string> get)
    {
        var offsets = new long[count + 1];
        writer.BeginSection(bytesSection);
        var buffer = new byte[1 << 16];
        long at = 0;
        for (int i = 0; i < count; i++)
        {
            string s = get(i);
            int max = Encoding.UTF8.GetMaxByteCount(s.Length);
            if (max > buffer.Length) buffer = new byte[Math.Max(max, buffer.Length * 2)];
            int n = Encoding.UTF8.GetBytes(s, buffer);
            writer.Write(buffer.AsSpan(0, n));
            at += n;
            offsets[i + 1] = at;
        }
        writer.EndSection();
        writer.WriteSection<long>(offsetsSection, offsets);
    }
}
