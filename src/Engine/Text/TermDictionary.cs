namespace Shoal.Engine.Text;

/// <summary>
/// Interns analysed terms to dense integer ids while an index is built. Not thread-safe:
/// the builder analyses in parallel and interns on one thread.
/// </summary>
public sealed class TermDictionary
{
    private readonly Dictionary<string, int> _ids = new(StringComparer.Ordinal);
    private readonly List<string> _terms = [];

    /// <summary>Number of distinct terms.</summary>
    public int Count => _terms.Count;

    /// <summary>The term with id <paramref name="id"/>.</summary>
    public string this[int id] => _terms[id];

    /// <summary>Returns the id of <paramref name="term"/>, adding it when new.</summary>
    public int GetOrAdd(string term)
    {
        if (_ids.TryGetValue(term, out int id)) return id;
        id = _terms.Count;
        _ids.Add(term, id);
        _terms.Add(term);
        return id;
    }
}
