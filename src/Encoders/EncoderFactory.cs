using Microsoft.Extensions.Logging;

namespace Shoal.Encoders;

/// <summary>Builds the encoder an <see cref="EncoderOptions"/> describes (see its remarks).</summary>
public static class EncoderFactory
{
    /// <summary>
    /// Creates the encoder: loads the tokenizer, IDF table and ONNX session (once; the encoder
    /// reuses them for every request). Model-based encoders are <see cref="IDisposable"/>.
    /// </summary>
    /// <exception cref="EncoderConfigurationException">A required file is not configured, missing
    /// or malformed, the model's inputs/outputs do not fit, or CUDA is required but unavailable.</exception>
    public static ITextEncoder Create(EncoderOptions options, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (BuiltInModels.Find(options.Model) is { QuantizedFrom: not null } int8 && logger is not null && !CpuHasVnni())
            EncoderLog.Int8WithoutVnni(logger, options.Name ?? int8.Name, int8.Name);
        options = options.ResolveBuiltInModel();
        if (options.Workers < 0) throw new EncoderConfigurationException($"Encoder '{options.Name}': Workers is {options.Workers}; give a positive number, or 0 for one per core.");
        if (options.DocumentBatchTokens < 0) throw new EncoderConfigurationException($"Encoder '{options.Name}': DocumentBatchTokens is {options.DocumentBatchTokens}; give a positive number, or 0 for the provider's default.");
        if (options.IntraOpThreads < 0) throw new EncoderConfigurationException($"Encoder '{options.Name}': IntraOpThreads is {options.IntraOpThreads}; give a positive number, or 0 for the cores divided by Workers.");
        switch (options.Kind)
        {
            case EncoderKind.Bm25:
                return new Bm25QueryEncoder();
            case EncoderKind.Dense:
                {
                    var tokenizer = LoadTokenizer(options);
                    var session = OnnxSessionFactory.Create(options, logger);
                    try
                    {
                        return new DenseOnnxEncoder(session, tokenizer, options.Pooling, options.Normalize, options.OutputName, options.Name)
                        {
                            QueryPrefix = options.QueryPrefix ?? "",
                            DocumentPrefix = options.DocumentPrefix ?? "",
                        };
                    }
                    catch
                    {
                        session.Dispose();
                        throw;
                    }
                }
            case EncoderKind.Sparse when !string.IsNullOrWhiteSpace(options.ModelPath):
                {
                    var tokenizer = LoadTokenizer(options);
                    var session = OnnxSessionFactory.Create(options, logger);
                    try
                    {
                        return new SpladeOnnxEncoder(session, tokenizer, options.SparseThreshold, options.SparseTopK, options.OutputName, options.Name)
                        {
                            QueryPrefix = options.QueryPrefix ?? "",
                            DocumentPrefix = options.DocumentPrefix ?? "",
                        };
                    }
                    catch
                    {
                        session.Dispose();
                        throw;
                    }
                }
            case EncoderKind.Sparse when !string.IsNullOrWhiteSpace(options.IdfPath):
                return InferenceFreeSparseEncoder.Load(LoadTokenizer(options), options.IdfPath, options.Name);
            case EncoderKind.Sparse:
                throw new EncoderConfigurationException("A sparse encoder needs ModelPath (a SPLADE ONNX model) or IdfPath (idf.json for inference-free encoding); neither is set.");
            default:
                throw new EncoderConfigurationException($"Unknown encoder kind {options.Kind}; expected Dense, Sparse or Bm25.");
        }
    }

    /// <summary>
    /// The tokenizer of <paramref name="options"/>: <see cref="EncoderOptions.TokenizerPath"/> if set,
    /// else <see cref="EncoderOptions.VocabPath"/>.
    /// </summary>
    /// <exception cref="EncoderConfigurationException">Neither is set, or the file cannot be used.</exception>
    public static WordPieceTokenizer LoadTokenizer(EncoderOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!string.IsNullOrWhiteSpace(options.TokenizerPath))
            return WordPieceTokenizer.FromTokenizerJson(options.TokenizerPath, options.MaxSequenceLength);
        if (!string.IsNullOrWhiteSpace(options.VocabPath))
            return WordPieceTokenizer.FromVocabFile(options.VocabPath, options.MaxSequenceLength ?? WordPieceTokenizer.DefaultMaxLength, options.LowerCase);
        throw new EncoderConfigurationException($"A {options.Kind} encoder needs a tokenizer: set TokenizerPath (tokenizer.json) or VocabPath (vocab.txt).");
    }

    /// <summary>
    /// Whether the CPU has VNNI (AVX-VNNI or AVX-512 VNNI), with which ONNX Runtime multiplies
    /// uint8 by int8 without 16-bit intermediate sums. Not x86: true (other kernels, no such issue known).
    /// </summary>
    internal static bool CpuHasVnni()
    {
        if (!System.Runtime.Intrinsics.X86.X86Base.IsSupported) return true;
        if (System.Runtime.Intrinsics.X86.AvxVnni.IsSupported) return true;
        try
        {
            string? flags = File.Exists("/proc/cpuinfo") ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("flags", StringComparison.Ordinal)) : null;
            return flags is not null && flags.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries).Contains("avx512_vnni", StringComparer.Ordinal);
        }
        catch (IOException)
        {
            return false;
        }
    }
}
