using System.Buffers;

namespace Shoal.Engine.Analysis;

/// <summary>
/// Martin Porter's 1980 suffix-stripping algorithm, as in his reference C implementation and in
/// Lucene's <c>PorterStemmer</c>/<c>PorterStemFilter</c> (which follow it line for line).
/// </summary>
/// <remarks>
/// <para>
/// Behaviour that matters for parity with Lucene:
/// words of length 2 or less are returned unchanged; only the lowercase ASCII letters
/// <c>a e i o u</c> are vowels (and <c>y</c> is a vowel when it follows a consonant), so every other
/// char — digits, <c>'</c>, <c>.</c>, non-ASCII letters — counts as a consonant; the two
/// departures of the reference implementation from the published paper are kept
/// (step 2 maps <c>-bli</c> to <c>-ble</c> instead of <c>-abli</c> to <c>-able</c>, and
/// <c>-logi</c> to <c>-log</c>). Input is expected to be lowercase already.
/// </para>
/// <para>
/// The algorithm never lengthens a word, so stemming works in place. All members are stateless
/// and thread-safe.
/// </para>
/// </remarks>
public static class PorterStemmer
{
    private const int NoMatch = int.MinValue;

    /// <summary>Stems <paramref name="word"/> (expected lowercase) and returns the stem.</summary>
    /// <returns>The stem; the same instance when nothing was stripped.</returns>
    public static string Stem(string word)
    {
        ArgumentNullException.ThrowIfNull(word);
        if (word.Length <= 2) return word;

        char[]? rented = null;
        Span<char> buffer = word.Length <= 256
            ? stackalloc char[256]
            : (rented = ArrayPool<char>.Shared.Rent(word.Length));
        try
        {
            word.AsSpan().CopyTo(buffer);
            int length = Stem(buffer, word.Length);
            return length == word.Length && buffer[..length].SequenceEqual(word)
                ? word
                : new string(buffer[..length]);
        }
        finally
        {
            if (rented is not null) ArrayPool<char>.Shared.Return(rented);
        }
    }

    /// <summary>
    /// Stems the word held in <c>buffer[..length]</c> in place and returns the stem's length; the stem
    /// occupies <c>buffer[..result]</c>. Chars past the returned length are unspecified.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="length"/> is negative or exceeds the buffer.</exception>
    public static int Stem(Span<char> buffer, int length)
    {
        if ((uint)length > (uint)buffer.Length) throw new ArgumentOutOfRangeException(nameof(length));
        if (length <= 2) return length;

        Span<char> b = buffer[..length];
        int k = length - 1; // index of the last char of the current word
        Step1ab(b, ref k);
        Step1c(b, k);
        Step2(b, ref k);
        Step3(b, ref k);
        Step4(b, ref k);
        Step5(b, ref k);
        return k + 1;
    }

    // ---- primitives (k0 is always 0) -------------------------------------------------------

    /// <summary>True when b[i] is a consonant: not a, e, i, o, u, and not a y that follows a consonant.</summary>
    private static bool IsConsonant(ReadOnlySpan<char> b, int i)
    {
        switch (b[i])
        {
            case 'a':
            case 'e':
            case 'i':
            case 'o':
            case 'u':
                return false;
            case 'y':
                // cons(i) = i == 0 ? true : !cons(i - 1), unrolled over the run of y's ending at i.
                int run = 0;
                int p = i;
                while (p >= 0 && b[p] == 'y') { run++; p--; }
                // The first y of the run is a consonant at the start of the word or after a vowel.
                bool first = p < 0 || IsVowelLetter(b[p]);
                return ((run - 1) & 1) == 0 ? first : !first;
            default:
                return true;
        }
    }

    private static bool IsVowelLetter(char c) => c is 'a' or 'e' or 'i' or 'o' or 'u';

    /// <summary>The measure m of b[0..j]: the number of VC sequences in [C](VC)^m[V].</summary>
    private static int Measure(ReadOnlySpan<char> b, int j)
    {
        int n = 0;
        int i = 0;
        while (true)
        {
            if (i > j) return n;
            if (!IsConsonant(b, i)) break;
            i++;
        }
        i++;
        while (true)
        {
            while (true)
            {
                if (i > j) return n;
                if (IsConsonant(b, i)) break;
                i++;
            }
            i++;
            n++;
            while (true)
            {
                if (i > j) return n;
                if (!IsConsonant(b, i)) break;
                i++;
            }
            i++;
        }
    }

