using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.ML.OnnxRuntime;

namespace Shoal.Encoders;

/// <summary>
/// Creates ONNX Runtime sessions on the configured execution provider:
/// <list type="bullet">
/// <item><c>"cpu"</c>: the CPU provider;</item>
/// <item><c>"cuda"</c>: the CUDA provider on the configured device; when it cannot be loaded (the
/// CPU flavour of ONNX Runtime is in the build, no CUDA libraries, no device) a warning is logged
/// and the session runs on the CPU;</item>
/// <item><c>"cuda-required"</c>: the CUDA provider or an <see cref="EncoderConfigurationException"/>.</item>
/// </list>
/// A missing or unreadable model file is an <see cref="EncoderConfigurationException"/> naming it.
/// </summary>
public static class OnnxSessionFactory
{
    private const string CudaProviderName = "CUDAExecutionProvider";

    /// <summary>Creates a session for <see cref="EncoderOptions.ModelPath"/> with the options' provider settings.</summary>
    /// <exception cref="EncoderConfigurationException">No model path, a missing or invalid model, an
    /// unknown provider, or CUDA unavailable with <c>"cuda-required"</c>.</exception>
    public static OnnxModelSession Create(EncoderOptions options, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (string.IsNullOrWhiteSpace(options.ModelPath))
            throw new EncoderConfigurationException($"No model file configured (ModelPath) for a {options.Kind} encoder.");
        return Create(options.ModelPath, options.ExecutionProvider, options.DeviceId, options.EffectiveIntraOpThreads, logger);
    }

    /// <summary>Creates a session for <paramref name="modelPath"/>.</summary>
    /// <param name="modelPath">The .onnx file.</param>
    /// <param name="executionProvider">"cpu", "cuda" or "cuda-required" (case-insensitive).</param>
    /// <param name="deviceId">CUDA device ordinal.</param>
    /// <param name="intraOpThreads">Intra-op threads; 0 lets ONNX Runtime choose.</param>
    /// <param name="logger">Receives the CUDA fallback warning and a load message.</param>
    /// <exception cref="EncoderConfigurationException">See <see cref="Create(EncoderOptions, ILogger?)"/>.</exception>
    public static OnnxModelSession Create(string modelPath, string executionProvider = EncoderOptions.CpuProvider, int deviceId = 0,
        int intraOpThreads = 0, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(modelPath);
        logger ??= NullLogger.Instance;
        string provider = (executionProvider ?? EncoderOptions.CpuProvider).Trim().ToLowerInvariant();
        if (provider is not (EncoderOptions.CpuProvider or EncoderOptions.CudaProvider or EncoderOptions.CudaRequiredProvider))
            throw new EncoderConfigurationException(
                $"Unknown execution provider '{executionProvider}' for model '{modelPath}'; expected \"cpu\", \"cuda\" or \"cuda-required\".", modelPath);
        if (deviceId < 0)
            throw new EncoderConfigurationException($"CUDA device id {deviceId} for model '{modelPath}' is negative.", modelPath);
        if (!File.Exists(modelPath))
        {
            throw new EncoderConfigurationException(Directory.Exists(modelPath)
                ? $"Model path '{modelPath}' is a directory; expected an .onnx file."
                : $"Model file '{modelPath}' does not exist; expected an .onnx file.", modelPath);
        }

        if (provider != EncoderOptions.CpuProvider)
        {
            var (session, failure) = TryCreateCuda(modelPath, deviceId, intraOpThreads);
            if (session is not null)
            {
                var loaded = new OnnxModelSession(session, modelPath, $"cuda:{deviceId}");
                LogLoaded(logger, loaded);
                return loaded;
            }
            if (provider == EncoderOptions.CudaRequiredProvider)
            {
                // Say whether the model itself is at fault before blaming CUDA.
                using (CreateCpu(modelPath, intraOpThreads)) { }
                throw new EncoderConfigurationException(
                    $"Execution provider \"cuda-required\" (device {deviceId}) cannot be used for model '{modelPath}': {failure}", modelPath);
            }
            EncoderLog.CudaFallback(logger, deviceId, modelPath, failure!);
        }

        var cpu = new OnnxModelSession(CreateCpu(modelPath, intraOpThreads), modelPath, EncoderOptions.CpuProvider);
        LogLoaded(logger, cpu);
        return cpu;
    }

    private static void LogLoaded(ILogger logger, OnnxModelSession model)
    {
        if (!logger.IsEnabled(LogLevel.Information)) return;
        string inputs = model.DescribeInputs();
        string outputs = model.DescribeOutputs();
        EncoderLog.ModelLoaded(logger, model.ModelPath, model.ExecutionProvider, inputs, outputs);
    }

    /// <summary>Whether the ONNX Runtime in this process has the CUDA execution provider compiled in.</summary>
    public static bool IsCudaProviderInBuild()
    {
        try
        {
            return OrtEnv.Instance().GetAvailableProviders().Contains(CudaProviderName, StringComparer.Ordinal);
        }
        catch (OnnxRuntimeException)
        {
            return false;
        }
    }

    private static (InferenceSession? Session, string? Failure) TryCreateCuda(string modelPath, int deviceId, int intraOpThreads)
    {
        if (!IsCudaProviderInBuild())
        {
#if SHOAL_ONNXRUNTIME_GPU
            return (null, "the ONNX Runtime library loaded in this process has no CUDA execution provider");
#else
            return (null, "this build uses the CPU package of ONNX Runtime (build with -p:ShoalOnnxRuntime=Gpu for CUDA)");
#endif
        }
        var options = NewOptions(intraOpThreads);
        try
        {
            options.AppendExecutionProvider_CUDA(deviceId);
            return (new InferenceSession(modelPath, options), null);
        }
        catch (Exception e) when (e is OnnxRuntimeException or DllNotFoundException or EntryPointNotFoundException or BadImageFormatException)
        {
            return (null, e.Message);
        }
        finally
        {
            options.Dispose();
        }
    }

    private static InferenceSession CreateCpu(string modelPath, int intraOpThreads)
    {
        using var options = NewOptions(intraOpThreads);
        try
        {
            return new InferenceSession(modelPath, options);
        }
        catch (OnnxRuntimeException e)
        {
            throw new EncoderConfigurationException($"Model file '{modelPath}' cannot be loaded by ONNX Runtime: {e.Message}", modelPath, e);
        }
    }

    /// <summary>
    /// The options every Shoal session starts from. On an x64 CPU without VNNI, ONNX Runtime's
    /// uint8 x int8 kernel sums pairs of products in 16 bits, which saturate (an int8 encoder's
    /// vectors fell to cosine 0.96 of its fp32 ones on such a CPU); <c>session.x64quantprecision</c>
    /// makes it turn int8 weights into uint8 at load and run its exact uint8 x uint8 kernel there.
    /// Models without int8 matrix multiplies are not affected.
    /// </summary>
    internal static SessionOptions NewOptions(int intraOpThreads = 0)
    {
        var options = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
        };
        if (intraOpThreads > 0) options.IntraOpNumThreads = intraOpThreads;
        if (!EncoderFactory.CpuHasVnni()) options.AddSessionConfigEntry("session.x64quantprecision", "1");
        return options;
    }
}
