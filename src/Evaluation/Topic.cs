namespace Shoal.Evaluation;

/// <summary>One evaluation query (a "topic" in TREC terms).</summary>
/// <param name="Id">The query id, as used in qrels and run files.</param>
/// <param name="Text">The query text, verbatim from the topics file.</param>
public sealed record Topic(string Id, string Text);
