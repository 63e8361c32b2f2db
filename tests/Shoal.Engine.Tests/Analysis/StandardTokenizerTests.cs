using Shoal.Engine.Analysis;
using Xunit;

namespace Shoal.Engine.Tests.Analysis;

// Expected values were checked against Lucene's StandardTokenizer.
public sealed class StandardTokenizerTests
{
    private static List<string> Tokens(string text)
    {
        var tokens = new List<string>();
        foreach (ReadOnlySpan<char> token in new StandardTokenizer(text))
        {
            tokens.Add(token.ToString());
        }
        return tokens;
    }

    private static List<(int Start, int Length)> Offsets(string text)
    {
        var offsets = new List<(int, int)>();
        var tokenizer = new StandardTokenizer(text);
        while (tokenizer.MoveNext())
        {
            offsets.Add((tokenizer.TokenStart, tokenizer.TokenLength));
        }
        return offsets;
    }

    [Theory]
    [InlineData("U.S.A.", new[] { "U.S.A" })]
    [InlineData("don't", new[] { "don't" })]
    [InlineData("don\u2019t", new[] { "don\u2019t" })]
    [InlineData("3.14", new[] { "3.14" })]
    [InlineData("1,000", new[] { "1,000" })]
    [InlineData("1,000,000.50", new[] { "1,000,000.50" })]
    [InlineData("covid-19", new[] { "covid", "19" })]
    [InlineData("p53", new[] { "p53" })]
    [InlineData("John's", new[] { "John's" })]
    [InlineData("a.b.c", new[] { "a.b.c" })]
    [InlineData("a:b", new[] { "a:b" })]
    [InlineData("10:30", new[] { "10", "30" })]
    [InlineData("a.1 1.a", new[] { "a", "1", "1", "a" })]
    [InlineData("x_y _foo_", new[] { "x_y", "_foo_" })]
    [InlineData("___ _a_", new[] { "_a_" })]
    [InlineData("U.S.A.'s", new[] { "U.S.A", "s" })]
    [InlineData("IL-6/TNF", new[] { "IL", "6", "TNF" })]
    [InlineData("e-mail user@example.com", new[] { "e", "mail", "user", "example.com" })]
    [InlineData("http://example.com/path?q=1", new[] { "http", "example.com", "path", "q", "1" })]
    [InlineData("(hello) [world]! \"quoted\"", new[] { "hello", "world", "quoted" })]
    [InlineData("tab\tnew\nline\r\nend", new[] { "tab", "new", "line", "end" })]
    [InlineData("range 40\u201350 \u2014 dash", new[] { "range", "40", "50", "dash" })]
    public void Splits_on_word_boundaries(string text, string[] expected)
    {
        Assert.Equal(expected, Tokens(text));
    }

    [Theory]
    [InlineData("")]
    [InlineData(" ")]
    [InlineData(" \t\r\n  \u00A0\u3000")]
    [InlineData("-- // ... ,,, ;;")]
    [InlineData("\u0301\u00AD\u200D")]
    public void Produces_no_tokens_for_empty_or_separator_only_text(string text)
    {
        Assert.Empty(Tokens(text));
    }

    [Fact]
    public void Keeps_accented_letters_and_combining_marks()
    {
        Assert.Equal(["Café", "naïve", "Cafe\u0301"], Tokens("Café naïve Cafe\u0301"));
    }

    [Fact]
    public void Keeps_format_characters_inside_words()
    {
        Assert.Equal(["co\u00ADoperate"], Tokens("co\u00ADoperate"));
    }

    [Fact]
    public void Emits_each_han_and_hiragana_char_but_joins_katakana()
    {
        Assert.Equal(
            ["中", "文", "分", "词", "and", "ひ", "ら", "が", "な", "and", "カタカナ"],
            Tokens("中文分词 and ひらがな and カタカナ"));
    }

    [Fact]
    public void Keeps_south_east_asian_runs_together()
    {
        Assert.Equal(["ภาษาไทย", "test"], Tokens("ภาษาไทย test"));
    }

    [Fact]
    public void Joins_hebrew_letters_around_a_double_quote()
    {
        Assert.Equal(["צה\"ל"], Tokens("צה\"ל"));
    }

    [Fact]
    public void Handles_supplementary_letters_and_lone_surrogates()
    {
        Assert.Equal(["\U0001D465\U0001D466"], Tokens("\U0001D465\U0001D466"));
        Assert.Equal(["a", "b"], Tokens("a\uD800b"));
        Assert.Equal(["a", "b"], Tokens("a\uDC00b"));
    }

    [Fact]
    public void Emits_emoji_and_pictographic_symbols_like_lucene()
    {
        Assert.Equal(
            ["Lipitor", "®", "©", "2015", "😀", "👍🏻", "🇺🇸", "❤\uFE0F"],
            Tokens("Lipitor® © 2015 😀 👍🏻 🇺🇸 ❤\uFE0F"));
        Assert.Equal(["👩\u200D🔬"], Tokens("👩\u200D🔬"));
    }

    [Fact]
    public void Drops_other_symbols_and_non_decimal_numbers()
    {
        Assert.Equal(["x", "5", "C", "10", "µg"], Tokens("x² ½ 5 °C ± 10 µg → ∑"));
    }

    [Fact]
    public void Reports_offsets_into_the_input()
    {
        Assert.Equal([(0, 5), (6, 2), (9, 3)], Offsets("covid-19 p53"));
        Assert.Equal([(2, 3)], Offsets("  abc  "));
    }

    [Fact]
    public void Keeps_a_token_of_exactly_the_maximum_length()
    {
        string word = new('a', StandardTokenizer.MaxTokenLength);
        Assert.Equal([(0, 255)], Offsets(word));
    }

    [Fact]
    public void Chops_longer_tokens_at_the_maximum_length()
    {
        Assert.Equal([(0, 255), (255, 1)], Offsets(new string('a', 256)));
        Assert.Equal([(0, 255), (255, 255), (510, 90)], Offsets(new string('a', 600)));
    }

    [Fact]
    public void Chops_at_the_last_boundary_visible_within_the_limit()
    {
        // The '.' at 254 needs the letter after it, which lies beyond the 255-char window.
        Assert.Equal([(0, 254), (255, 3)], Offsets(new string('a', 254) + ".bcd"));

        // "1,1,1,...": the chunk ends on a digit; the separator after it is dropped.
        string number = string.Concat(Enumerable.Repeat("1,", 200));
        Assert.Equal([(0, 255), (256, 143)], Offsets(number));

        // A surrogate pair is never split by the limit.
        Assert.Equal([(0, 254), (254, 4)], Offsets(new string('a', 254) + "\U0001D465bc"));
        Assert.Equal([(0, 255), (255, 2)], Offsets(new string('a', 253) + "\U0001D465bc"));
    }

    [Fact]
    public void Can_be_driven_by_move_next_and_current()
    {
        var tokenizer = new StandardTokenizer("one two");
        Assert.True(tokenizer.MoveNext());
        Assert.Equal("one", tokenizer.Current.ToString());
        Assert.True(tokenizer.MoveNext());
        Assert.Equal("two", tokenizer.Current.ToString());
        Assert.False(tokenizer.MoveNext());
        Assert.False(tokenizer.MoveNext());
    }
}