    /// <summary>True when b[0..j] contains a vowel.</summary>
    private static bool VowelInStem(ReadOnlySpan<char> b, int j)
    {
        for (int i = 0; i <= j; i++)
        {
            if (!IsConsonant(b, i)) return true;
        }
        return false;
    }

    /// <summary>True when b[i-1..i] is a double consonant.</summary>
    private static bool DoubleConsonant(ReadOnlySpan<char> b, int i) =>
        i >= 1 && b[i] == b[i - 1] && IsConsonant(b, i);

    /// <summary>True when b[i-2..i] is consonant-vowel-consonant and b[i] is not w, x or y.</summary>
    private static bool Cvc(ReadOnlySpan<char> b, int i)
    {
        if (i < 2 || !IsConsonant(b, i) || IsConsonant(b, i - 1) || !IsConsonant(b, i - 2)) return false;
        char ch = b[i];
        return ch is not ('w' or 'x' or 'y');
    }

    /// <summary>
    /// When b[0..k] ends with <paramref name="suffix"/>, returns j = k - suffix.Length (the index of the
    /// last char before the suffix, possibly -1); otherwise <see cref="NoMatch"/>.
    /// </summary>
    private static int Ends(ReadOnlySpan<char> b, int k, string suffix)
    {
        int start = k - suffix.Length + 1;
        if (start < 0) return NoMatch;
        // Compare from the end: most candidates differ in their last chars.
        for (int i = suffix.Length - 1; i >= 0; i--)
        {
            if (b[start + i] != suffix[i]) return NoMatch;
        }
        return k - suffix.Length;
    }

    /// <summary>Writes <paramref name="s"/> after position j and returns the new k.</summary>
    private static int SetTo(Span<char> b, int j, string s)
    {
        s.AsSpan().CopyTo(b[(j + 1)..]);
        return j + s.Length;
    }

    /// <summary>
    /// The reference implementation's <c>ends(suffix) &amp;&amp; r(replacement)</c>: when the word ends with
    /// <paramref name="suffix"/> returns true (ending the caller's rule list) and, if the stem before
    /// it has m &gt; 0, replaces the suffix.
    /// </summary>
    private static bool Replace(Span<char> b, ref int k, string suffix, string replacement)
    {
        int j = Ends(b, k, suffix);
        if (j == NoMatch) return false;
        if (Measure(b, j) > 0) k = SetTo(b, j, replacement);
        return true;
    }

    // ---- steps -------------------------------------------------------------------------------

    /// <summary>Step 1a/1b: plurals and -ed / -ing.</summary>
    private static void Step1ab(Span<char> b, ref int k)
    {
        if (b[k] == 's')
        {
            int js;
            if (Ends(b, k, "sses") != NoMatch) k -= 2;
            else if ((js = Ends(b, k, "ies")) != NoMatch) k = SetTo(b, js, "i");
            else if (b[k - 1] != 's') k--;
        }

        int j = Ends(b, k, "eed");
        if (j != NoMatch)
        {
            if (Measure(b, j) > 0) k--;
            return;
        }

        j = Ends(b, k, "ed");
        if (j == NoMatch) j = Ends(b, k, "ing");
        if (j == NoMatch || !VowelInStem(b, j)) return;

        k = j;
        if ((j = Ends(b, k, "at")) != NoMatch) k = SetTo(b, j, "ate");
        else if ((j = Ends(b, k, "bl")) != NoMatch) k = SetTo(b, j, "ble");
        else if ((j = Ends(b, k, "iz")) != NoMatch) k = SetTo(b, j, "ize");
        else if (DoubleConsonant(b, k))
        {
            char ch = b[k];
            if (ch is not ('l' or 's' or 'z')) k--;
        }
        else if (Measure(b, k) == 1 && Cvc(b, k))
        {
            k = SetTo(b, k, "e");
        }
    }

    /// <summary>Step 1c: terminal y becomes i when the stem has another vowel.</summary>
    private static void Step1c(Span<char> b, int k)
    {
        int j = Ends(b, k, "y");
        if (j != NoMatch && VowelInStem(b, j)) b[k] = 'i';
    }

