using System.Runtime.InteropServices;
using System.Text;
using Shoal.Engine.Segments;

namespace Shoal.Engine.Dense;

/// <summary>
/// Builds an immutable dense segment file (<see cref="SegmentKind.Dense"/>) from ids and vectors.
/// </summary>
/// <remarks>
/// Documents are renumbered in ordinal order of their ids (<see cref="string.CompareOrdinal(string, string)"/>),
/// so a segment-local doc id orders like the external id and the cluster's merge order
/// (score descending, external id ascending) equals the in-segment tie-break. For
/// <see cref="DenseMetric.Cosine"/> the rows are L2-normalised before they are encoded. The HNSW graph
/// is built over the float32 originals when the segment keeps them (float32 storage, or
/// <see cref="DenseBuildOptions.StoreOriginals"/>), else over the vectors as stored (after quantisation),
/// in parallel over <see cref="DenseBuildOptions.EffectiveThreads"/> threads; its insertion searches
/// traverse int8 rows (the int8 storage itself, or the navigation copy of
/// <see cref="DenseBuildOptions.Int8Navigation"/>) when there are any. Peak memory is about one
/// float32 copy of the vectors plus the encoded rows, the navigation copy and the graph
/// (<c>(2M + 1) * 4</c> bytes per vector).
/// </remarks>
public static unsafe class DenseSegmentWriter
{
    private const int PrepareChunk = 4096;

    /// <summary>
    /// Writes a dense segment to <paramref name="path"/> (atomically: under a temporary name, then
    /// renamed) and returns its size in bytes.
    /// </summary>
    /// <param name="path">Destination file.</param>
    /// <param name="ids">External ids, unique and non-empty.</param>
    /// <param name="vectors">Row-major vectors, <c>ids.Count * options.Dims</c> finite floats; row <c>i</c> belongs to <c>ids[i]</c>.</param>
    /// <param name="options">Dimensions, metric, storage and graph parameters.</param>
    /// <exception cref="ArgumentException">Duplicate or empty ids, a wrong number of floats, a NaN or
    /// infinite component, or (Float16 storage) a component beyond the binary16 range; the message names the id.</exception>
    public static long Write(string path, IReadOnlyList<string> ids, ReadOnlySpan<float> vectors, DenseBuildOptions options) =>
        Write(path, ids, vectors, options, out _);

