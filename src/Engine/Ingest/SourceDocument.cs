namespace Shoal.Engine.Ingest;

/// <summary>
/// One document as read from a corpus file, before analysis or indexing.
/// </summary>
/// <param name="Id">The corpus' external document id (never null, empty or whitespace-only).</param>
/// <param name="Title">The title, or <see langword="null"/> when the format has none or it is absent or empty.</param>
/// <param name="Text">The body text (may be empty, never null).</param>
public sealed record SourceDocument(string Id, string? Title, string Text)
{
    /// <summary>What an encoder reads of a document: the title and the text, or the text alone without a title.</summary>
    public string EncoderText => EncoderTextOf(Title, Text);

    /// <summary>What an encoder reads of a document with <paramref name="title"/> and <paramref name="text"/>.</summary>
    public static string EncoderTextOf(string? title, string text) => string.IsNullOrEmpty(title) ? text : title + " " + text;
}
