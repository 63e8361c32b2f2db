using System.Buffers.Binary;

namespace Shoal.Encoders.Quantization;

/// <summary>What <see cref="OnnxInt8Quantizer"/> did to a model.</summary>
/// <param name="Model">The quantised model (an ONNX <c>ModelProto</c>).</param>
/// <param name="MatMulsQuantized">Matrix multiplies by a constant weight that now run in int8.</param>
/// <param name="MatMulsKept">Matrix multiplies left in fp32 (both operands computed, such as attention scores).</param>
/// <param name="WeightBytesBefore">Bytes of the fp32 weights that were quantised.</param>
/// <param name="WeightBytesAfter">Bytes of their int8 replacements with scales and zero points.</param>
public sealed record Int8QuantizationResult(byte[] Model, int MatMulsQuantized, int MatMulsKept, long WeightBytesBefore, long WeightBytesAfter);

/// <summary>
/// Dynamic int8 quantisation of an ONNX transformer encoder, done by Shoal: every <c>MatMul</c>
/// whose second operand is a constant fp32 matrix [K, N] gets that matrix as int8, symmetric per
/// output column (scale = the column's largest magnitude / 127, zero point 0), and computes
///
/// <code>
/// A_q, A_scale, A_zp = DynamicQuantizeLinear(A)           // uint8, per tensor, at run time
/// Y = Cast&lt;float&gt;(MatMulInteger(A_q, W_q, A_zp, W_zp)) * (A_scale * W_scale)
/// </code>
///
/// the pattern ONNX Runtime's CPU provider fuses into one int8 GEMM with a float output (VNNI
/// instructions where the CPU has them). Activations are quantised once per tensor even when
/// several projections read them (Q, K and V). Everything else — attention scores, softmax, layer
/// norms, GELU, embeddings — stays fp32, and every field of the model this rewrite does not touch
/// is copied as it was.
/// </summary>
/// <remarks>
/// Without VNNI, ONNX Runtime multiplies uint8 by int8 with an instruction whose 16-bit pair sums
/// can saturate; Shoal's sessions ask it for its exact uint8 kernel there (OnnxSessionFactory.NewOptions).
/// </remarks>
public static class OnnxInt8Quantizer
{
    private const int FloatType = 1, Int8Type = 3;

    /// <summary>Quantises <paramref name="model"/> (the bytes of an ONNX model file).</summary>
    /// <exception cref="InvalidDataException">The bytes are not an ONNX model this rewrite understands
    /// (no graph, default-domain opset below 11, a weight stored outside the file).</exception>
    public static Int8QuantizationResult Quantize(ReadOnlyMemory<byte> model)
    {
        var top = ProtoWire.Read(model);
        var graphField = top.Where(f => f.Number == 7 && f.WireType == 2).ToList();
        if (graphField.Count != 1) throw new InvalidDataException("The file is not an ONNX model: it has no graph.");
        long opset = top.Where(f => f.Number == 8 && f.WireType == 2).Select(f => ProtoWire.Read(f.Bytes))
            .Where(o => !o.Any(x => x.Number == 1 && x.Text.Length > 0 && x.Text != "ai.onnx"))
            .Select(o => (long)(o.FirstOrDefault(x => x.Number == 2).Varint)).DefaultIfEmpty(0).Max();
        if (opset < 11) throw new InvalidDataException($"The model imports ONNX opset {opset}; int8 quantisation needs opset 11 or later (DynamicQuantizeLinear).");

        var (graph, stats) = QuantizeGraph(graphField[0].Bytes);
        byte[] output = ProtoWire.Message(s =>
        {
            foreach (var f in top)
            {
                if (f.Number == 7 && f.WireType == 2) ProtoWire.WriteBytesField(s, 7, graph);
                else ProtoWire.Write(s, f);
            }
        });
        return stats with { Model = output };
    }

