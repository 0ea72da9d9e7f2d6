using System.Text;

namespace MobileBert.Text;

/// <summary>
/// The one line reader of every command and data reader: UTF-8 (a leading BOM dropped; invalid bytes become U+FFFD
/// through <see cref="TextSanitizer"/>), and only <c>\n</c> or <c>\r\n</c> end a line — a lone <c>\r</c> is an
/// ordinary character of the line (files from old Mac tools or a stray carriage return never shift lines).
/// A final line without a line break is a line; an empty text has no lines.
/// </summary>
public sealed class LineReader : IDisposable
{
    readonly TextReader _reader;
    readonly char[] _buffer = new char[1 << 14];
    readonly StringBuilder _line = new();
    int _pos, _len;
    bool _eof, _first = true;

    /// <summary>Reads UTF-8 from <paramref name="stream"/> with <paramref name="sanitizer"/>'s policy (the stream is disposed with the
    /// reader).</summary>
    public LineReader(Stream stream, TextSanitizer sanitizer) : this(sanitizer.Reader(stream)) { }

    /// <summary>Reads lines of already-decoded text (a leading U+FEFF is dropped).</summary>
    public LineReader(TextReader reader) => _reader = reader ?? throw new ArgumentNullException(nameof(reader));

    /// <summary>Opens a UTF-8 file.</summary>
    public static LineReader Open(string path, TextSanitizer sanitizer) => new(File.OpenRead(path), sanitizer);

    /// <summary>1-based number of the line last returned (0 before the first).</summary>
    public int LineNumber { get; private set; }

    /// <summary>The next line without its terminator, or null at the end.</summary>
    public string? ReadLine()
    {
        _line.Clear();
        while (true)
        {
            if (_pos == _len)
            {
                if (_eof || (_len = _reader.Read(_buffer, 0, _buffer.Length)) == 0) { _eof = true; _pos = _len = 0; break; }
                _pos = 0;
                if (_first && _buffer[0] == '\uFEFF') _pos = 1;
                _first = false;
                continue;
            }
            int nl = Array.IndexOf(_buffer, '\n', _pos, _len - _pos);
            if (nl < 0) { _line.Append(_buffer, _pos, _len - _pos); _pos = _len; continue; }
            _line.Append(_buffer, _pos, nl - _pos);
            _pos = nl + 1;
            if (_line.Length > 0 && _line[^1] == '\r') _line.Length--;
            LineNumber++;
            return _line.ToString();
        }
        if (_line.Length == 0) return null;
        LineNumber++;
        return _line.ToString();
    }

    /// <summary>Every remaining line with its 1-based number.</summary>
    public IEnumerable<(int Line, string Text)> Lines()
    {
        while (ReadLine() is { } line) yield return (LineNumber, line);
    }

    /// <summary>Every line of a UTF-8 file with its 1-based number.</summary>
    public static IEnumerable<(int Line, string Text)> ReadFile(string path, TextSanitizer sanitizer)
    {
        using var r = Open(path, sanitizer);
        foreach (var l in r.Lines()) yield return l;
    }

    public void Dispose() => _reader.Dispose();
}
