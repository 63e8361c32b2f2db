using System.Globalization;
using Microsoft.ML.OnnxRuntime;

namespace Shoal.Encoders;

/// <summary>
/// An ONNX Runtime <see cref="InferenceSession"/> created by <see cref="OnnxSessionFactory"/>, with
/// the model path and the execution provider it actually runs on. Created once per encoder and
/// reused for every run (<see cref="InferenceSession"/> runs are thread-safe).
/// </summary>
public sealed class OnnxModelSession : IDisposable
{
    internal OnnxModelSession(InferenceSession session, string modelPath, string executionProvider)
    {
        Session = session;
        ModelPath = modelPath;
        ExecutionProvider = executionProvider;
    }

    /// <summary>The session.</summary>
    public InferenceSession Session { get; }

    /// <summary>The model file.</summary>
    public string ModelPath { get; }

    /// <summary>Where runs execute: <c>"cpu"</c> or <c>"cuda:N"</c>.</summary>
    public string ExecutionProvider { get; }

    /// <summary>The model's inputs as "name (type [dims])", comma-separated, for messages.</summary>
    public string DescribeInputs() => Describe(Session.InputMetadata);

    /// <summary>The model's outputs as "name (type [dims])", comma-separated, for messages.</summary>
    public string DescribeOutputs() => Describe(Session.OutputMetadata);

    /// <inheritdoc />
    public void Dispose() => Session.Dispose();

    internal static string Describe(IReadOnlyDictionary<string, NodeMetadata> nodes) =>
        string.Join(", ", nodes.Select(kv => $"{kv.Key} ({Describe(kv.Value)})"));

    internal static string Describe(NodeMetadata node)
    {
        if (!node.IsTensor) return node.OnnxValueType.ToString();
        var dims = node.Dimensions.Select((d, i) => d >= 0 ? d.ToString(CultureInfo.InvariantCulture)
            : i < node.SymbolicDimensions.Length && !string.IsNullOrEmpty(node.SymbolicDimensions[i]) ? node.SymbolicDimensions[i] : "?");
        return $"{node.ElementDataType} [{string.Join(", ", dims)}]";
    }
}
