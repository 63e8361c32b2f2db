namespace Shoal.Engine.Ingest;

/// <summary>
/// Line-oriented corpus file formats understood by <see cref="CorpusReader"/>. Any of them may be
/// gzip-compressed; see <see cref="CorpusFormats"/> for detection and parsing of names.
/// </summary>
public enum CorpusFormat
{
    /// <summary>BEIR <c>corpus.jsonl</c>: one object per line, <c>{"_id","title","text"}</c>; title optional, other fields ignored. Name: <c>beir</c>.</summary>
    BeirJsonl,

    /// <summary>Tab-separated <c>id&lt;TAB&gt;text</c>, or <c>id&lt;TAB&gt;title&lt;TAB&gt;text</c> when a line has three columns. Name: <c>tsv</c>.</summary>
    Tsv,

    /// <summary>MS MARCO v2 passage jsonl: <c>{"pid","passage",...}</c>; other fields ignored, no title. Name: <c>msmarco-v2</c>.</summary>
    MsMarcoV2Jsonl,
}
