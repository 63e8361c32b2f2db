using System.Text;
using Shoal.Engine.Ingest;
using Xunit;

namespace Shoal.Engine.Tests.Ingest;

public sealed class Utf8LineReaderTests
{
    [Theory]
    [InlineData("a\nb\r\n\nlast", new[] { "a", "b", "", "last" })]
    [InlineData("a\n", new[] { "a" })]
    [InlineData("", new string[0])]
    [InlineData("\n\n", new[] { "", "" })]
    [InlineData("\r\n", new[] { "" })]
    public void SplitsLines(string content, string[] expected)
    {
        Assert.Equal(expected, ReadAll(Encoding.UTF8.GetBytes(content), 1 << 20));
    }

    [Fact]
    public void LinesCrossingBufferRefillsAreIntact()
    {
        var lines = new List<string>();
        var random = new Random(7);
        for (int i = 0; i < 3000; i++)
        {
            lines.Add(new string((char)('a' + (i % 26)), random.Next(0, 200)) + i);
        }

        lines.Add(new string('z', 200_000));
        string content = string.Join('\n', lines);
        Assert.Equal(lines, ReadAll(Encoding.UTF8.GetBytes(content), 1 << 20));
    }

    [Fact]
    public void CountsLinesAndRejectsOverlongLines()
    {
        using var reader = new Utf8LineReader(new MemoryStream(Encoding.UTF8.GetBytes("one\ntwo\n" + new string('x', 100) + "\n")), maxLineBytes: 64);
        Assert.True(reader.TryReadLine(out _));
        Assert.True(reader.TryReadLine(out ReadOnlySpan<byte> second));
        Assert.Equal("two", Encoding.UTF8.GetString(second));
        Assert.Equal(2, reader.LineNumber);
        Assert.Throws<InvalidDataException>(() => reader.TryReadLine(out _));
    }

    private static List<string> ReadAll(byte[] bytes, int maxLineBytes)
    {
        var result = new List<string>();
        using var reader = new Utf8LineReader(new MemoryStream(bytes), maxLineBytes);
        while (reader.TryReadLine(out ReadOnlySpan<byte> line))
        {
            result.Add(Encoding.UTF8.GetString(line));
        }

        return result;
    }
}
