using Microsoft.Extensions.Logging;

namespace Shoal.Encoders;

/// <summary>Source-generated log messages of the encoders.</summary>
internal static partial class EncoderLog
{
    [LoggerMessage(EventId = 5001, Level = LogLevel.Warning,
        Message = "CUDA execution provider (device {DeviceId}) is not available for model '{ModelPath}': {Reason}. Falling back to the CPU execution provider; set ExecutionProvider to \"cuda-required\" to fail instead.")]
    public static partial void CudaFallback(ILogger logger, int deviceId, string modelPath, string reason);

    [LoggerMessage(EventId = 5002, Level = LogLevel.Information,
        Message = "Loaded ONNX model '{ModelPath}' on {ExecutionProvider}: inputs [{Inputs}], outputs [{Outputs}].")]
    public static partial void ModelLoaded(ILogger logger, string modelPath, string executionProvider, string inputs, string outputs);

    [LoggerMessage(EventId = 5004, Level = LogLevel.Information,
        Message = "Encoder '{Name}' runs the int8 model '{Model}' on a CPU without VNNI instructions: ONNX Runtime's exact uint8 kernel is used there (its uint8 x int8 kernel would saturate), slower than with VNNI.")]
    public static partial void Int8WithoutVnni(ILogger logger, string name, string model);

    [LoggerMessage(EventId = 5003, Level = LogLevel.Error, Message = "Encoder batch of {Count} items failed in '{Name}'.")]
    public static partial void BatchFailed(ILogger logger, Exception exception, string name, int count);
}
