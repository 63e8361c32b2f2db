using Shoal.Engine.Analysis;
using Xunit;

namespace Shoal.Engine.Tests.Analysis;

// Expected values were checked against Lucene's EnglishAnalyzer (StandardTokenizer, EnglishPossessiveFilter,
// LowerCaseFilter, StopFilter with the English stop set, PorterStemFilter).
public sealed class EnglishAnalyzerTests
{
    private static readonly EnglishAnalyzer Analyzer = EnglishAnalyzer.Instance;

    [Fact]
    public void Default_instance_is_named_english()
    {
        Assert.Equal("english", EnglishAnalyzer.Instance.Name);
        Assert.True(EnglishAnalyzer.Instance.Stem);
        Assert.True(EnglishAnalyzer.Instance.RemoveStopwords);
        Assert.Equal("english-nostem", new EnglishAnalyzer(stem: false).Name);
        Assert.Equal("english-nostop", new EnglishAnalyzer(removeStopwords: false).Name);
        Assert.Equal("english-nostem-nostop", new EnglishAnalyzer(false, false).Name);
    }

    [Theory]
    [InlineData("John's", "john")]
    [InlineData("JOHN'S", "john")]
    [InlineData("Mary\u2019s", "mari")]
    [InlineData("Mary\uFF07s", "mari")]
    [InlineData("dogs'", "dog")]
    [InlineData("it's", "it")]
    public void Removes_possessives(string text, string expected)
    {
        // "it's" loses its 's and then "it" is a stop word, unless stop words are kept.
        List<string> terms = new EnglishAnalyzer(removeStopwords: false).Analyze(text);
        Assert.Equal([expected], terms);
    }

    [Fact]
    public void Removes_all_lucene_english_stop_words()
    {
        const string stopwords = "a an and are as at be but by for if in into is it no not of on or such that the "
            + "their then there these they this to was will with";
        Assert.Empty(Analyzer.Analyze(stopwords));
        Assert.Empty(Analyzer.Analyze(stopwords.ToUpperInvariant()));
        Assert.Equal(33, EnglishStopwords.Set.Count);
        Assert.Equal(33, new EnglishAnalyzer(stem: false, removeStopwords: false).Analyze(stopwords).Count);
    }

    [Fact]
    public void Keeps_words_that_are_not_lucene_stop_words()
    {
        Assert.Equal(["i", "me", "we", "you", "he", "she", "which", "what"], Analyzer.Analyze("I me we you he she which what"));
    }

    [Fact]
    public void Span_lookup_agrees_with_the_set()
    {
        Assert.True(EnglishStopwords.Contains("the".AsSpan()));
        Assert.True(EnglishStopwords.Contains("there"));
        Assert.False(EnglishStopwords.Contains("The".AsSpan()));
        Assert.False(EnglishStopwords.Contains("theirs".AsSpan()));
        Assert.False(EnglishStopwords.Contains(ReadOnlySpan<char>.Empty));
    }

    [Theory]
    [InlineData(
        "The quick brown foxes jumped over the lazy dog's back.",
        new[] { "quick", "brown", "fox", "jump", "over", "lazi", "dog", "back" })]
    [InlineData(
        "John's book isn't the U.S.A.'s problem; it's Mary\u2019s.",
        new[] { "john", "book", "isn't", "u.s.a", "s", "problem", "mari" })]
    [InlineData(
        "BRCA1 mutations increase the risk of breast cancer in 35% of women aged 40-50.",
        new[] { "brca1", "mutat", "increas", "risk", "breast", "cancer", "35", "women", "ag", "40", "50" })]
    [InlineData(
        "Vitamin D\u2083 supplementation (1,000 IU/day) reduced IL-6 levels by 3.14 pg/mL.",
        new[] { "vitamin", "d", "supplement", "1,000", "iu", "dai", "reduc", "il", "6", "level", "3.14", "pg", "ml" })]
    [InlineData(
        "There are no such things as stopwords in this sentence, or are there?",
        new[] { "thing", "stopword", "sentenc" })]
    [InlineData(
        "Café naïve résumé ÜBER straße",
        new[] { "café", "naïv", "résumé", "über", "straße" })]
    [InlineData(
        "The COVID\u201119 pandemic\u2014and its \u2018long\u2019 effects",
        new[] { "covid", "19", "pandem", "it", "long", "effect" })]
    [InlineData(
        "Lipitor® © 2015 Elsevier",
        new[] { "lipitor", "®", "©", "2015", "elsevi" })]
    [InlineData(
        "中文 and ひらがな and カタカナ",
        new[] { "中", "文", "ひ", "ら", "が", "な", "カタカナ" })]
    public void Runs_the_full_pipeline(string text, string[] expected)
    {
        Assert.Equal(expected, Analyzer.Analyze(text));
    }

