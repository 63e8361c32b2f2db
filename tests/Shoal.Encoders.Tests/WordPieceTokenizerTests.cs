using System.Text;

namespace Shoal.Encoders.Tests;

public sealed class WordPieceTokenizerTests
{
    /// <summary>Inputs that exercise every step of BERT tokenisation.</summary>
    public static readonly string[] Texts =
    [
        "",
        "   ",
        "Hello, world!",
        "hello world",
        "Café naïve résumé",
        "unaffable",
        "The quick brown fox jumps over the lazy dog.",
        "don't stop-believing: 3.14 $100 +1 (a|b) ~x^2 = y; user_name@example.com #tag & <html> `code` {x}",
        "antidisestablishmentarianism pneumonoultramicroscopicsilicovolcanoconiosis",
        new string('a', 100),
        new string('a', 101),
        "x" + new string('é', 100),
        "東京は日本の首都です。中文测试，你好！",
        "한국어 텍스트",
        "नमस्ते दुनिया",
        "مرحبا بالعالم",
        "Greek ΑΒΓ Σίσυφος, Cyrillic Привет МИР",
        "emoji 😀👍🏽 test hello😀 ❤️",
        "tab\tnew\nline\r\ncarriage  two\u00A0nbsp\u3000ideographic\u2028sep",
        "zero\u200Bwidth soft\u00ADhyphen bom\uFEFFmark",
        "ctrl\u0000a\u0007b\uFFFDc\u000Bd\u0085e",
        "ASCII only:\ta\tb\nc\rd\u0000e\u0007f\u007Fg\u000Bh\u000Ci  UPPER lower MiXeD",
        "Ünïcödé ÀÉÎÕÜ straße ǅemal ﬁne İstanbul",
        "“curly quotes” ‘single’ — em–dash … ellipsis «guillemets»",
        "1,234.56 2024-05-01 10:30pm 50% 3x4",
        "COVID-19 SARS-CoV-2 mRNA vaccines' efficacy",
        "lone \uD800 surrogate",
    ];

    public static TheoryData<string> TokenizerFiles() => [.. TestPaths.TokenizerJsonFiles];

    [Theory]
    [MemberData(nameof(TokenizerFiles))]
    public void Ids_equal_the_reference_algorithm_for_every_test_string(string tokenizerJson)
    {
        var reference = ReferenceBertTokenizer.FromTokenizerJson(tokenizerJson);
        var tokenizer = WordPieceTokenizer.FromTokenizerJson(tokenizerJson, maxLength: 512);
        foreach (string text in Texts)
        {
            Assert.True(reference.Tokenize(text).SequenceEqual(tokenizer.Tokenize(text)),
                $"'{Escape(text)}': reference [{string.Join(" ", reference.TokenStrings(text))}] vs [{string.Join(" ", tokenizer.Tokenize(text).Select(tokenizer.TokenOf))}]");
            Assert.Equal(reference.Encode(text, 512), tokenizer.Encode(text));
        }
    }

    [Fact]
    public void Vocab_txt_gives_the_same_ids_as_the_tokenizer_json()
    {
        var fromVocab = WordPieceTokenizer.FromVocabFile(TestPaths.VocabTxt);
        var reference = ReferenceBertTokenizer.FromTokenizerJson(TestPaths.OpenSearchTokenizerJson);
        Assert.Equal(30522, fromVocab.VocabularySize);
        foreach (string text in Texts) Assert.Equal(reference.Encode(text, 512), fromVocab.Encode(text));
    }

    [Fact]
    public void Known_ids_of_bert_base_uncased()
    {
        var tokenizer = WordPieceTokenizer.FromVocabFile(TestPaths.VocabTxt);
        // Well-known bert-base-uncased ids: [CLS]=101, [SEP]=102, hello=7592, world=2088, ","=1010, "!"=999.
        Assert.Equal([101, 7592, 1010, 2088, 999, 102], tokenizer.Encode("Hello, world!"));
        Assert.Equal([101, 102], tokenizer.Encode(""));
        // Accents are stripped: "Café naïve résumé" tokenises as "cafe naive resume".
        Assert.Equal(tokenizer.Encode("cafe naive resume"), tokenizer.Encode("Café naïve résumé"));
        // Words are split greedily into the longest vocabulary pieces.
        Assert.Equal(["una", "##ffa", "##ble"], tokenizer.Tokenize("unaffable").Select(tokenizer.TokenOf));
        // A word over 100 characters is one [UNK]; 100 characters is still split.
        Assert.Equal([tokenizer.UnkId], tokenizer.Tokenize(new string('a', 101)));
        Assert.NotEqual([tokenizer.UnkId], tokenizer.Tokenize(new string('a', 100)));
        // Each CJK ideograph is its own word; punctuation is isolated; an emoji makes its word [UNK].
        Assert.Equal(4, tokenizer.Tokenize("中文测试").Count);
        Assert.Equal(["hello", "[UNK]"], tokenizer.Tokenize("hello hello😀").Select(tokenizer.TokenOf).Distinct());
        Assert.Equal(["a", "_", "b", "$", "1"], tokenizer.Tokenize("a_b $1").Select(tokenizer.TokenOf));
        // Line breaks and tabs separate words (Microsoft.ML.Tokenizers' stock BERT normaliser deletes them).
        Assert.Equal(tokenizer.Tokenize("new line"), tokenizer.Tokenize("new\nline"));
    }

