using System.Text;
using Shoal.Engine.Dense;
using Shoal.Evaluation;
using Shoal.Engine.Indexing;
using Shoal.Engine.Ingest;
using Shoal.Engine.Segments;
using Shoal.Engine.Snapshots;
using Shoal.Engine.Sparse;
using Shoal.Engine.Text;
using Shoal.Engine.Updates;

// Fuzzing targets: each reads one input and must either succeed or throw the parser's defined
// error. Any other exception escapes and afl-fuzz records the input as a crash; a hang is a timeout.
//   dotnet Shoal.Fuzz.dll <target>                 run under afl-fuzz (SharpFuzz out-of-process)
//   dotnet Shoal.Fuzz.dll <target> --replay FILE…  run inputs once (reproduce a crash, smoke test)
var targets = new Dictionary<string, Action<byte[]>>(StringComparer.Ordinal)
{
    ["update-batch"] = data => Expect<InvalidDataException>(() => UpdateBatchCodec.Decode(data, "fuzz")),
    ["manifest"] = data => Expect<InvalidDataException>(() => IndexManifest.FromJson(data, "fuzz")),
    ["corpus-line"] = data =>
    {
        foreach (var format in new[] { CorpusFormat.BeirJsonl, CorpusFormat.MsMarcoV2Jsonl, CorpusFormat.Tsv })
            if (CorpusLineParser.TryParse(data, format, out string? reason) is null && reason is null) throw new InvalidOperationException("neither document nor reason");
    },
    ["sparse-line"] = data =>
    {
        CorpusLineParser.TryParseSparse(data, FuzzData.Vocabulary, out _);
        CorpusLineParser.TryParseSparseQuery(data, FuzzData.Vocabulary, out _);
    },
    ["dense-line"] = data =>
    {
        if (CorpusLineParser.TryParseDense(data, 0, out _) is { } v && !v.Vector.All(float.IsFinite)) throw new InvalidOperationException("non-finite component accepted");
        CorpusLineParser.TryParseDense(data, 4, out _);
    },
    ["shoalvec"] = data => FuzzData.WithFile(data, path => Expect<FormatException>(() => _ = DenseVectorReader.Read(path, null).ToList())),
    ["qrels"] = data => FuzzData.WithFile(data, path => Expect<FormatException>(() => Qrels.Load(path))),
    ["run"] = data => FuzzData.WithFile(data, path => Expect<FormatException>(() => RunFile.Load(path))),
    ["topics"] = data => FuzzData.WithFile(data, path => Expect<FormatException>(() => TopicReader.Load(path))),
    ["corpus-file"] = data => FuzzData.WithFile(data, path => Expect<FormatException>(() => _ = CorpusReader.Read(path, CorpusFormat.BeirJsonl).ToList())),
    ["text-segment"] = data => FuzzData.WithFile(data, path => Expect<CorruptSegmentException>(() =>
    {
        using var seg = TextSegment.Open(path, verifyChecksums: false);
        foreach (var hit in seg.Search(TextQuery.FromTokens(["w0", "w1", "w2"]), 10)) _ = seg.GetId(hit.DocId) + seg.GetText(hit.DocId);
    })),
    // Segments opened without their checksums, so mutations reach the structural checks that guard the raw-pointer reads.
    ["sparse-segment"] = data => FuzzData.WithFile(data, path => Expect<CorruptSegmentException>(() =>
    {
        using var seg = SparseSegment.Open(path, verifyChecksums: false);
        var query = new SparseVector([1, 5, 9], [1f, 0.5f, 2f]);
        foreach (var hit in seg.SearchExact(query, 10)) _ = seg.GetId(hit.DocId);
        foreach (var hit in seg.SearchApproximate(query, 10, SeismicSearchParameters.Default)) _ = seg.GetId(hit.DocId);
    })),
    ["dense-segment"] = data => FuzzData.WithFile(data, path => Expect<CorruptSegmentException>(() =>
    {
        using var seg = DenseSegment.Open(path, verifyChecksums: false);
        var query = new float[seg.Dims];
        if (query.Length > 0) query[0] = 1f;
        foreach (var hit in seg.SearchExact(query, 5)) _ = seg.GetId(hit.DocId);
        foreach (var hit in seg.SearchApproximate(query, 5, 16)) _ = seg.GetId(hit.DocId);
    })),
    ["vocabulary"] = data => FuzzData.WithFile(data, path => Expect<FormatException>(() => SparseVocabulary.Load(path))),
    ["sparse-queries"] = data => FuzzData.WithFile(data, path => Expect<FormatException>(() => SparseCorpusReader.ReadQueries(path, FuzzData.Vocabulary))),
};

if (args is ["--write-seeds", var seedRoot])
{
    FuzzData.WriteSeeds(seedRoot);
    return 0;
}
if (args.Length < 1 || !targets.TryGetValue(args[0], out var target))
{
    Console.Error.WriteLine($"usage: Shoal.Fuzz <{string.Join('|', targets.Keys)}> [--replay FILE...]");
    return 2;
}
if (args.Length > 1 && args[1] == "--replay")
{
    foreach (var file in args.Skip(2))
    {
        target(File.ReadAllBytes(file));
        Console.WriteLine($"ok {file}");
    }
    return 0;
}
SharpFuzz.Fuzzer.OutOfProcess.Run(stream =>
{
    using var buffer = new MemoryStream();
    stream.CopyTo(buffer);
    target(buffer.ToArray());
});
return 0;

static void Expect<TDefined>(Action parse) where TDefined : Exception
{
    try
    {
        parse();
    }
    catch (TDefined)
    {
        // The parser's defined error: the input was refused cleanly.
    }
}

internal static class FuzzData
{
    public static readonly SparseVocabulary Vocabulary = SparseVocabulary.FromTokens(["tide", "moon", "sea", "##s"]);

