using System.Collections.Frozen;

namespace Shoal.Engine.Analysis;

/// <summary>
/// Lucene's English stop word set (<c>EnglishAnalyzer.ENGLISH_STOP_WORDS_SET</c>), the 33 words that
/// Lucene's and Anserini's default English analysis removes after lowercasing:
/// a an and are as at be but by for if in into is it no not of on or such that the their then there
/// these they this to was will with.
/// </summary>
/// <remarks>
/// Matching is ordinal and case-sensitive: callers lowercase first, exactly as Lucene's
/// <c>StopFilter</c> runs after <c>LowerCaseFilter</c>. All members are immutable and thread-safe.
/// </remarks>
public static class EnglishStopwords
{
    /// <summary>The longest stop word, in chars; anything longer is never a stop word.</summary>
    public const int MaxLength = 5;

    private static readonly string[] Words =
    [
        "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it",
        "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these", "they",
        "this", "to", "was", "will", "with",
    ];

    /// <summary>The stop words as an ordinal frozen set (33 entries, all lowercase ASCII).</summary>
    public static FrozenSet<string> Set { get; } = Words.ToFrozenSet(StringComparer.Ordinal);

    private static readonly FrozenSet<string>.AlternateLookup<ReadOnlySpan<char>> SpanLookup =
        Set.GetAlternateLookup<ReadOnlySpan<char>>();

    /// <summary>True when <paramref name="word"/> (already lowercased) is one of the stop words.</summary>
    /// <remarks>Allocation-free: looks the span up without materializing a string.</remarks>
    public static bool Contains(ReadOnlySpan<char> word) =>
        word.Length is > 0 and <= MaxLength && SpanLookup.Contains(word);

    /// <summary>True when <paramref name="word"/> (already lowercased) is one of the stop words.</summary>
    public static bool Contains(string word)
    {
        ArgumentNullException.ThrowIfNull(word);
        return Contains(word.AsSpan());
    }
}
