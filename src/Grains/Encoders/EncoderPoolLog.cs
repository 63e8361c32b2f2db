using Microsoft.Extensions.Logging;

namespace Shoal.Grains.Encoders;

/// <summary>Source-generated log messages of the encoder pools and client.</summary>
internal static partial class EncoderPoolLog
{
    [LoggerMessage(EventId = 5101, Level = LogLevel.Information, Message = "Encoder pools ready on this silo: {Encoders}.")]
    public static partial void PoolsReady(ILogger logger, string encoders);

    [LoggerMessage(EventId = 5102, Level = LogLevel.Warning,
        Message = "This silo's roles ({Roles}) exclude 'encoder': its {Count} configured encoders are not loaded.")]
    public static partial void RoleExcluded(ILogger logger, string roles, int count);

    [LoggerMessage(EventId = 5103, Level = LogLevel.Error, Message = "Encoder '{Encoder}' failed to encode {Count} texts.")]
    public static partial void EncodeFailed(ILogger logger, Exception exception, string encoder, int count);

    [LoggerMessage(EventId = 5104, Level = LogLevel.Debug, Message = "Encoder '{Encoder}' on silo {Silo} failed; trying another silo.")]
    public static partial void SiloFailed(ILogger logger, Exception exception, string encoder, Orleans.Runtime.SiloAddress silo);
}
