namespace Shoal.Engine.Sparse;

/// <summary>
/// The u8 weight quantisation shared by writer, search and tests: level = round(w / MaxWeight * 255)
/// (to even, in double), clamped to [1, 255] for w &gt; 0; a level stands for level * MaxWeight / 255.
/// </summary>
internal static class SparseLevels
{
    /// <summary>Quantises a positive weight; <paramref name="maxWeight"/> is the index-wide scale.</summary>
    public static byte Quantize(float weight, float maxWeight)
    {
        double level = Math.Round((double)weight / maxWeight * 255.0, MidpointRounding.ToEven);
        return level < 1 ? (byte)1 : level > 255 ? (byte)255 : (byte)level;
    }

    /// <summary>The factor that turns Σ q·level into a score: MaxWeight / 255, in double.</summary>
    public static double Scale(float maxWeight) => maxWeight / 255.0;
}
