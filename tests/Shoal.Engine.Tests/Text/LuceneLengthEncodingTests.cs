using Shoal.Engine.Text;

namespace Shoal.Engine.Tests.Text;

public class LuceneLengthEncodingTests
{
    [Fact]
    public void Small_lengths_are_exact()
    {
        for (int i = 0; i < 24; i++) Assert.Equal(i, LuceneLengthEncoding.Decode(LuceneLengthEncoding.Encode(i)));
    }

    [Theory]
    [InlineData(24, 24)]
    [InlineData(39, 39)]
    [InlineData(41, 40)]
    [InlineData(100, 96)]
    [InlineData(1000, 984)]
    public void Larger_lengths_keep_four_significant_bits(int length, int decoded) =>
        Assert.Equal(decoded, LuceneLengthEncoding.Decode(LuceneLengthEncoding.Encode(length)));

    [Fact]
    public void Encoding_is_monotonic_and_rounds_down_by_less_than_an_eighth()
    {
        byte previous = 0;
        for (int i = 0; i < 200_000; i += 1 + i / 100)
        {
            byte code = LuceneLengthEncoding.Encode(i);
            Assert.True(code >= previous);
            previous = code;
            int decoded = LuceneLengthEncoding.Decode(code);
            Assert.True(decoded <= i && i - decoded <= Math.Max(0, (i - 24) / 8.0), $"{i} -> {decoded}");
        }
        Assert.Equal(255, LuceneLengthEncoding.Encode(int.MaxValue));
    }
}
