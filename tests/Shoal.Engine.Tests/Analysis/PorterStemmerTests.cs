using Shoal.Engine.Analysis;
using Xunit;

namespace Shoal.Engine.Tests.Analysis;

public sealed class PorterStemmerTests
{
    // Examples from Porter (1980), "An algorithm for suffix stripping", steps 1a-5b.
    [Theory]
    // Step 1a
    [InlineData("caresses", "caress")]
    [InlineData("ponies", "poni")]
    [InlineData("ties", "ti")]
    [InlineData("caress", "caress")]
    [InlineData("cats", "cat")]
    // Step 1b
    [InlineData("feed", "feed")]
    [InlineData("agreed", "agre")]
    [InlineData("plastered", "plaster")]
    [InlineData("bled", "bled")]
    [InlineData("motoring", "motor")]
    [InlineData("sing", "sing")]
    [InlineData("conflated", "conflat")]
    [InlineData("troubled", "troubl")]
    [InlineData("sized", "size")]
    [InlineData("hopping", "hop")]
    [InlineData("tanned", "tan")]
    [InlineData("falling", "fall")]
    [InlineData("hissing", "hiss")]
    [InlineData("fizzed", "fizz")]
    [InlineData("failing", "fail")]
    [InlineData("filing", "file")]
    // Step 1c
    [InlineData("happy", "happi")]
    [InlineData("sky", "sky")]
    // Step 2
    [InlineData("relational", "relat")]
    [InlineData("conditional", "condit")]
    [InlineData("rational", "ration")]
    [InlineData("valenci", "valenc")]
    [InlineData("hesitanci", "hesit")]
    [InlineData("digitizer", "digit")]
    [InlineData("conformabli", "conform")]
    [InlineData("radicalli", "radic")]
    [InlineData("differentli", "differ")]
    [InlineData("vileli", "vile")]
    [InlineData("analogousli", "analog")]
    [InlineData("vietnamization", "vietnam")]
    [InlineData("predication", "predic")]
    [InlineData("operator", "oper")]
    [InlineData("feudalism", "feudal")]
    [InlineData("decisiveness", "decis")]
    [InlineData("hopefulness", "hope")]
    [InlineData("callousness", "callous")]
    [InlineData("formaliti", "formal")]
    [InlineData("sensitiviti", "sensit")]
    [InlineData("sensibiliti", "sensibl")]
    // Step 3
    [InlineData("triplicate", "triplic")]
    [InlineData("formative", "form")]
    [InlineData("formalize", "formal")]
    [InlineData("electriciti", "electr")]
    [InlineData("electrical", "electr")]
    [InlineData("hopeful", "hope")]
    [InlineData("goodness", "good")]
    // Step 4
    [InlineData("revival", "reviv")]
    [InlineData("allowance", "allow")]
    [InlineData("inference", "infer")]
    [InlineData("airliner", "airlin")]
    [InlineData("gyroscopic", "gyroscop")]
    [InlineData("adjustable", "adjust")]
    [InlineData("defensible", "defens")]
    [InlineData("irritant", "irrit")]
    [InlineData("replacement", "replac")]
    [InlineData("adjustment", "adjust")]
    [InlineData("dependent", "depend")]
    [InlineData("adoption", "adopt")]
    [InlineData("homologou", "homolog")]
    [InlineData("communism", "commun")]
    [InlineData("activate", "activ")]
    [InlineData("angulariti", "angular")]
    [InlineData("homologous", "homolog")]
    [InlineData("effective", "effect")]
    [InlineData("bowdlerize", "bowdler")]
    // Step 5
    [InlineData("probate", "probat")]
    [InlineData("rate", "rate")]
    [InlineData("cease", "ceas")]
    [InlineData("controll", "control")]
    [InlineData("roll", "roll")]
    // Multi-step
    [InlineData("generalizations", "gener")]
    [InlineData("oscillators", "oscil")]
    public void Stems_examples_from_the_paper(string word, string expected)
    {
        Assert.Equal(expected, PorterStemmer.Stem(word));
    }