    private static readonly string Scratch = Path.Combine(Path.GetTempPath(), $"shoal-fuzz-{Environment.ProcessId}");

    /// <summary>Writes one small valid input per target under <paramref name="root"/>/&lt;target&gt;/, the starting corpus of afl-fuzz.</summary>
    public static void WriteSeeds(string root)
    {
        void Seed(string target, string name, byte[] data)
        {
            Directory.CreateDirectory(Path.Combine(root, target));
            File.WriteAllBytes(Path.Combine(root, target, name), data);
        }
        var created = new DateTimeOffset(2026, 12, 4, 0, 0, 0, TimeSpan.Zero);
        Seed("update-batch", "batch", UpdateBatchCodec.Encode(new UpdateBatch(3, created,
            [new DocumentUpdate { Id = "d1", Title = "Tides", Text = "the moon", SparseTerms = [1, 2], SparseWeights = [0.5f, 1f], Dense = [1f, 2f] },
             new DocumentUpdate { Id = "d2", Delete = true }])));
        Seed("manifest", "manifest.json", new IndexManifest
        {
            Index = "docs", Version = 2, CreatedUtc = created, ShardCount = 1, Schema = IndexSchema.DefaultText, DocCount = 3,
            Shards = [new ShardManifest(0, 3, [new SegmentManifest("docs/v2/0.seg", 1000, "0123456789abcdef")])],
        }.ToJson());
        Seed("corpus-line", "beir", "{\"_id\": \"d1\", \"title\": \"T\", \"text\": \"tides\"}"u8.ToArray());
        Seed("corpus-line", "tsv", "d1\tthe moon\tTitle"u8.ToArray());
        Seed("sparse-line", "doc", "{\"id\": \"s1\", \"contents\": \"x\", \"vector\": {\"tide\": 1.5, \"##s\": 2}}"u8.ToArray());
        Seed("dense-line", "doc", "{\"id\": 7, \"vector\": [0.5, -1, 2e-3, 4]}"u8.ToArray());
        string vec = Path.Combine(Scratch, "seed.shoalvec");
        Directory.CreateDirectory(Scratch);
        DenseVectorFile.Write(vec, ["a", "b"], [1f, 2f, 3f, 4f], 2);
        Seed("shoalvec", "two.shoalvec", File.ReadAllBytes(vec));
        Seed("shoalvec", "jsonl", "{\"id\": \"a\", \"vector\": [1, 2]}\n"u8.ToArray());
        Seed("qrels", "tsv", "query-id\tcorpus-id\tscore\n1\td1\t1\n"u8.ToArray());
        Seed("qrels", "trec", "1 0 d1 1\n2 0 d2 0\n"u8.ToArray());
        Seed("run", "trec", "1 Q0 d1 1 12.5 shoal\n1 Q0 d2 2 11 shoal\n"u8.ToArray());
        Seed("topics", "jsonl", "{\"_id\": \"1\", \"text\": \"moon\"}\n"u8.ToArray());
        Seed("topics", "tsv", "1\tmoon tides\n"u8.ToArray());
        Seed("corpus-file", "beir", "{\"_id\": \"d1\", \"text\": \"tides\"}\n{\"_id\": \"d2\", \"text\": \"moon\"}\n"u8.ToArray());
        var builder = new TextIndexBuilder(1, Bm25Parameters.Default, Shoal.Engine.Analysis.EnglishAnalyzer.Instance);
        builder.AddRange([new SourceDocument("d1", "Tides", "w0 w1 the moon"), new SourceDocument("d2", null, "w2 sea w0")]);
        var built = builder.Build(_ => Path.Combine(Scratch, "seg"));
        Seed("text-segment", "two-docs.seg", File.ReadAllBytes(built.Shards[0].SegmentPath));
        SparseDocument[] sparseDocs =
        [
            new("s1", null, new SparseVector([1, 5, 9], [1f, 0.5f, 2f])),
            new("s2", null, new SparseVector([2, 5], [0.25f, 3f])),
            new("s3", null, new SparseVector([9, 11, 12], [1.5f, 1f, 0.75f])),
        ];
        string sparseSeg = Path.Combine(Scratch, "sparse.seg");
        SparseSegmentWriter.Write(sparseSeg, sparseDocs, new SparseBuildOptions(SparseBuildOptions.ComputeMaxWeight(sparseDocs)));
        Seed("sparse-segment", "three-docs.seg", File.ReadAllBytes(sparseSeg));
        string denseSeg = Path.Combine(Scratch, "dense.seg");
        float[] rows = [.. Enumerable.Range(0, 6 * 4).Select(i => (float)Math.Sin(i))];
        DenseSegmentWriter.Write(denseSeg, [.. Enumerable.Range(0, 6).Select(i => $"v{i}")], rows,
            new DenseBuildOptions(4, DenseMetric.Dot, DenseStorage.Float32, new HnswParameters(4, 20, 7), Threads: 1));
        Seed("dense-segment", "six-vectors.seg", File.ReadAllBytes(denseSeg));
        Seed("vocabulary", "vocab.txt", "[PAD]\n[UNK]\ntide\nmoon\n##s\n"u8.ToArray());
        Seed("sparse-queries", "queries.jsonl", "{\"id\": \"q1\", \"vector\": {\"tide\": 1, \"##s\": 0.5}}\n{\"id\": \"q2\", \"vector\": {\"moon\": 2}}\n"u8.ToArray());
        Directory.Delete(Scratch, recursive: true);
    }

    public static void WithFile(byte[] data, Action<string> read)
    {
        Directory.CreateDirectory(Scratch);
        string path = Path.Combine(Scratch, "input");
        File.WriteAllBytes(path, data);
        read(path);
    }
}
