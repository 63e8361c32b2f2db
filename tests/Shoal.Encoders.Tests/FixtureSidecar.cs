using System.Text.Json;

namespace Shoal.Encoders.Tests;

/// <summary>
/// tests/fixtures/models/fixtures.json: inputs and expected outputs of the fixture models,
/// computed in numpy by tools/make-fixture-models.py (independently of ONNX Runtime and of C#).
/// </summary>
internal sealed class FixtureSidecar
{
    private static readonly Lazy<FixtureSidecar> Loaded = new(() => new FixtureSidecar(Path.Combine(TestPaths.Models, "fixtures.json")));

    private readonly JsonElement _root;

    private FixtureSidecar(string path)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
        _root = doc.RootElement.Clone();
    }

    public static FixtureSidecar Instance => Loaded.Value;

    public long[][] InputIds => Matrix<long>(_root.GetProperty("input_ids"));

    public long[][] AttentionMask => Matrix<long>(_root.GetProperty("attention_mask"));

    public long[][] TokenTypeIds => Matrix<long>(_root.GetProperty("token_type_ids"));

    /// <summary>The sidecar's batch (ids, mask and token types as the generator fed them).</summary>
    public TokenizedBatch Batch(bool withTokenTypes = true)
    {
        var ids = InputIds;
        int rows = ids.Length, width = ids[0].Length;
        var types = withTokenTypes ? TokenTypeIds.SelectMany(r => r).ToArray() : new long[rows * width];
        return new TokenizedBatch(rows, width, ids.SelectMany(r => r).ToArray(), AttentionMask.SelectMany(r => r).ToArray(), types);
    }

    public float[][] Dense(string key) => Matrix<float>(_root.GetProperty("dense-tiny.onnx").GetProperty(key));

    public float[][][] LastHiddenState =>
        _root.GetProperty("dense-tiny.onnx").GetProperty("last_hidden_state").EnumerateArray().Select(Matrix<float>).ToArray();

    /// <summary>Per row: (term id, weight), weight-descending.</summary>
    public (int Id, float Weight)[][] TopTerms(string model) =>
        _root.GetProperty(model).GetProperty("top_terms").EnumerateArray()
            .Select(row => row.EnumerateArray().Select(p => (p[0].GetInt32(), p[1].GetSingle())).ToArray()).ToArray();

    public int[] PositiveTerms => _root.GetProperty("splade-tiny.onnx").GetProperty("positive_terms").EnumerateArray().Select(e => e.GetInt32()).ToArray();

    private static T[][] Matrix<T>(JsonElement e) => e.Deserialize<T[][]>()!;
}
