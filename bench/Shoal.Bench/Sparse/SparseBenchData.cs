// sparse-1M benchmark data: generation and the binary file format shared with the peers.
//
// Two files per data set, written by Shoal's bench tool and read by bench/peers/scipy_sparse.py:
//   <dir>/sparse-<docs>-s<seed>.docs.bin        documents
//   <dir>/sparse-<docs>-s<seed>-q<n>.queries.bin queries
// Both are little-endian CSR matrices (rows = documents or queries, columns = term ids):
//   offset  size  field
//   0       8     magic: "SHSPDOC1" (documents) or "SHSPQRY1" (queries), ASCII
//   8       4     u32 format version = 1
//   12      4     u32 vocabulary size (columns) = 30522
//   16      8     u64 rows
//   24      8     u64 nnz (non-zeros)
//   32      8     u64 seed
//   40      4     f32 largest weight in the file
//   44      4     u32 reserved = 0
//   48      8     f64 row length: median of the log-normal
//   56      8     f64 row length: sigma of the log-normal
//   64      4     u32 row length: minimum (clip)
//   68      4     u32 row length: maximum (clip)
//   72      8     f64 Zipf exponent of term popularity
//   80      8     f64 sigma of the log-normal weights (mu = 0)
//   88      40    reserved, zero
//   128     8*(rows+1)  i64 indptr: row r's entries are [indptr[r], indptr[r+1])
//   ...     4*nnz       i32 indices (term ids), strictly ascending within a row
//   ...     4*nnz       f32 data (weights), > 0
// Document r has the external id "d" + r as 9 digits (ordinal order = row order).
//
// Generation (deterministic for a seed, whatever the thread count): a random permutation of the
// 30,522 term ids maps popularity rank to term id; ranks are drawn from Zipf(s = 0.9) (Vose's alias
// method); a document draws distinct terms until it has its length, log-normal with median 106 and
// sigma 0.5 (mean ~120), clipped to 10..400; weights are exp(0.6 * N(0,1)). Queries draw ~44 distinct
// terms from the same popularity (log-normal length, median 44, sigma 0.25, clipped 10..100) with
// weights exp(0.6 * N(0,1)). Documents are generated in chunks of 8,192, each from its own SplitMix64
// stream derived from (seed, chunk), so generation is parallel and reproducible.

using System.Buffers.Binary;
using System.Text;
using Shoal.Engine.Sparse;

namespace Shoal.Bench.Sparse;

/// <summary>Generates, writes and reads the sparse-1M benchmark data (format in the file header comment).</summary>
internal static class SparseBenchData
{
    public const int Vocabulary = 30522;
    public const int HeaderSize = 128;
    public const double ZipfExponent = 0.9;
    public const double WeightSigma = 0.6;
    public const double DocLengthMedian = 106;
    public const double DocLengthSigma = 0.5;
    public const int DocLengthMin = 10;
    public const int DocLengthMax = 400;
    public const double QueryLengthMedian = 44;
    public const double QueryLengthSigma = 0.25;
    public const int QueryLengthMin = 10;
    public const int QueryLengthMax = 100;
    private const int Chunk = 8192;
    private static readonly byte[] DocMagic = "SHSPDOC1"u8.ToArray();
    private static readonly byte[] QueryMagic = "SHSPQRY1"u8.ToArray();

    public static string DocsPath(string dir, int docs, long seed) => Path.Combine(dir, $"sparse-{docs}-s{seed}.docs.bin");

    public static string QueriesPath(string dir, int docs, long seed, int queries) => Path.Combine(dir, $"sparse-{docs}-s{seed}-q{queries}.queries.bin");

