namespace Shoal.Encoders.Tests;

/// <summary>
/// A fact about the CPU flavour of ONNX Runtime (the default build): skipped, with the reason shown,
/// when the GPU flavour (<c>-p:ShoalOnnxRuntime=Gpu</c>) is in the build, where CUDA may well load.
/// </summary>
public sealed class CpuFlavourFactAttribute : FactAttribute
{
    /// <summary>Sets <see cref="FactAttribute.Skip"/> on the GPU flavour.</summary>
    public CpuFlavourFactAttribute()
    {
        if (OnnxSessionFactory.IsCudaProviderInBuild())
            Skip = "The GPU flavour of ONNX Runtime is in this build (its CUDA execution provider is compiled in), so CUDA may load here; "
                + "this test checks the CPU flavour's fallback and message. Run it on the default (CPU) build.";
    }
}