    /// <summary>As <see cref="Write(string, IReadOnlyList{string}, ReadOnlySpan{float}, DenseBuildOptions)"/>, also reporting where the time went.</summary>
    public static long Write(string path, IReadOnlyList<string> ids, ReadOnlySpan<float> vectors, DenseBuildOptions options,
        out DenseBuildStatistics statistics)
    {
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(ids);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        int dims = options.Dims;
        int count = ids.Count;
        if ((long)count * dims != vectors.Length)
            throw new ArgumentException($"{vectors.Length} floats given for {count} vectors of {dims} dimensions (expected {(long)count * dims}).", nameof(vectors));

        var sortedIds = new string[count];
        var order = new int[count];
        for (int i = 0; i < count; i++)
        {
            sortedIds[i] = string.IsNullOrEmpty(ids[i]) ? throw new ArgumentException($"The id at position {i} is null or empty.", nameof(ids)) : ids[i];
            order[i] = i;
        }
        Array.Sort(sortedIds, order, StringComparer.Ordinal);
        for (int i = 1; i < count; i++)
        {
            if (string.Equals(sortedIds[i], sortedIds[i - 1], StringComparison.Ordinal))
                throw new ArgumentException($"Duplicate id '{sortedIds[i]}'.", nameof(ids));
        }

        int threads = options.EffectiveThreads;
        long floats = (long)count * dims;
        float* work = null;
        byte* codes = null;
        sbyte* nav = null;
        HnswGraphBuilder? graph = null;
        try
        {
            work = (float*)LargePageMemory.Alloc(floats * sizeof(float));
            float[]? scales = options.Storage == DenseStorage.Int8 ? new float[count] : null;
            if (options.Storage != DenseStorage.Float32)
                codes = (byte*)LargePageMemory.Alloc(floats * ElementSize(options.Storage));
            bool originals = options.EffectiveStoreOriginals;
            bool navigation = options.BuildAnnIndex && options.Int8Navigation && options.Storage != DenseStorage.Int8 && count > 0;
            float[]? navScales = navigation ? new float[count] : null;
            if (navigation) nav = (sbyte*)LargePageMemory.Alloc(floats);
            string? invalid;
            fixed (float* src = vectors)
            {
                invalid = Prepare(src, order, ids, work, codes, scales, nav, navScales, count, options, originals, threads);
            }
            if (invalid is not null) throw new ArgumentException(invalid, nameof(vectors));

            long prepared = System.Diagnostics.Stopwatch.GetTimestamp();
            if (options.BuildAnnIndex && count > 0)
            {
                var p = options.EffectiveHnsw;
                // Int8 rows with float32 originals: the rows themselves are the traversal copy.
                bool int8Rows = originals && options.Storage == DenseStorage.Int8;
                fixed (float* navScalesPtr = navScales)
                fixed (float* scalesPtr = scales)
                {
                    graph = int8Rows
                        ? new HnswGraphBuilder(work, (sbyte*)codes, scalesPtr, count, dims, p)
                        : new HnswGraphBuilder(work, nav, navScalesPtr, count, dims, p);
                    graph.Build(threads, p.Seed);
                }
            }

            long built = System.Diagnostics.Stopwatch.GetTimestamp();
            using var w = new SegmentFileWriter(path, SegmentKind.Dense);
            var hnsw = options.EffectiveHnsw;
            (int[] Offsets, int[] Links) upper = graph is null ? ([], []) : graph.FlattenUpper();
            var meta = new DenseSegmentMeta
            {
                Count = count,
                Dims = dims,
                Metric = (int)options.Metric,
                Storage = (int)options.Storage,
                HasAnn = graph is null ? 0 : 1,
                M = hnsw.M,
                MaxM0 = 2 * hnsw.M,
                EfConstruction = hnsw.EfConstruction,
                Seed = hnsw.Seed,
                MaxLevel = graph?.MaxLevel ?? -1,
                EntryPoint = graph?.EntryPoint ?? -1,
                UpperLinkCount = upper.Links.Length,
                HasNavigation = graph is not null && navScales is not null ? 1 : 0,
            };
            w.WriteSection(DenseSections.Meta, new ReadOnlySpan<DenseSegmentMeta>(in meta));

            w.BeginSection(DenseSections.Vectors);
            byte* rows = options.Storage == DenseStorage.Float32 ? (byte*)work : codes;
            long bytes = floats * ElementSize(options.Storage);
            const int Chunk = 1 << 26;
            for (long done = 0; done < bytes; done += Chunk)
                w.Write(new ReadOnlySpan<byte>(rows + done, (int)Math.Min(Chunk, bytes - done)));
            w.EndSection();
            if (scales is not null) w.WriteSection<float>(DenseSections.Scales, scales);
            if (originals)
            {
                w.BeginSection(DenseSections.Originals);
                long originalBytes = floats * sizeof(float);
                for (long done = 0; done < originalBytes; done += Chunk)
                    w.Write(new ReadOnlySpan<byte>((byte*)work + done, (int)Math.Min(Chunk, originalBytes - done)));
                w.EndSection();
            }
            var rescore = new DenseRescoreMeta { Oversample = options.Oversample, HasOriginals = originals ? 1 : 0 };
            w.WriteSection(DenseSections.Rescore, new ReadOnlySpan<DenseRescoreMeta>(in rescore));

            WriteIds(w, sortedIds);
            if (graph is not null)
            {
                w.WriteSection<int>(DenseSections.Links0, graph.Links0);
                w.WriteSection<byte>(DenseSections.Levels, graph.Levels);
                w.WriteSection<int>(DenseSections.UpperOffsets, upper.Offsets);
                w.WriteSection<int>(DenseSections.UpperLinks, upper.Links);
                if (meta.HasNavigation != 0)
                {
                    w.BeginSection(DenseSections.NavCodes);
                    for (long done = 0; done < floats; done += Chunk)
                        w.Write(new ReadOnlySpan<byte>((byte*)nav + done, (int)Math.Min(Chunk, floats - done)));
                    w.EndSection();
                    w.WriteSection<float>(DenseSections.NavScales, navScales);
                }
            }
            w.Complete();
            long bytesWritten = new FileInfo(path).Length;
            statistics = new DenseBuildStatistics(System.Diagnostics.Stopwatch.GetElapsedTime(start, prepared),
                System.Diagnostics.Stopwatch.GetElapsedTime(prepared, built), System.Diagnostics.Stopwatch.GetElapsedTime(built), bytesWritten);
            return bytesWritten;
        }
        finally
        {
            LargePageMemory.Free(work);
            LargePageMemory.Free(codes);
            LargePageMemory.Free(nav);
            graph?.Dispose();
        }
    }

