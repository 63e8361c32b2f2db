namespace Shoal.Engine.Ingest;

/// <summary>
/// One document as read from a corpus file, before analysis or indexing.
/// </summary>
/// <param name="Id">The corpus' external document id (never null, empty or whitespace-only).</param>
/// <param name="Title">The title, or <see langword="null"/> when the format has none or it is absent or empty.</param>
/// <param name="Text">The body text (may be empty, never null).</param>
public sealed record SourceDocument(string Id, string? Title, string Text);