    public static string DocId(int row) => "d" + row.ToString("D9", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>A generated or loaded CSR matrix.</summary>
    public sealed record Csr(long[] Indptr, int[] Indices, float[] Data, float MaxWeight)
    {
        public int Rows => Indptr.Length - 1;

        public SparseVector Row(int r)
        {
            long from = Indptr[r];
            int n = (int)(Indptr[r + 1] - from);
            return new SparseVector(Indices.AsSpan((int)from, n).ToArray(), Data.AsSpan((int)from, n).ToArray());
        }
    }

    /// <summary>Loads the file when it exists with matching parameters, else generates and writes it.</summary>
    public static (Csr Matrix, bool Reused) LoadOrCreate(string path, bool documents, int rows, long seed, int threads)
    {
        var expected = Header(documents, rows, 0, seed, 0);
        if (File.Exists(path))
        {
            var loaded = TryRead(path, expected);
            if (loaded is not null) return (loaded, true);
        }
        var csr = documents ? GenerateDocuments(rows, seed, threads) : GenerateQueries(rows, seed);
        Write(path, csr, documents, seed);
        return (csr, false);
    }

    private static byte[] Header(bool documents, long rows, long nnz, long seed, float maxWeight)
    {
        var h = new byte[HeaderSize];
        (documents ? DocMagic : QueryMagic).CopyTo(h, 0);
        var s = h.AsSpan();
        BinaryPrimitives.WriteUInt32LittleEndian(s[8..], 1);
        BinaryPrimitives.WriteUInt32LittleEndian(s[12..], Vocabulary);
        BinaryPrimitives.WriteInt64LittleEndian(s[16..], rows);
        BinaryPrimitives.WriteInt64LittleEndian(s[24..], nnz);
        BinaryPrimitives.WriteInt64LittleEndian(s[32..], seed);
        BinaryPrimitives.WriteSingleLittleEndian(s[40..], maxWeight);
        BinaryPrimitives.WriteDoubleLittleEndian(s[48..], documents ? DocLengthMedian : QueryLengthMedian);
        BinaryPrimitives.WriteDoubleLittleEndian(s[56..], documents ? DocLengthSigma : QueryLengthSigma);
        BinaryPrimitives.WriteUInt32LittleEndian(s[64..], (uint)(documents ? DocLengthMin : QueryLengthMin));
        BinaryPrimitives.WriteUInt32LittleEndian(s[68..], (uint)(documents ? DocLengthMax : QueryLengthMax));
        BinaryPrimitives.WriteDoubleLittleEndian(s[72..], ZipfExponent);
        BinaryPrimitives.WriteDoubleLittleEndian(s[80..], WeightSigma);
        return h;
    }

    private static Csr? TryRead(string path, byte[] expected)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        var header = new byte[HeaderSize];
        if (file.Read(header) != HeaderSize) return null;
        // Everything but nnz and max weight must match.
        var a = header.AsSpan();
        var b = expected.AsSpan();
        if (!a[..24].SequenceEqual(b[..24]) || !a[32..40].SequenceEqual(b[32..40]) || !a[44..].SequenceEqual(b[44..])) return null;
        long rows = BinaryPrimitives.ReadInt64LittleEndian(a[16..]);
        long nnz = BinaryPrimitives.ReadInt64LittleEndian(a[24..]);
        float maxWeight = BinaryPrimitives.ReadSingleLittleEndian(a[40..]);
        if (file.Length != HeaderSize + 8 * (rows + 1) + 8 * nnz) return null;
        var indptr = new long[rows + 1];
        var indices = new int[nnz];
        var data = new float[nnz];
        file.ReadExactly(System.Runtime.InteropServices.MemoryMarshal.AsBytes(indptr.AsSpan()));
        ReadLarge(file, System.Runtime.InteropServices.MemoryMarshal.AsBytes(indices.AsSpan()));
        ReadLarge(file, System.Runtime.InteropServices.MemoryMarshal.AsBytes(data.AsSpan()));
        return new Csr(indptr, indices, data, maxWeight);
    }

    private static void ReadLarge(Stream s, Span<byte> target)
    {
        while (!target.IsEmpty)
        {
            int n = s.Read(target[..Math.Min(target.Length, 1 << 26)]);
            if (n == 0) throw new EndOfStreamException();
            target = target[n..];
        }
    }