    // Outputs of the reference implementation (and of Lucene's PorterStemmer) on common words.
    [Theory]
    [InlineData("abandon", "abandon")]
    [InlineData("abandoned", "abandon")]
    [InlineData("abilities", "abil")]
    [InlineData("ability", "abil")]
    [InlineData("able", "abl")]
    [InlineData("abnormal", "abnorm")]
    [InlineData("absolutely", "absolut")]
    [InlineData("connection", "connect")]
    [InlineData("connections", "connect")]
    [InlineData("connective", "connect")]
    [InlineData("connected", "connect")]
    [InlineData("connecting", "connect")]
    [InlineData("generously", "gener")]
    [InlineData("knightly", "knightli")]
    [InlineData("running", "run")]
    [InlineData("runs", "run")]
    [InlineData("university", "univers")]
    [InlineData("universal", "univers")]
    [InlineData("studies", "studi")]
    [InlineData("studying", "studi")]
    [InlineData("matting", "mat")]
    [InlineData("mating", "mate")]
    [InlineData("meeting", "meet")]
    [InlineData("milling", "mill")]
    [InlineData("messing", "mess")]
    [InlineData("meetings", "meet")]
    [InlineData("disabled", "disabl")]
    [InlineData("generate", "gener")]
    [InlineData("generation", "gener")]
    [InlineData("generator", "gener")]
    [InlineData("archaeology", "archaeolog")]
    [InlineData("analogies", "analog")]
    [InlineData("biology", "biologi")]
    [InlineData("corpus", "corpu")]
    [InlineData("proteins", "protein")]
    [InlineData("mutation", "mutat")]
    [InlineData("cells", "cell")]
    [InlineData("expression", "express")]
    [InlineData("increased", "increas")]
    [InlineData("treatment", "treatment")]
    [InlineData("patients", "patient")]
    [InlineData("clinical", "clinic")]
    [InlineData("has", "ha")]
    [InlineData("was", "wa")]
    [InlineData("ies", "i")]
    [InlineData("yyy", "yyi")]
    public void Stems_common_words_like_the_reference_implementation(string word, string expected)
    {
        Assert.Equal(expected, PorterStemmer.Stem(word));
    }

    [Theory]
    [InlineData("p53", "p53")]
    [InlineData("u.s.a", "u.s.a")]
    [InlineData("don't", "don't")]
    [InlineData("1990s", "1990")]
    [InlineData("café", "café")]
    public void Treats_non_letters_as_consonants(string word, string expected)
    {
        Assert.Equal(expected, PorterStemmer.Stem(word));
    }

    [Theory]
    [InlineData("")]
    [InlineData("a")]
    [InlineData("is")]
    [InlineData("as")]
    [InlineData("ys")]
    public void Leaves_words_of_two_chars_or_fewer_alone(string word)
    {
        Assert.Same(word, PorterStemmer.Stem(word));
    }

    [Fact]
    public void Returns_the_same_instance_when_nothing_changes()
    {
        const string word = "abandon";
        Assert.Same(word, PorterStemmer.Stem(word));
    }

    [Fact]
    public void Stems_in_place_within_a_larger_buffer()
    {
        Span<char> buffer = stackalloc char[32];
        buffer.Fill('#');
        "generalizations".AsSpan().CopyTo(buffer);

        int length = PorterStemmer.Stem(buffer, "generalizations".Length);

        Assert.Equal("gener", new string(buffer[..length]));
        Assert.Equal('#', buffer[20]); // nothing written past the word
    }

    [Fact]
    public void Stems_long_words_through_the_pooled_path()
    {
        string root = string.Concat(Enumerable.Repeat("ab", 150));
        Assert.Equal(root, PorterStemmer.Stem(root + "ational"));
    }

    [Fact]
    public void Rejects_a_length_beyond_the_buffer()
    {
        char[] buffer = new char[4];
        Assert.Throws<ArgumentOutOfRangeException>(() => PorterStemmer.Stem(buffer, 5));
        Assert.Throws<ArgumentOutOfRangeException>(() => PorterStemmer.Stem(buffer, -1));
    }
}