    [Fact]
    public void Options_turn_off_stemming_and_stop_word_removal()
    {
        const string text = "The running dogs";
        Assert.Equal(["run", "dog"], Analyzer.Analyze(text));
        Assert.Equal(["running", "dogs"], new EnglishAnalyzer(stem: false).Analyze(text));
        Assert.Equal(["the", "run", "dog"], new EnglishAnalyzer(removeStopwords: false).Analyze(text));
        Assert.Equal(["the", "running", "dogs"], new EnglishAnalyzer(false, false).Analyze(text));
    }

    [Fact]
    public void Appends_to_an_existing_list_through_the_interface()
    {
        ITextAnalyzer analyzer = Analyzer;
        var terms = new List<string> { "existing" };
        analyzer.Analyze("Connected connections".AsSpan(), terms);
        analyzer.Analyze("", terms);
        Assert.Equal(["existing", "connect", "connect"], terms);
    }

    [Fact]
    public void Lowercases_beyond_ascii()
    {
        Assert.Equal(["ΑΒΓ".ToLowerInvariant(), "привет", "i", "\U00010428"], Analyzer.Analyze("ΑΒΓ ПРИВЕТ İ \U00010400"));
    }

    [Theory]
    [InlineData("")]
    [InlineData("   \t\n ")]
    [InlineData("the of and")]
    [InlineData("--- ... !!!")]
    public void Yields_nothing_for_text_without_terms(string text)
    {
        Assert.Empty(Analyzer.Analyze(text));
    }

    [Fact]
    public void Emits_chopped_pieces_of_very_long_tokens()
    {
        List<string> terms = new EnglishAnalyzer(stem: false).Analyze(new string('A', 600));
        Assert.Equal([255, 255, 90], terms.Select(t => t.Length));
        Assert.All(terms, t => Assert.All(t, c => Assert.Equal('a', c)));
    }

    [Fact]
    public void Is_thread_safe()
    {
        var random = new Random(42);
        string[] vocabulary =
        [
            "The", "connections", "John's", "U.S.A.", "3.14", "1,000", "covid-19", "p53", "running", "generalizations",
            "Café", "中文", "ひらがな", "カタカナ", "😀", "don't", "studies", "university", "of", "and", "IL-6", "résumé",
        ];
        string[] texts = new string[2000];
        for (int i = 0; i < texts.Length; i++)
        {
            int words = random.Next(0, 60);
            var parts = new string[words];
            for (int w = 0; w < words; w++) parts[w] = vocabulary[random.Next(vocabulary.Length)];
            texts[i] = string.Join(random.Next(3) == 0 ? ", " : " ", parts);
        }

        List<string>[] sequential = texts.Select(Analyzer.Analyze).ToArray();
        var parallel = new List<string>[texts.Length];
        Parallel.For(0, texts.Length, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
        {
            var terms = new List<string>();
            Analyzer.Analyze(texts[i].AsSpan(), terms);
            parallel[i] = terms;
        });

        for (int i = 0; i < texts.Length; i++)
        {
            Assert.Equal(sequential[i], parallel[i]);
        }
    }
}
