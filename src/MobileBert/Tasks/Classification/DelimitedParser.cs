using System.Text;

namespace MobileBert.Tasks.Classification;

/// <summary>
/// RFC 4180 record reader with a configurable delimiter and optional quote character.
/// </summary>
/// <remarks>
/// A field that starts with the quote character is quoted: it ends at the next lone quote, a doubled quote is a
/// literal quote, and delimiters and line breaks inside it are data. After the closing quote only a delimiter or a
/// line break may follow (anything else is an error). A quote inside an unquoted field is an ordinary character (as
/// Python's csv module does). Records end at <c>\n</c> or <c>\r\n</c> (a lone <c>\r</c> is data, as in every
/// reader of this library). Fully empty lines are returned as
/// records with a single empty field; the caller decides what to do with them. With <c>quote = null</c> no quoting
/// is recognised (plain split on the delimiter, as GLUE TSVs need).
/// </remarks>
internal sealed class DelimitedParser
{
    private readonly TextReader _reader;
    private readonly char _delimiter;
    private readonly char? _quote;
    private readonly string _file;
    private int _line = 1;
    private bool _first = true;

    public DelimitedParser(TextReader reader, string file, char delimiter, char? quote)
    {
        if (delimiter is '\r' or '\n' || delimiter == quote) throw new ArgumentException($"Invalid delimiter {(int)delimiter}.", nameof(delimiter));
        _reader = reader; _file = file; _delimiter = delimiter; _quote = quote;
    }

    /// <summary>Next record and the 1-based line it starts on; null at end of input.</summary>
    public (int Line, List<string> Fields)? Next()
    {
        int c = _reader.Read();
        if (_first && c == '\uFEFF') c = _reader.Read();
        _first = false;
        if (c < 0) return null;

        int startLine = _line;
        var fields = new List<string>();
        var sb = new StringBuilder();
        while (true)
        {
            // start of a field
            if (_quote is char q && c == q)
            {
                int quoteLine = _line;
                while (true)
                {
                    c = _reader.Read();
                    if (c < 0) throw new DataFormatException(_file, quoteLine, fields.Count + 1, null,
                        "quoted field is not closed before the end of the file.");
                    if (c == q)
                    {
                        int next = _reader.Peek();
                        if (next == q) { _reader.Read(); sb.Append(q); continue; }
                        break;
                    }
                    if (c == '\n') _line++;
                    sb.Append((char)c);
                }
                c = _reader.Read();
                if (c == '\r' && _reader.Peek() == '\n') c = _reader.Read();
                if (c >= 0 && c != _delimiter && c != '\n')
                    throw new DataFormatException(_file, _line, fields.Count + 1, null,
                        $"unexpected character '{(char)c}' after the closing quote of a quoted field (a quote inside a quoted field must be " +
                        $"doubled).");
            }
            else
            {
                while (c >= 0 && c != _delimiter && c != '\n' && !(c == '\r' && _reader.Peek() == '\n'))
                {
                    sb.Append((char)c);
                    c = _reader.Read();
                }
            }

            fields.Add(sb.ToString());
            sb.Clear();
            if (c == _delimiter) { c = _reader.Read(); continue; }
            if (c == '\r' && _reader.Peek() == '\n') _reader.Read();
            if (c >= 0) _line++;
            return (startLine, fields);
        }
    }
}
