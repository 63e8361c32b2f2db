using System.Diagnostics.Metrics;

namespace Shoal.Encoders;

/// <summary>
/// Instruments of the encoders, on a meter named "Shoal" like the grains' (an exporter listening
/// to "Shoal" gets both): the size of every micro-batch run through a model.
/// </summary>
public static class EncoderMetrics
{
    private static readonly Meter Meter = new("Shoal", "1.0");

    /// <summary>Texts per micro-batch run through an encoder, per batcher.</summary>
    public static readonly Histogram<int> BatchSize = Meter.CreateHistogram<int>(
        "shoal.encoder.batch.size", "{text}", "Texts per micro-batch run through an encoder",
        advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = [1, 2, 4, 8, 16, 32, 64, 128, 256] });
}