    /// <summary>Step 2: double suffixes to single ones (-ization to -ize, ...), when m &gt; 0.</summary>
    private static void Step2(Span<char> b, ref int k)
    {
        if (k == 0) return;
        switch (b[k - 1])
        {
            case 'a':
                _ = Replace(b, ref k, "ational", "ate") || Replace(b, ref k, "tional", "tion");
                break;
            case 'c':
                _ = Replace(b, ref k, "enci", "ence") || Replace(b, ref k, "anci", "ance");
                break;
            case 'e':
                _ = Replace(b, ref k, "izer", "ize");
                break;
            case 'l':
                _ = Replace(b, ref k, "bli", "ble")
                    || Replace(b, ref k, "alli", "al")
                    || Replace(b, ref k, "entli", "ent")
                    || Replace(b, ref k, "eli", "e")
                    || Replace(b, ref k, "ousli", "ous");
                break;
            case 'o':
                _ = Replace(b, ref k, "ization", "ize")
                    || Replace(b, ref k, "ation", "ate")
                    || Replace(b, ref k, "ator", "ate");
                break;
            case 's':
                _ = Replace(b, ref k, "alism", "al")
                    || Replace(b, ref k, "iveness", "ive")
                    || Replace(b, ref k, "fulness", "ful")
                    || Replace(b, ref k, "ousness", "ous");
                break;
            case 't':
                _ = Replace(b, ref k, "aliti", "al")
                    || Replace(b, ref k, "iviti", "ive")
                    || Replace(b, ref k, "biliti", "ble");
                break;
            case 'g':
                _ = Replace(b, ref k, "logi", "log");
                break;
        }
    }

    /// <summary>Step 3: -ic-, -full, -ness etc., when m &gt; 0.</summary>
    private static void Step3(Span<char> b, ref int k)
    {
        switch (b[k])
        {
            case 'e':
                _ = Replace(b, ref k, "icate", "ic")
                    || Replace(b, ref k, "ative", "")
                    || Replace(b, ref k, "alize", "al");
                break;
            case 'i':
                _ = Replace(b, ref k, "iciti", "ic");
                break;
            case 'l':
                _ = Replace(b, ref k, "ical", "ic") || Replace(b, ref k, "ful", "");
                break;
            case 's':
                _ = Replace(b, ref k, "ness", "");
                break;
        }
    }

    /// <summary>Step 4: strips -ant, -ence, -ment etc. when the remaining stem has m &gt; 1.</summary>
    private static void Step4(Span<char> b, ref int k)
    {
        if (k == 0) return;
        int j;
        switch (b[k - 1])
        {
            case 'a':
                j = Ends(b, k, "al");
                break;
            case 'c':
                j = Ends(b, k, "ance");
                if (j == NoMatch) j = Ends(b, k, "ence");
                break;
            case 'e':
                j = Ends(b, k, "er");
                break;
            case 'i':
                j = Ends(b, k, "ic");
                break;
            case 'l':
                j = Ends(b, k, "able");
                if (j == NoMatch) j = Ends(b, k, "ible");
                break;
            case 'n':
                j = Ends(b, k, "ant");
                if (j == NoMatch) j = Ends(b, k, "ement");
                if (j == NoMatch) j = Ends(b, k, "ment");
                if (j == NoMatch) j = Ends(b, k, "ent");
                break;
            case 'o':
                j = Ends(b, k, "ion");
                if (j == NoMatch || j < 0 || b[j] is not ('s' or 't')) j = Ends(b, k, "ou");
                break;
            case 's':
                j = Ends(b, k, "ism");
                break;
            case 't':
                j = Ends(b, k, "ate");
                if (j == NoMatch) j = Ends(b, k, "iti");
                break;
            case 'u':
                j = Ends(b, k, "ous");
                break;
            case 'v':
                j = Ends(b, k, "ive");
                break;
            case 'z':
                j = Ends(b, k, "ize");
                break;
            default:
                return;
        }
        if (j != NoMatch && Measure(b, j) > 1) k = j;
    }

    /// <summary>Step 5: removes a final -e when m &gt; 1 (or m == 1 and not *o), and -ll to -l when m &gt; 1.</summary>
    private static void Step5(Span<char> b, ref int k)
    {
        int j = k;
        if (b[k] == 'e')
        {
            int a = Measure(b, j);
            if (a > 1 || (a == 1 && !Cvc(b, k - 1))) k--;
        }
        if (b[k] == 'l' && DoubleConsonant(b, k) && Measure(b, j) > 1) k--;
    }
}