    /// <summary>Quantises the model file at <paramref name="input"/> into <paramref name="output"/> (written whole, then renamed into place).</summary>
    public static Int8QuantizationResult QuantizeFile(string input, string output)
    {
        var result = Quantize(File.ReadAllBytes(input));
        string temp = output + "." + Guid.NewGuid().ToString("N")[..8] + ".tmp";
        try
        {
            File.WriteAllBytes(temp, result.Model);
            File.Move(temp, output, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
        return result;
    }

    private sealed record Node(List<string> Inputs, List<string> Outputs, string OpType, string Domain, ReadOnlyMemory<byte> Raw);

    private sealed record Weight(string Name, long K, long N, float[] Values);

    private static (byte[] Graph, Int8QuantizationResult Stats) QuantizeGraph(ReadOnlyMemory<byte> graphBytes)
    {
        var fields = ProtoWire.Read(graphBytes);
        var nodes = fields.Where(f => f.Number == 1).Select(f => ParseNode(f.Bytes)).ToList();
        var graphInputs = fields.Where(f => f.Number == 11).Select(f => ProtoWire.Read(f.Bytes).FirstOrDefault(x => x.Number == 1).Text).ToHashSet(StringComparer.Ordinal);
        var initializers = new Dictionary<string, ProtoField>(StringComparer.Ordinal);
        foreach (var f in fields.Where(f => f.Number == 5)) initializers[TensorName(f.Bytes)] = f;

        var uses = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var n in nodes)
        {
            foreach (var input in n.Inputs) uses[input] = uses.GetValueOrDefault(input) + 1;
        }

        // Which MatMuls multiply by a constant fp32 matrix.
        var weights = new Dictionary<string, Weight?>(StringComparer.Ordinal);
        Weight? WeightOf(string name)
        {
            if (weights.TryGetValue(name, out var known)) return known;
            Weight? w = null;
            if (!graphInputs.Contains(name) && initializers.TryGetValue(name, out var init)) w = FloatMatrix(name, init.Bytes);
            weights[name] = w;
            return w;
        }
        bool IsTarget(Node n) => n.OpType == "MatMul" && n.Domain is "" or "ai.onnx" && n.Inputs.Count == 2 && n.Outputs.Count == 1 && WeightOf(n.Inputs[1]) is not null;

        var quantizedUses = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var n in nodes.Where(IsTarget)) quantizedUses[n.Inputs[1]] = quantizedUses.GetValueOrDefault(n.Inputs[1]) + 1;

        var newNodes = new List<byte[]>();
        var newInitializers = new List<byte[]>();
        var quantizedWeights = new HashSet<string>(StringComparer.Ordinal);
        var quantizedActivations = new HashSet<string>(StringComparer.Ordinal);
        int done = 0, kept = 0;
        long before = 0, after = 0;
        foreach (var n in nodes)
        {
            if (!IsTarget(n))
            {
                if (n.OpType == "MatMul") kept++;
                newNodes.Add(n.Raw.ToArray());
                continue;
            }
            string a = n.Inputs[0], w = n.Inputs[1], y = n.Outputs[0];
            string stem = $"{y}_int8";
            if (quantizedWeights.Add(w))
            {
                var weight = WeightOf(w)!;
                var (q, scales) = QuantizeColumns(weight);
                newInitializers.Add(Tensor(w + "_quantized", [weight.K, weight.N], Int8Type, (byte[])(Array)q));
                newInitializers.Add(Tensor(w + "_scale", [weight.N], FloatType, FloatBytes(scales)));
                newInitializers.Add(Tensor(w + "_zero_point", [weight.N], Int8Type, new byte[weight.N]));
                before += weight.Values.Length * 4L;
                after += q.Length + weight.N * 5L;
            }
            if (quantizedActivations.Add(a))
                newNodes.Add(NodeBytes($"{a}_DynamicQuantizeLinear", "DynamicQuantizeLinear", [a], [a + "_quantized", a + "_scale", a + "_zero_point"]));
            newNodes.Add(NodeBytes(stem + "_MatMulInteger", "MatMulInteger", [a + "_quantized", w + "_quantized", a + "_zero_point", w + "_zero_point"], [stem + "_int32"]));
            newNodes.Add(NodeBytes(stem + "_Cast", "Cast", [stem + "_int32"], [stem + "_float"], castToFloat: true));
            newNodes.Add(NodeBytes(stem + "_ScaleProduct", "Mul", [a + "_scale", w + "_scale"], [stem + "_scale"]));
            newNodes.Add(NodeBytes(stem + "_Rescale", "Mul", [stem + "_float", stem + "_scale"], [y]));
            done++;
        }

        // Fields stay where they were: the rewritten nodes where the first node was, the new
        // initializers after the last old one (so a model with nothing to quantise is unchanged).
        int firstNode = fields.FindIndex(f => f.Number == 1), lastInitializer = fields.FindLastIndex(f => f.Number == 5);
        byte[] graph = ProtoWire.Message(s =>
        {
            for (int i = 0; i < fields.Count; i++)
            {
                var f = fields[i];
                if (f.Number == 1)
                {
                    if (i == firstNode)
                    {
                        foreach (var node in newNodes) ProtoWire.WriteBytesField(s, 1, node);
                    }
                }
                else if (f.Number != 5 || !Unread(TensorName(f.Bytes)))
                {
                    ProtoWire.Write(s, f);
                }
                if (i == lastInitializer)
                {
                    foreach (var init in newInitializers) ProtoWire.WriteBytesField(s, 5, init);
                }
            }
            if (lastInitializer < 0)
            {
                foreach (var init in newInitializers) ProtoWire.WriteBytesField(s, 5, init);
            }
        });
        return (graph, new Int8QuantizationResult([], done, kept, before, after));

        // An fp32 weight that only quantised MatMuls read: nothing reads it any more.
        bool Unread(string name) => quantizedWeights.Contains(name) && uses.GetValueOrDefault(name) == quantizedUses.GetValueOrDefault(name);
    }

