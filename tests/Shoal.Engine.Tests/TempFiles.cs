using System.IO.Compression;
using System.Text;

namespace Shoal.Engine.Tests;

/// <summary>A temporary directory for one test class instance, deleted on dispose.</summary>
internal sealed class TempFiles : IDisposable
{
    public TempFiles() => Directory = System.IO.Directory.CreateTempSubdirectory("shoal-test-").FullName;

    public string Directory { get; }

    /// <summary>Writes <paramref name="content"/> as UTF-8 (no BOM) and returns the full path.</summary>
    public string Write(string name, string content)
    {
        string path = Path.Combine(Directory, name);
        File.WriteAllText(path, content, new UTF8Encoding(false));
        return path;
    }

    /// <summary>Writes <paramref name="content"/> gzip-compressed (whatever the name) and returns the full path.</summary>
    public string WriteGzip(string name, string content)
    {
        string path = Path.Combine(Directory, name);
        using FileStream file = File.Create(path);
        using var gzip = new GZipStream(file, CompressionLevel.Fastest);
        byte[] bytes = Encoding.UTF8.GetBytes(content);
        gzip.Write(bytes, 0, bytes.Length);
        return path;
    }

    /// <summary>Writes raw bytes and returns the full path.</summary>
    public string WriteBytes(string name, byte[] content)
    {
        string path = Path.Combine(Directory, name);
        File.WriteAllBytes(path, content);
        return path;
    }

    public string PathOf(string name) => Path.Combine(Directory, name);

    public void Dispose()
    {
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // Best effort.
        }
    }
}
