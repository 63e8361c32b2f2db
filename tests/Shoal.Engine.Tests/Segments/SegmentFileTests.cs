using Shoal.Engine.Segments;

namespace Shoal.Engine.Tests.Segments;

public sealed class SegmentFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("shoal-seg-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string WriteSample(string name = "a.seg")
    {
        string path = Path.Combine(_dir, name);
        using var w = new SegmentFileWriter(path, SegmentKind.Text);
        w.WriteSection<int>(1, [1, 2, 3, 4]);
        w.WriteSection<double>(2, [Math.PI]);
        w.BeginSection(3);
        w.Write("hello"u8);
        w.Write(" world"u8);
        w.EndSection();
        w.Complete();
        return path;
    }

    [Fact]
    public void Round_trips_sections_and_aligns_them()
    {
        string path = WriteSample();
        using var f = SegmentFile.Open(path, SegmentKind.Text);
        Assert.Equal(new[] { 1, 2, 3, 4 }, f.Section<int>(1).ToArray());
        Assert.Equal(Math.PI, f.Section<double>(2)[0]);
        Assert.Equal("hello world", System.Text.Encoding.UTF8.GetString(f.Section<byte>(3)));
        unsafe
        {
            Assert.Equal(0, (long)f.SectionPointer(2, out _) % SegmentFormat.SectionAlignment);
        }
        Assert.False(f.HasSection(9));
        var e = Assert.Throws<CorruptSegmentException>(() => f.Section<int>(9));
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void No_file_appears_until_complete()
    {
        string path = Path.Combine(_dir, "partial.seg");
        using (var w = new SegmentFileWriter(path, SegmentKind.Text))
        {
            w.WriteSection<int>(1, [1]);
            Assert.False(File.Exists(path));
        }
        Assert.False(File.Exists(path));
        Assert.Empty(Directory.GetFiles(_dir));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(17)]
    [InlineData(100)]
    public void Truncated_file_is_refused_naming_the_file(int cut)
    {
        string path = WriteSample();
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^cut]);
        var e = Assert.Throws<CorruptSegmentException>(() => SegmentFile.Open(path, SegmentKind.Text));
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void Flipped_bit_in_a_section_fails_its_checksum()
    {
        string path = WriteSample();
        var bytes = File.ReadAllBytes(path);
        bytes[SegmentFormat.SectionAlignment + 3] ^= 0x10; // inside section 1 (the first aligned offset after the header)
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<CorruptSegmentException>(() => SegmentFile.Open(path, SegmentKind.Text));
        Assert.Contains("checksum", e.Message);
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void Flipped_bit_in_the_header_is_detected()
    {
        string path = WriteSample();
        var bytes = File.ReadAllBytes(path);
        bytes[16] ^= 0x01; // section count
        File.WriteAllBytes(path, bytes);
        Assert.Throws<CorruptSegmentException>(() => SegmentFile.Open(path, SegmentKind.Text));
    }

    [Fact]
    public void Other_files_and_versions_are_refused()
    {
        string junk = Path.Combine(_dir, "junk.seg");
        File.WriteAllText(junk, new string('x', 200));
        Assert.Contains("magic", Assert.Throws<CorruptSegmentException>(() => SegmentFile.Open(junk, SegmentKind.Text)).Message);

        string path = WriteSample();
        var bytes = File.ReadAllBytes(path);
        bytes[8] = 99; // format version
        File.WriteAllBytes(path, bytes);
        Assert.Contains("version 99", Assert.Throws<CorruptSegmentException>(() => SegmentFile.Open(path, SegmentKind.Text)).Message);

        Assert.Throws<FileNotFoundException>(() => SegmentFile.Open(Path.Combine(_dir, "missing.seg"), SegmentKind.Text));
    }
}
