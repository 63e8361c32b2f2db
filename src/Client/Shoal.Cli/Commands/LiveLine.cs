using System.Diagnostics;

namespace Shoal.Cli.Commands;

/// <summary>
/// A progress display on standard error. On a terminal it rewrites one line in place; when
/// standard error is redirected (a log file, CI, a pipe) it writes plain lines instead: one when
/// the phase changes and otherwise at most one every <see cref="PlainInterval"/>, so logs stay readable.
/// </summary>
internal sealed class LiveLine
{
    private readonly TextWriter _writer;
    private readonly bool _interactive;
    private readonly object _gate = new();
    private long _lastPlain;
    private string? _lastKey;
    private string? _lastText;
    private int _lastLength;

    /// <summary>Least time between two plain lines with the same phase.</summary>
    public static TimeSpan PlainInterval { get; set; } = TimeSpan.FromSeconds(2);

    public LiveLine(TextWriter? writer = null, bool? interactive = null)
    {
        _writer = writer ?? Console.Error;
        _interactive = interactive ?? (!Console.IsErrorRedirected && writer is null);
    }

    /// <summary>Shows <paramref name="text"/>; <paramref name="key"/> (the phase) forces a plain line when it changes.</summary>
    public void Update(string text, string? key = null)
    {
        lock (_gate)
        {
            if (_interactive)
            {
                string padded = text.Length < _lastLength ? text + new string(' ', _lastLength - text.Length) : text;
                _writer.Write("\r" + padded);
                _lastLength = text.Length;
                return;
            }
            long now = Stopwatch.GetTimestamp();
            bool changed = key is not null && key != _lastKey;
            if (!changed && _lastPlain != 0 && Stopwatch.GetElapsedTime(_lastPlain, now) < PlainInterval) return;
            _writer.WriteLine(text);
            _lastText = text;
            _lastPlain = now;
            _lastKey = key ?? _lastKey;
        }
    }

    /// <summary>Ends a line rewritten in place (so a message that follows starts on its own line); plain lines need nothing.</summary>
    public void End()
    {
        lock (_gate)
        {
            if (_interactive && _lastLength > 0) _writer.WriteLine();
            _lastLength = 0;
        }
    }

    /// <summary>Shows the final state and ends the line (once: not again when the last plain line showed it).</summary>
    public void Complete(string text)
    {
        lock (_gate)
        {
            if (_interactive)
            {
                string padded = text.Length < _lastLength ? text + new string(' ', _lastLength - text.Length) : text;
                _writer.WriteLine("\r" + padded);
            }
            else if (text != _lastText)
            {
                // A final state the last plain line already showed is not written twice.
                _writer.WriteLine(text);
            }
            _lastText = null;
            _lastLength = 0;
        }
    }
}

/// <summary>An <see cref="IProgress{T}"/> that reports on the caller's thread (no synchronisation context hop, no reordering).</summary>
internal sealed class InlineProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
