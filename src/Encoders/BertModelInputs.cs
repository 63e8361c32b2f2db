using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Shoal.Encoders;

/// <summary>
/// The inputs of a BERT-style ONNX model, detected from the session's input metadata:
/// <c>input_ids</c> and <c>attention_mask</c> (required) and <c>token_type_ids</c> (fed when the
/// model declares it), each int64 or int32 of rank 2 <c>[batch, sequence]</c>. Any other input is
/// a configuration error, since the encoder could not feed it.
/// </summary>
internal sealed class BertModelInputs
{
    public const string InputIds = "input_ids";
    public const string AttentionMask = "attention_mask";
    public const string TokenTypeIds = "token_type_ids";

    private readonly string[] _names;
    private readonly TensorElementType[] _types;

    private BertModelInputs(string[] names, TensorElementType[] types)
    {
        _names = names;
        _types = types;
    }

    /// <summary>The input names fed, in model order.</summary>
    public IReadOnlyList<string> Names => _names;

    /// <summary>Whether the model takes token_type_ids.</summary>
    public bool HasTokenTypeIds => _names.Contains(TokenTypeIds);

    /// <summary>Checks the model's inputs and returns the binding.</summary>
    /// <exception cref="EncoderConfigurationException">Expected vs found, naming the model file.</exception>
    public static BertModelInputs Detect(OnnxModelSession model)
    {
        var inputs = model.Session.InputMetadata;
        string expected = "expected inputs input_ids and attention_mask (int64 or int32, [batch, sequence]) and optionally token_type_ids";
        var missing = new[] { InputIds, AttentionMask }.Where(n => !inputs.ContainsKey(n)).ToList();
        if (missing.Count > 0)
            throw new EncoderConfigurationException(
                $"Model '{model.ModelPath}' has no input {string.Join(" or ", missing)}: {expected}; found {model.DescribeInputs()}.", model.ModelPath);
        var unknown = inputs.Keys.Where(n => n is not (InputIds or AttentionMask or TokenTypeIds)).ToList();
        if (unknown.Count > 0)
            throw new EncoderConfigurationException(
                $"Model '{model.ModelPath}' has input(s) {string.Join(", ", unknown)} that a BERT encoder cannot feed: {expected}; found {model.DescribeInputs()}.", model.ModelPath);
        var names = model.Session.InputNames.ToArray();
        var types = new TensorElementType[names.Length];
        for (int i = 0; i < names.Length; i++)
        {
            var meta = inputs[names[i]];
            if (!meta.IsTensor || meta.ElementDataType is not (TensorElementType.Int64 or TensorElementType.Int32) || meta.Dimensions.Length != 2)
                throw new EncoderConfigurationException(
                    $"Model '{model.ModelPath}' input {names[i]} is {OnnxModelSession.Describe(meta)}: {expected}.", model.ModelPath);
            types[i] = meta.ElementDataType;
        }
        return new BertModelInputs(names, types);
    }

    /// <summary>Creates the input tensors for <paramref name="batch"/> (the caller disposes them).</summary>
    public OrtValue[] Create(TokenizedBatch batch)
    {
        long[] shape = [batch.BatchSize, batch.SequenceLength];
        var values = new OrtValue[_names.Length];
        try
        {
            for (int i = 0; i < _names.Length; i++)
            {
                long[] data = _names[i] switch
                {
                    InputIds => batch.InputIds,
                    AttentionMask => batch.AttentionMask,
                    _ => batch.TokenTypeIds,
                };
                values[i] = _types[i] == TensorElementType.Int64
                    ? OrtValue.CreateTensorValueFromMemory(data, shape)
                    : OrtValue.CreateTensorValueFromMemory(Array.ConvertAll(data, v => checked((int)v)), shape);
            }
            return values;
        }
        catch
        {
            foreach (var v in values) v?.Dispose();
            throw;
        }
    }
}
