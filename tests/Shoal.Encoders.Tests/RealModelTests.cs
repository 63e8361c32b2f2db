using System.Text.Json;

namespace Shoal.Encoders.Tests;

/// <summary>The built-in arctic-xs encoder, loaded once for the class (extracted into the default models directory).</summary>
public sealed class ArcticXsFixture : IAsyncDisposable
{
    public ArcticXsFixture() => Pool = EncoderPool.Create(new EncoderOptions { Kind = EncoderKind.Dense, Model = "arctic-xs" });

    public EncoderPool Pool { get; }

    public DenseOnnxEncoder Encoder => (DenseOnnxEncoder)Pool.Encoder;

    public ValueTask DisposeAsync() => Pool.DisposeAsync();
}

/// <summary>
/// The real arctic-embed-xs model (a few dozen SciFact passages, so the suite stays quick): a known
/// query finds its judged passage first, the query instruction is applied inside the encoder, and
/// length-bucketed document batches give the same vectors as one document at a time.
/// </summary>
public sealed class RealModelTests(ArcticXsFixture fixture) : IClassFixture<ArcticXsFixture>
{
    private static readonly string Corpus = Path.Combine(TestPaths.SharedData, "scifact", "corpus.jsonl");

    [Fact]
    public void The_built_in_model_carries_its_settings()
    {
        var encoder = fixture.Encoder;
        Assert.Equal(384, encoder.Dimensions);
        Assert.Equal(PoolingMode.Cls, encoder.Pooling);
        Assert.Equal(512, encoder.Tokenizer.MaxLength);
        Assert.Equal("Represent this sentence for searching relevant passages: ", encoder.QueryPrefix);
        Assert.Equal("", encoder.DocumentPrefix);
        Assert.Equal("arctic-xs", encoder.Name);
    }

    [Fact]
    public async Task Known_scifact_queries_rank_their_judged_passage_first()
    {
        // Test queries 3 and 5 with their judged passages, among the first 40 passages of the corpus.
        var judged = new Dictionary<string, string>
        {
            ["1,000 genomes project enables mapping of genetic sequence variation consisting of rare variants with larger penetrance effects than common variants."] = "14717500",
            ["1/2000 in UK have abnormal PrP positivity."] = "13734012",
        };
        var wanted = judged.Values.ToHashSet(StringComparer.Ordinal);
        var docs = Passages().Where((d, i) => i < 40 || wanted.Contains(d.Id)).ToList();
        Assert.Equal(42, docs.Count);

        var vectors = await fixture.Pool.EncodeDocumentsAsync(docs.Select(d => d.Text).ToArray());
        foreach (var (query, relevant) in judged)
        {
            var q = (await fixture.Pool.EncodeAsync(query)).Dense!;
            var ranked = docs.Select((d, i) => (d.Id, Score: Dot(q, vectors[i].Dense!))).OrderByDescending(x => x.Score).ToList();
            Assert.Equal(relevant, ranked[0].Id);
            Assert.True(ranked[0].Score - ranked[1].Score > 0.01, $"'{query}': {ranked[0].Score} vs {ranked[1].Score}");
        }
    }

    [Fact]
    public async Task The_query_instruction_is_applied_inside_the_encoder()
    {
        const string query = "vitamin D deficiency and bone fractures";
        var pooled = (await fixture.Pool.EncodeAsync(query)).Dense!;
        var withPrefix = fixture.Encoder.Encode([fixture.Encoder.QueryPrefix + query])[0].Dense!;
        var plain = fixture.Encoder.Encode([query])[0].Dense!;
        AssertClose(withPrefix, pooled);
        Assert.True(Dot(plain, pooled) < 0.99f, "the instruction changes the query vector");
        AssertClose(withPrefix, fixture.Encoder.EncodeQueries([query])[0].Dense!);

        // Documents get no instruction with arctic-xs.
        var doc = (await fixture.Pool.EncodeDocumentsAsync([query]))[0].Dense!;
        AssertClose(plain, doc);
    }

