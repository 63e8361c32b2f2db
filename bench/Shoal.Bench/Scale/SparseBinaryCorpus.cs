using System.Buffers;
using System.Globalization;
using Shoal.Bench.Index;
using Shoal.Bench.Sparse;
using Shoal.Engine.Indexing;
using Shoal.Engine.Ingest;

namespace Shoal.Bench.Scale;

/// <summary>
/// sparse-N as a SHOALSPV file (<see cref="SparseBinaryFormat"/>): the documents of
/// <see cref="SparseBenchData"/> (same seed, same rows, ids <c>d000000000</c>...), written chunk by
/// chunk as they are generated, so a 10M corpus never sits in memory whole (the CSR generator holds
/// ~1 KB per document). Term ids are bert-base-uncased's line numbers, as in
/// <see cref="SparseJsonCorpus"/>. File: <c>&lt;dir&gt;/sparse-&lt;docs&gt;-s&lt;seed&gt;.shoalspv</c> (+ <c>.meta</c>).
/// </summary>
internal static class SparseBinaryCorpus
{
    public static string PathOf(string dir, int docs, long seed) => Path.Combine(dir, $"sparse-{docs}-s{seed}.shoalspv");

    /// <summary>The binary corpus, generated unless a current one is there.</summary>
    public static (string Path, bool Reused) Ensure(string dir, int docs, long seed, int threads)
    {
        string path = PathOf(dir, docs, seed);
        string parameters = string.Create(CultureInfo.InvariantCulture,
            $"sparse-shoalspv/1 docs={docs} seed={seed} vocabulary={SparseBenchData.Vocabulary} zipf={SparseBenchData.ZipfExponent} length=lognormal({SparseBenchData.DocLengthMedian},{SparseBenchData.DocLengthSigma})");
        if (GeneratedFile.IsCurrent(path, parameters)) return (path, true);
        var popularity = SparseBenchData.PopularityOf(seed);
        int chunks = (docs + SparseBenchData.ChunkRows - 1) / SparseBenchData.ChunkRows;
        GeneratedFile.Write(path, parameters, temp => GeneratedFile.WriteChunks(temp, chunks, threads, c =>
        {
            var (lengths, terms, weights) = SparseBenchData.GenerateDocumentChunk(c, docs, seed, popularity, new int[SparseBenchData.Vocabulary]);
            var output = new ArrayBufferWriter<byte>(lengths.Length * 32 + terms.Length * 8);
            int at = 0, row = c * SparseBenchData.ChunkRows;
            foreach (int n in lengths)
            {
                SparseBinaryFormat.WriteRecord(output, SparseBenchData.DocId(row++), null, terms.AsSpan(at, n), weights.AsSpan(at, n));
                at += n;
            }
            return output.WrittenSpan.ToArray();
        }, SparseBinaryFormat.Header(SparseBenchData.Vocabulary)));
        return (path, false);
    }
}