    private static Node ParseNode(ReadOnlyMemory<byte> bytes)
    {
        List<string> inputs = [], outputs = [];
        string op = "", domain = "";
        foreach (var f in ProtoWire.Read(bytes))
        {
            switch (f.Number)
            {
                case 1: inputs.Add(f.Text); break;
                case 2: outputs.Add(f.Text); break;
                case 4: op = f.Text; break;
                case 7: domain = f.Text; break;
            }
        }
        return new Node(inputs, outputs, op, domain, bytes);
    }

    private static string TensorName(ReadOnlyMemory<byte> tensor) => ProtoWire.Read(tensor).FirstOrDefault(f => f.Number == 8 && f.WireType == 2).Text ?? "";

    /// <summary>The tensor as an fp32 matrix, or null when it is not a 2-D fp32 tensor stored in the file.</summary>
    private static Weight? FloatMatrix(string name, ReadOnlyMemory<byte> tensor)
    {
        var fields = ProtoWire.Read(tensor);
        var dims = new List<long>();
        foreach (var f in fields.Where(f => f.Number == 1))
        {
            if (f.WireType == 2) dims.AddRange(ProtoWire.PackedVarints(f.Bytes.Span));
            else dims.Add((long)f.Varint);
        }
        var type = fields.FirstOrDefault(f => f.Number == 2);
        if (type.Number != 2 || type.Varint != FloatType || dims.Count != 2 || dims[0] <= 0 || dims[1] <= 0) return null;
        if (fields.Any(f => f.Number == 14 && f.Varint == 1))
            throw new InvalidDataException($"Weight '{name}' is stored outside the model file (external data); quantise a self-contained model.");
        float[] values;
        var raw = fields.FirstOrDefault(f => f.Number == 9 && f.WireType == 2);
        if (raw.Number == 9) values = ProtoWire.Floats(raw.Bytes.Span);
        else
        {
            var packed = new List<float>();
            foreach (var f in fields.Where(f => f.Number == 4))
            {
                if (f.WireType == 2) packed.AddRange(ProtoWire.Floats(f.Bytes.Span));
                else packed.Add(BinaryPrimitives.ReadSingleLittleEndian(f.Bytes.Span));
            }
            values = [.. packed];
        }
        if (values.LongLength != dims[0] * dims[1]) throw new InvalidDataException($"Weight '{name}' holds {values.Length} values for shape [{dims[0]}, {dims[1]}].");
        return new Weight(name, dims[0], dims[1], values);
    }

    /// <summary>Symmetric int8 per output column: scale = largest magnitude / 127.</summary>
    private static (sbyte[] Quantized, float[] Scales) QuantizeColumns(Weight w)
    {
        int k = (int)w.K, n = (int)w.N;
        var scales = new float[n];
        for (int r = 0; r < k; r++)
        {
            for (int c = 0; c < n; c++) scales[c] = Math.Max(scales[c], Math.Abs(w.Values[(r * n) + c]));
        }
        for (int c = 0; c < n; c++) scales[c] = scales[c] > 0 ? scales[c] / 127f : 1f;
        var q = new sbyte[w.Values.Length];
        for (int r = 0; r < k; r++)
        {
            for (int c = 0; c < n; c++) q[(r * n) + c] = (sbyte)Math.Clamp(MathF.Round(w.Values[(r * n) + c] / scales[c]), -127f, 127f);
        }
        return (q, scales);
    }

    private static byte[] FloatBytes(float[] values)
    {
        var bytes = new byte[values.Length * 4];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), values[i]);
        return bytes;
    }

    private static byte[] Tensor(string name, long[] dims, int type, byte[] raw) => ProtoWire.Message(s =>
    {
        ProtoWire.WritePackedVarints(s, 1, dims);
        ProtoWire.WriteVarintField(s, 2, (ulong)type);
        ProtoWire.WriteStringField(s, 8, name);
        ProtoWire.WriteBytesField(s, 9, raw);
    });

    private static byte[] NodeBytes(string name, string op, string[] inputs, string[] outputs, bool castToFloat = false) => ProtoWire.Message(s =>
    {
        foreach (string i in inputs) ProtoWire.WriteStringField(s, 1, i);
        foreach (string o in outputs) ProtoWire.WriteStringField(s, 2, o);
        ProtoWire.WriteStringField(s, 3, name);
        ProtoWire.WriteStringField(s, 4, op);
        if (castToFloat)
        {
            ProtoWire.WriteBytesField(s, 5, ProtoWire.Message(a =>
            {
                ProtoWire.WriteStringField(a, 1, "to");
                ProtoWire.WriteVarintField(a, 3, FloatType);
                ProtoWire.WriteVarintField(a, 20, 2); // AttributeType INT
            }));
        }
    });
}