    [Fact]
    public async Task The_int8_model_ranks_the_known_queries_the_same_and_stays_close_to_fp32()
    {
        await using var int8 = EncoderPool.Create(new EncoderOptions { Kind = EncoderKind.Dense, Model = "arctic-xs-int8" });
        var docs = Passages().Take(40).Select(d => d.Text).ToArray();
        var fp32Docs = await fixture.Pool.EncodeDocumentsAsync(docs);
        var int8Docs = await int8.EncodeDocumentsAsync(docs);
        for (int i = 0; i < docs.Length; i++)
            Assert.True(Dot(fp32Docs[i].Dense!, int8Docs[i].Dense!) > 0.97, $"passage {i}: cosine {Dot(fp32Docs[i].Dense!, int8Docs[i].Dense!)}");
        const string query = "1,000 genomes project enables mapping of genetic sequence variation consisting of rare variants with larger penetrance effects than common variants.";
        var q32 = (await fixture.Pool.EncodeAsync(query)).Dense!;
        var q8 = (await int8.EncodeAsync(query)).Dense!;
        var top32 = Enumerable.Range(0, docs.Length).OrderByDescending(i => Dot(q32, fp32Docs[i].Dense!)).Take(3).ToArray();
        var top8 = Enumerable.Range(0, docs.Length).OrderByDescending(i => Dot(q8, int8Docs[i].Dense!)).Take(3).ToArray();
        Assert.Equal(top32[0], top8[0]);
    }

    [Fact]
    public async Task A_configured_document_instruction_is_applied()
    {
        await using var pool = EncoderPool.Create(new EncoderOptions { Kind = EncoderKind.Dense, Model = "minilm", DocumentPrefix = "passage: ", QueryPrefix = "query: " });
        var encoder = (DenseOnnxEncoder)pool.Encoder;
        Assert.Equal(PoolingMode.Mean, encoder.Pooling);
        const string text = "Coffee intake and heart disease";
        AssertClose(encoder.Encode(["passage: " + text])[0].Dense!, (await pool.EncodeDocumentsAsync([text]))[0].Dense!);
        AssertClose(encoder.Encode(["query: " + text])[0].Dense!, (await pool.EncodeAsync(text)).Dense!);
    }

    [Fact]
    public async Task Length_bucketed_batches_equal_one_document_at_a_time()
    {
        var texts = Passages().Skip(100).Take(12).Select(p => p.Text).ToArray();
        texts[3] = "short";
        long runsBefore = fixture.Encoder.SessionRuns;
        var batched = await fixture.Pool.EncodeDocumentsAsync(texts);
        long runs = fixture.Encoder.SessionRuns - runsBefore;
        // 12 texts: as many runs as the pool's plan cuts (a handful within the token budget), not 12.
        var lengths = texts.Select(t => fixture.Encoder.Tokenizer.Encode(fixture.Encoder.DocumentPrefix + t).Length).ToArray();
        int planned = fixture.Pool.DocumentBatching.Plan(lengths).Count;
        Assert.Equal(planned, runs);
        Assert.InRange(runs, 1, 6);
        for (int i = 0; i < texts.Length; i++) AssertClose(fixture.Encoder.Encode([texts[i]])[0].Dense!, batched[i].Dense!);
        Assert.True(fixture.Pool.DocumentPaddedTokens >= fixture.Pool.DocumentTokens);
    }

    /// <summary>SciFact passages (id, title + text) in corpus order, read lazily.</summary>
    private static IEnumerable<(string Id, string Text)> Passages() => File.ReadLines(Corpus).Select(Parse);

    private static (string Id, string Text) Parse(string line)
    {
        var e = JsonDocument.Parse(line).RootElement;
        string title = e.GetProperty("title").GetString() ?? "";
        string text = e.GetProperty("text").GetString() ?? "";
        return (e.GetProperty("_id").GetString()!, title.Length == 0 ? text : title + " " + text);
    }

    private static float Dot(float[] a, float[] b)
    {
        float s = 0;
        for (int i = 0; i < a.Length; i++) s += a[i] * b[i];
        return s;
    }

    private static void AssertClose(float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        Assert.True(Dot(expected, actual) > 0.9999f, $"cosine {Dot(expected, actual)}");
    }
}