    private static void Write(string path, Csr csr, bool documents, long seed)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        string temp = path + ".tmp";
        using (var file = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
        {
            file.Write(Header(documents, csr.Rows, csr.Indices.LongLength, seed, csr.MaxWeight));
            file.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(csr.Indptr.AsSpan()));
            file.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(csr.Indices.AsSpan()));
            file.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(csr.Data.AsSpan()));
        }
        File.Move(temp, path, overwrite: true);
    }

    // ------------------------------------------------------------------ generation

    /// <summary>Rows per generation chunk (each chunk has its own random stream).</summary>
    public const int ChunkRows = Chunk;

    /// <summary>The term popularity of a seed: Zipf alias table over ranks and the rank to term id permutation.</summary>
    public sealed record PopularityTable(double[] Prob, int[] Alias, int[] Permutation);

    /// <summary>The popularity documents and queries of <paramref name="seed"/> draw from.</summary>
    public static PopularityTable PopularityOf(long seed)
    {
        var (prob, alias, permutation) = Popularity(seed);
        return new PopularityTable(prob, alias, permutation);
    }

    /// <summary>
    /// Chunk <paramref name="c"/> of the documents (rows <c>c * ChunkRows</c> on), exactly the rows
    /// <see cref="LoadOrCreate"/> generates there, so a corpus can be written chunk by chunk without
    /// holding the whole matrix. <paramref name="stamps"/> is scratch of <see cref="Vocabulary"/> ints,
    /// reusable across chunks of one thread.
    /// </summary>
    public static (int[] Lengths, int[] Terms, float[] Weights) GenerateDocumentChunk(int c, int rows, long seed, PopularityTable popularity, int[] stamps)
    {
        var rng = new SplitMix(seed, 1 + c);
        int from = c * Chunk, to = Math.Min(rows, from + Chunk);
        var lengths = new int[to - from];
        for (int r = 0; r < lengths.Length; r++)
            lengths[r] = Math.Clamp((int)Math.Round(DocLengthMedian * Math.Exp(DocLengthSigma * rng.Normal())), DocLengthMin, DocLengthMax);
        long total = lengths.Sum(l => (long)l);
        var terms = new int[total];
        var weights = new float[total];
        int at = 0;
        for (int r = 0; r < lengths.Length; r++)
        {
            int stamp = from + r + 1;
            Draw(ref rng, popularity.Prob, popularity.Alias, popularity.Permutation, stamps, stamp, terms.AsSpan(at, lengths[r]));
            Array.Sort(terms, at, lengths[r]);
            for (int i = 0; i < lengths[r]; i++) weights[at + i] = (float)Math.Exp(WeightSigma * rng.Normal());
            at += lengths[r];
        }
        return (lengths, terms, weights);
    }

    private static Csr GenerateDocuments(int rows, long seed, int threads)
    {
        var popularity = PopularityOf(seed);
        int chunks = (rows + Chunk - 1) / Chunk;
        var chunkTerms = new int[chunks][];
        var chunkWeights = new float[chunks][];
        var chunkLengths = new int[chunks][];
        Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = threads }, () => new int[Vocabulary], (c, _, stamps) =>
        {
            (chunkLengths[c], chunkTerms[c], chunkWeights[c]) = GenerateDocumentChunk(c, rows, seed, popularity, stamps);
            return stamps;
        }, _ => { });
        return Assemble(rows, chunkTerms, chunkWeights, chunkLengths);
    }

    private static Csr GenerateQueries(int rows, long seed)
    {
        var (prob, alias, permutation) = Popularity(seed);
        var rng = new SplitMix(seed, -1);
        var stamps = new int[Vocabulary];
        var lengths = new int[rows];
        var terms = new List<int>();
        var weights = new List<float>();
        for (int q = 0; q < rows; q++)
        {
            int n = Math.Clamp((int)Math.Round(QueryLengthMedian * Math.Exp(QueryLengthSigma * rng.Normal())), QueryLengthMin, QueryLengthMax);
            var row = new int[n];
            Draw(ref rng, prob, alias, permutation, stamps, q + 1, row);
            Array.Sort(row);
            lengths[q] = n;
            terms.AddRange(row);
            for (int i = 0; i < n; i++) weights.Add((float)Math.Exp(WeightSigma * rng.Normal()));
        }
        return Assemble(rows, [terms.ToArray()], [weights.ToArray()], [lengths]);
    }

    private static Csr Assemble(int rows, int[][] terms, float[][] weights, int[][] lengths)
    {
        var indptr = new long[rows + 1];
        int r = 0;
        foreach (var chunk in lengths)
            foreach (int l in chunk) { indptr[r + 1] = indptr[r] + l; r++; }
        long nnz = indptr[rows];
        var indices = new int[nnz];
        var data = new float[nnz];
        long at = 0;
        float max = 0;
        for (int c = 0; c < terms.Length; c++)
        {
            terms[c].CopyTo(indices, at);
            weights[c].CopyTo(data, at);
            foreach (float w in weights[c]) max = Math.Max(max, w);
            at += terms[c].Length;
            terms[c] = [];
            weights[c] = [];
        }
        return new Csr(indptr, indices, data, max);
    }

    private static void Draw(ref SplitMix rng, double[] prob, int[] alias, int[] permutation, int[] stamps, int stamp, Span<int> output)
    {
        int n = 0;
        while (n < output.Length)
        {
            int term = permutation[SampleAlias(ref rng, prob, alias)];
            if (stamps[term] == stamp) continue;
            stamps[term] = stamp;
            output[n++] = term;
        }
    }

    // Zipf(s) over popularity ranks as a Vose alias table, and the rank -> term id permutation.
    private static (double[] Prob, int[] Alias, int[] Permutation) Popularity(long seed)
    {
        int n = Vocabulary;
        var (prob, alias) = ZipfAlias(n, ZipfExponent);
        var permutation = new int[n];
        for (int i = 0; i < n; i++) permutation[i] = i;
        var rng = new SplitMix(seed, 0);
        for (int i = n - 1; i > 0; i--)
        {
            int j = (int)(rng.Next() % (ulong)(i + 1));
            (permutation[i], permutation[j]) = (permutation[j], permutation[i]);
        }
        return (prob, alias, permutation);
    }

    /// <summary>
    /// Zipf(<paramref name="exponent"/>) over ranks 0..n-1 (rank r has weight (r+1)^-s) as a Vose
    /// alias table; draw with <see cref="SampleAlias"/>. Shared by the sparse and text generators.
    /// </summary>
    internal static (double[] Prob, int[] Alias) ZipfAlias(int n, double exponent)
    {
        var p = new double[n];
        double sum = 0;
        for (int i = 0; i < n; i++) sum += p[i] = Math.Pow(i + 1, -exponent);
        for (int i = 0; i < n; i++) p[i] = p[i] / sum * n;
        var prob = new double[n];
        var alias = new int[n];
        var small = new Stack<int>();
        var large = new Stack<int>();
        for (int i = n - 1; i >= 0; i--) (p[i] < 1 ? small : large).Push(i);
        while (small.Count > 0 && large.Count > 0)
        {
            int s = small.Pop(), l = large.Pop();
            prob[s] = p[s];
            alias[s] = l;
            p[l] = p[l] + p[s] - 1;
            (p[l] < 1 ? small : large).Push(l);
        }
        while (large.Count > 0) { int l = large.Pop(); prob[l] = 1; alias[l] = l; }
        while (small.Count > 0) { int s = small.Pop(); prob[s] = 1; alias[s] = s; }
        return (prob, alias);
    }

    /// <summary>One draw from an alias table of <paramref name="prob"/>.Length entries (one 64-bit random number).</summary>
    internal static int SampleAlias(ref SplitMix rng, double[] prob, int[] alias)
    {
        ulong u = rng.Next();
        int i = (int)(((u >> 32) * (ulong)prob.Length) >> 32);
        return (u & 0xFFFFFFFFUL) * (1.0 / 4294967296.0) < prob[i] ? i : alias[i];
    }

    /// <summary>SplitMix64 (Steele, Lea and Flood, 2014): a small, fast, seedable generator with independent streams.</summary>
    internal struct SplitMix(long seed, long stream)
    {
        private ulong _state = Mix((ulong)seed * 0x9E3779B97F4A7C15UL + Mix((ulong)stream + 0x632BE59BD9B4E019UL));
        private double _spare = double.NaN;

        private static ulong Mix(ulong z)
        {
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }

        public ulong Next() => Mix(_state += 0x9E3779B97F4A7C15UL);

        public double Uniform() => ((Next() >> 11) + 0.5) * (1.0 / 9007199254740992.0);

        // Box-Muller, both values used.
        public double Normal()
        {
            if (!double.IsNaN(_spare))
            {
                double s = _spare;
                _spare = double.NaN;
                return s;
            }
            double r = Math.Sqrt(-2.0 * Math.Log(Uniform()));
            double theta = 2 * Math.PI * Uniform();
            _spare = r * Math.Sin(theta);
            return r * Math.Cos(theta);
        }
    }

    /// <summary>Describes the data for the report.</summary>
    public static string Describe(Csr docs, Csr queries)
    {
        var sb = new StringBuilder();
        sb.Append(System.Globalization.CultureInfo.InvariantCulture,
            $"{docs.Rows:N0} docs, {docs.Indices.LongLength:N0} postings ({(double)docs.Indices.LongLength / Math.Max(1, docs.Rows):F1}/doc), max weight {docs.MaxWeight:F3}; ");
        sb.Append(System.Globalization.CultureInfo.InvariantCulture,
            $"{queries.Rows} queries, {(double)queries.Indices.LongLength / Math.Max(1, queries.Rows):F1} terms/query");
        return sb.ToString();
    }
}
