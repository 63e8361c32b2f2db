using Shoal.Engine.Sparse;

namespace Shoal.Engine.Tests.Sparse;

public sealed class SparseVectorTests
{
    [Fact]
    public void Create_sorts_by_term_id()
    {
        var v = SparseVector.Create([(30, 1.5f), (2, 0.25f), (17, 3f)]);
        Assert.Equal([2, 17, 30], v.Terms);
        Assert.Equal([0.25f, 3f, 1.5f], v.Weights);
        Assert.Equal(3, v.Count);
    }

    [Fact]
    public void Create_rejects_a_duplicate_term()
    {
        var ex = Assert.Throws<SparseVectorException>(() => SparseVector.Create([(5, 1f), (9, 2f), (5, 3f)]));
        Assert.Contains("5", ex.Message);
        Assert.Contains("more than once", ex.Message);
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    [InlineData(-1f)]
    [InlineData(0f)]
    public void Create_rejects_weights_that_are_not_finite_and_positive(float weight)
    {
        var ex = Assert.Throws<SparseVectorException>(() => SparseVector.Create([(1, 1f), (7, weight)]));
        Assert.Contains("Term id 7", ex.Message);
    }

    [Fact]
    public void Create_rejects_a_negative_term_id()
    {
        var ex = Assert.Throws<SparseVectorException>(() => SparseVector.Create([(-3, 1f)]));
        Assert.Contains("-3", ex.Message);
    }

    [Fact]
    public void Dot_multiplies_matching_terms_only()
    {
        var a = SparseVector.Create([(1, 2f), (4, 3f), (9, 1f)]);
        var b = SparseVector.Create([(4, 0.5f), (9, 4f), (12, 7f)]);
        Assert.Equal(3 * 0.5 + 1 * 4, a.Dot(b));
        Assert.Equal(a.Dot(b), b.Dot(a));
        Assert.Equal(0, a.Dot(SparseVector.Empty));
        Assert.Equal(0, default(SparseVector).Count);
    }

    [Fact]
    public void Equality_compares_contents()
    {
        var a = SparseVector.Create([(1, 2f), (4, 3f)]);
        var b = SparseVector.Create([(4, 3f), (1, 2f)]);
        Assert.Equal(a, b);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
        Assert.NotEqual(a, SparseVector.Create([(1, 2f)]));
    }
}