    [Fact]
    public void Long_text_is_truncated_to_max_length_with_cls_and_sep()
    {
        var reference = ReferenceBertTokenizer.FromTokenizerJson(TestPaths.OpenSearchTokenizerJson);
        string[] texts =
        [
            string.Concat(Enumerable.Repeat("retrieval augmented generation with sparse vectors ", 300)),
            // Words of many pieces, so that the cut falls inside a word.
            string.Concat(Enumerable.Repeat("pneumonoultramicroscopicsilicovolcanoconiosis xyzzyplughfoobarbazquux ", 80)),
        ];
        foreach (string text in texts)
        {
            foreach (int max in new[] { 512, 128, 17, 16, 3, 2 })
            {
                var tokenizer = WordPieceTokenizer.FromVocabFile(TestPaths.VocabTxt, maxLength: max);
                var ids = tokenizer.Encode(text);
                Assert.Equal(max, ids.Length);
                Assert.Equal(tokenizer.ClsId, ids[0]);
                Assert.Equal(tokenizer.SepId, ids[^1]);
                Assert.Equal(reference.Encode(text, max), ids);
            }
        }
    }

    [Fact]
    public void Tokenizer_json_truncation_setting_is_the_default_max_length()
    {
        // all-MiniLM-L6-v2 truncates at 128; the others declare none (512).
        var minilm = WordPieceTokenizer.FromTokenizerJson(Path.Combine(TestPaths.SharedData, "tokenizers", "all-minilm-l6-v2-tokenizer.json"));
        var bge = WordPieceTokenizer.FromTokenizerJson(Path.Combine(TestPaths.SharedData, "tokenizers", "bge-small-en-v1.5-tokenizer.json"));
        Assert.Equal(128, minilm.MaxLength);
        Assert.Equal(512, bge.MaxLength);
    }

    [Fact]
    public void Batch_is_padded_with_mask_and_token_types()
    {
        var tokenizer = WordPieceTokenizer.FromVocabFile(TestPaths.VocabTxt);
        string[] texts = ["hello world", "", "the quick brown fox jumps"];
        var batch = tokenizer.EncodeBatch(texts);
        Assert.Equal(3, batch.BatchSize);
        int width = texts.Max(t => tokenizer.Encode(t).Length);
        Assert.Equal(width, batch.SequenceLength);
        for (int b = 0; b < texts.Length; b++)
        {
            var ids = tokenizer.Encode(texts[b]);
            Assert.Equal(ids.Length, batch.Lengths[b]);
            for (int s = 0; s < width; s++)
            {
                long expectedId = s < ids.Length ? ids[s] : tokenizer.PadId;
                Assert.Equal(expectedId, batch.InputIds[b * width + s]);
                Assert.Equal(s < ids.Length ? 1L : 0L, batch.AttentionMask[b * width + s]);
                Assert.Equal(0L, batch.TokenTypeIds[b * width + s]);
            }
        }
    }

    [Fact]
    public void Literal_special_tokens_in_text_are_plain_text()
    {
        var tokenizer = WordPieceTokenizer.FromVocabFile(TestPaths.VocabTxt);
        var ids = tokenizer.Tokenize("[SEP] [MASK]");
        Assert.DoesNotContain(tokenizer.SepId, ids);
        Assert.Equal(["[", "sep", "]", "[", "mask", "]"], ids.Select(tokenizer.TokenOf));
    }

    [Fact]
    public void Missing_or_malformed_tokenizer_files_are_configuration_errors()
    {
        string missing = Path.Combine(Path.GetTempPath(), "shoal-no-such-vocab.txt");
        var e1 = Assert.Throws<EncoderConfigurationException>(() => WordPieceTokenizer.FromVocabFile(missing));
        Assert.Contains(missing, e1.Message, StringComparison.Ordinal);

        string noCls = Path.Combine(Path.GetTempPath(), $"shoal-vocab-{Environment.ProcessId}.txt");
        File.WriteAllText(noCls, "[PAD]\n[UNK]\nhello\n", Encoding.UTF8);
        try
        {
            var e2 = Assert.Throws<EncoderConfigurationException>(() => WordPieceTokenizer.FromVocabFile(noCls));
            Assert.Contains(noCls, e2.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(noCls);
        }
    }

    private static string Escape(string text)
    {
        var sb = new StringBuilder();
        foreach (char c in text.Length > 80 ? text[..80] : text) sb.Append(c < 32 || c > 126 ? $"\\u{(int)c:X4}" : c.ToString());
        return sb.ToString();
    }
}