    internal static int ElementSize(DenseStorage storage) => storage switch
    {
        DenseStorage.Float32 => 4,
        DenseStorage.Float16 => 2,
        _ => 1,
    };

    private static void WriteIds(SegmentFileWriter w, string[] sortedIds)
    {
        var offsets = new long[sortedIds.Length + 1];
        var buffer = new byte[256];
        w.BeginSection(DenseSections.IdBytes);
        long pos = 0;
        for (int i = 0; i < sortedIds.Length; i++)
        {
            int max = Encoding.UTF8.GetMaxByteCount(sortedIds[i].Length);
            if (buffer.Length < max) buffer = new byte[max];
            int n = Encoding.UTF8.GetBytes(sortedIds[i], buffer);
            w.Write(buffer.AsSpan(0, n));
            pos += n;
            offsets[i + 1] = pos;
        }
        w.EndSection();
        w.WriteSection<long>(DenseSections.IdOffsets, offsets);
    }

    /// <summary>
    /// Copies the rows into doc order, checks them, normalises (cosine) and encodes them. Afterwards
    /// <paramref name="work"/> holds the float32 originals when <paramref name="originals"/> (or the storage is
    /// float32), else the vectors as the encoded rows give them back (decoded and scaled).
    /// Returns null, or what is wrong with the first invalid vector (by input position).
    /// </summary>
    private static string? Prepare(float* src, int[] order, IReadOnlyList<string> ids, float* work, byte* codes, float[]? scales,
        sbyte* nav, float[]? navScales, int count, DenseBuildOptions options, bool originals, int threads)
    {
        int dims = options.Dims;
        nint srcAddr = (nint)src, workAddr = (nint)work, codesAddr = (nint)codes, navAddr = (nint)nav;
        int firstBad = int.MaxValue;
        string? badReason = null;
        var gate = new object();
        int chunks = (count + PrepareChunk - 1) / PrepareChunk;
        Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = threads }, chunk =>
        {
            int end = Math.Min(count, (chunk + 1) * PrepareChunk);
            for (int doc = chunk * PrepareChunk; doc < end; doc++)
            {
                var from = new ReadOnlySpan<float>((float*)srcAddr + (long)order[doc] * dims, dims);
                var row = new Span<float>((float*)workAddr + (long)doc * dims, dims);
                from.CopyTo(row);
                string? reason = null;
                if (!DenseKernels.AllFinite(row, out int bad)) reason = $"component {bad} is NaN or infinite";
                else
                {
                    if (options.Metric == DenseMetric.Cosine) DenseKernels.Normalize(row);
                    if (options.Storage == DenseStorage.Float16) reason = EncodeHalf(row, (Half*)codesAddr + (long)doc * dims, !originals);
                    else if (options.Storage == DenseStorage.Int8) scales![doc] = EncodeInt8(row, (sbyte*)codesAddr + (long)doc * dims, !originals);
                    if (reason is null && navScales is not null) navScales[doc] = DenseKernels.QuantizeInt8(row, (sbyte*)navAddr + (long)doc * dims);
                }
                if (reason is not null)
                {
                    lock (gate)
                    {
                        if (order[doc] < firstBad)
                        {
                            firstBad = order[doc];
                            badReason = reason;
                        }
                    }
                }
            }
        });
        return badReason is null ? null : $"The vector of id '{ids[firstBad]}' (position {firstBad}) is invalid: {badReason}.";
    }

    /// <summary>Rounds to binary16 (subnormals become zero) and, when <paramref name="writeBack"/>, writes back the decoded value.</summary>
    private static string? EncodeHalf(Span<float> row, Half* dst, bool writeBack)
    {
        for (int j = 0; j < row.Length; j++)
        {
            Half h = (Half)row[j];
            if (Half.IsInfinity(h)) return $"component {j} ({row[j]}) is beyond the Float16 range (|x| <= 65504)";
            if (Half.IsSubnormal(h)) h = float.IsNegative(row[j]) ? Half.NegativeZero : Half.Zero;
            dst[j] = h;
            if (writeBack) row[j] = (float)h;
        }
        return null;
    }

    /// <summary>Symmetric per-vector int8 quantisation; returns the scale and, when <paramref name="writeBack"/>, writes back <c>scale * code</c>.</summary>
    private static float EncodeInt8(Span<float> row, sbyte* dst, bool writeBack)
    {
        float scale = DenseKernels.QuantizeInt8(row, dst);
        if (!writeBack) return scale;
        for (int j = 0; j < row.Length; j++) row[j] = scale * dst[j];
        return scale;
    }
}
