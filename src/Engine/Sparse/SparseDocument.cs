namespace Shoal.Engine.Sparse;

/// <summary>A document of a learned-sparse corpus: external id, optional text, and its sparse vector.</summary>
/// <param name="Id">External id; unique within an index; documents are ordered by it (ordinal).</param>
/// <param name="Text">Stored text (returned with hits), or <see langword="null"/>.</param>
/// <param name="Vector">The document's term weights.</param>
public sealed record SparseDocument(string Id, string? Text, SparseVector Vector);
