using System.Buffers.Binary;
using System.Numerics;
using System.Text;

namespace MobileBert.Checkpoints;

/// <summary>A Python global named by a pickle (<c>module.name</c>): a class or function, never imported or run.</summary>
internal sealed record PickleGlobal(string Module, string Name)
{
    public override string ToString() => $"{Module}.{Name}";
}

/// <summary>A call a pickle asks for (<c>callable(*args)</c>) that the reader does not evaluate.</summary>
internal sealed record PickleCall(PickleGlobal Callable, object?[] Args);

/// <summary>A dict built by a pickle (plain <c>dict</c> or <c>collections.OrderedDict</c>), in insertion order.</summary>
internal sealed class PickleDict
{
    public List<KeyValuePair<object?, object?>> Items { get; } = [];
}

/// <summary>
/// A pickle reader for what <c>torch.save</c> writes (protocol 2, plus the protocol 4 opcodes newer Pythons emit): it
/// builds plain values (str, long, double, bool, None, tuples as object[], lists, <see cref="PickleDict"/>), turns
/// <c>collections.OrderedDict()</c> into a dict and leaves every other call as a <see cref="PickleCall"/> for the caller
/// to interpret. Nothing is imported or executed, so a malicious file can only fail to load. Persistent ids
/// (PyTorch's storages) go to <see cref="PersistentLoad"/>.
/// </summary>
internal sealed class PickleReader(Stream input, string path)
{
    /// <summary>Resolves a persistent id (BINPERSID) to the object it stands for.</summary>
    public Func<object?, object?> PersistentLoad { get; init; } = pid => throw new InvalidDataException("persistent id in a plain pickle");

    readonly List<object?> _stack = [];
    readonly List<int> _marks = [];
    readonly Dictionary<long, object?> _memo = [];
    long _offset;

    /// <summary>Reads one pickle (up to its STOP opcode) and returns its value; the stream is left right after it.</summary>
    public object? Load()
    {
        _stack.Clear(); _marks.Clear(); _memo.Clear();
        while (true)
        {
            long at = _offset;
            int op = ReadByte();
            switch (op)
            {
                case 0x80: ReadByte(); break;                                       // PROTO
                case 0x95: ReadBytes(8); break;                                     // FRAME (length only)
                case '.': return Pop(at);                                           // STOP
                case '}': Push(new PickleDict()); break;                            // EMPTY_DICT
                case ']': Push(new List<object?>()); break;                         // EMPTY_LIST
                case ')': Push(Array.Empty<object?>()); break;                      // EMPTY_TUPLE
                case '(': _marks.Add(_stack.Count); break;                          // MARK
                case 'N': Push(null); break;
                case 0x88: Push(true); break;
                case 0x89: Push(false); break;
                case 'J': Push((long)BinaryPrimitives.ReadInt32LittleEndian(ReadBytes(4))); break;
                case 'K': Push((long)ReadByte()); break;
                case 'M': Push((long)BinaryPrimitives.ReadUInt16LittleEndian(ReadBytes(2))); break;
                case 0x8a: Push(ReadLong(ReadByte())); break;                       // LONG1
                case 0x8b: Push(ReadLong(ReadInt32(at))); break;                    // LONG4
                case 'G': Push(BinaryPrimitives.ReadDoubleBigEndian(ReadBytes(8))); break;
                case 'X': Push(Encoding.UTF8.GetString(ReadBytes(ReadInt32(at)))); break;          // BINUNICODE
                case 0x8c: Push(Encoding.UTF8.GetString(ReadBytes(ReadByte()))); break;            // SHORT_BINUNICODE
                case 'T': Push(Encoding.Latin1.GetString(ReadBytes(ReadInt32(at)))); break;        // BINSTRING (Python 2 str)
                case 'U': Push(Encoding.Latin1.GetString(ReadBytes(ReadByte()))); break;           // SHORT_BINSTRING
                case 'B': Push(ReadBytes(ReadInt32(at))); break;                                   // BINBYTES
                case 'C': Push(ReadBytes(ReadByte())); break;                                      // SHORT_BINBYTES
                case 'c': Push(new PickleGlobal(ReadLine(), ReadLine())); break;                   // GLOBAL
                case 0x93: { var name = Pop(at); var module = Pop(at); Push(new PickleGlobal(AsString(module, at), AsString(name, at))); break; }
                case 'q': _memo[ReadByte()] = Top(at); break;                      // BINPUT
                case 'r': _memo[ReadInt32(at)] = Top(at); break;                   // LONG_BINPUT
                case 0x94: _memo[_memo.Count] = Top(at); break;                    // MEMOIZE
                case 'h': Push(Memo(ReadByte(), at)); break;                       // BINGET
                case 'j': Push(Memo(ReadInt32(at), at)); break;                    // LONG_BINGET
                case 't': Push(PopMark(at)); break;                                // TUPLE
                case 0x85: Push(new[] { Pop(at) }); break;                         // TUPLE1
                case 0x86: { var b = Pop(at); var a = Pop(at); Push(new[] { a, b }); break; }
                case 0x87: { var c = Pop(at); var b = Pop(at); var a = Pop(at); Push(new[] { a, b, c }); break; }
                case 'l': Push(PopMark(at).ToList()); break;                       // LIST
                case 'a': { var v = Pop(at); AsList(Top(at), at).Add(v); break; }  // APPEND
                case 'e': { var vs = PopMark(at); AsList(Top(at), at).AddRange(vs); break; }
                case 's': { var v = Pop(at); var k = Pop(at); AsDict(Top(at), at).Items.Add(new(k, v)); break; }
                case 'u':                                                          // SETITEMS
                {
                    var kv = PopMark(at);
                    if (kv.Length % 2 != 0) throw Error(at, "SETITEMS with a key and no value");
                    var d = AsDict(Top(at), at);
                    for (int i = 0; i < kv.Length; i += 2) d.Items.Add(new(kv[i], kv[i + 1]));
                    break;
                }
                case 'R': case 0x81:                                               // REDUCE, NEWOBJ
                {
                    var args = Pop(at) as object?[] ?? throw Error(at, "call arguments are not a tuple");
                    var callable = Pop(at) as PickleGlobal ?? throw Error(at, "call of something that is not a global");
                    Push(callable is { Module: "collections", Name: "OrderedDict" } && args.Length == 0 ? new PickleDict()
                        : new PickleCall(callable, args));
                    break;
                }
                case 'b': Pop(at); break;                     // BUILD: object state (an OrderedDict's _metadata, …) is not needed
                case 'Q': Push(PersistentLoad(Pop(at))); break;                    // BINPERSID
                case '0': Pop(at); break;                                          // POP
                case '1': PopMark(at); break;                                      // POP_MARK
                case '2': Push(Top(at)); break;                                    // DUP
                default: throw Error(at, $"unsupported pickle opcode 0x{op:x2}");
            }
        }
    }

    void Push(object? v) => _stack.Add(v);

    object? Pop(long at)
    {
        if (_stack.Count == 0 || (_marks.Count > 0 && _marks[^1] == _stack.Count)) throw Error(at, "pickle stack underflow");
        var v = _stack[^1];
        _stack.RemoveAt(_stack.Count - 1);
        return v;
    }

    object? Top(long at) => _stack.Count > 0 ? _stack[^1] : throw Error(at, "pickle stack underflow");

    object?[] PopMark(long at)
    {
        if (_marks.Count == 0) throw Error(at, "pickle MARK missing");
        int m = _marks[^1];
        _marks.RemoveAt(_marks.Count - 1);
        var items = _stack.GetRange(m, _stack.Count - m).ToArray();
        _stack.RemoveRange(m, _stack.Count - m);
        return items;
    }

    object? Memo(long key, long at) => _memo.TryGetValue(key, out var v) ? v : throw Error(at, $"pickle memo {key} is not defined");

    List<object?> AsList(object? v, long at) => v as List<object?> ?? throw Error(at, "APPEND to something that is not a list");
    PickleDict AsDict(object? v, long at) => v as PickleDict ?? throw Error(at, "SETITEM on something that is not a dict");
    string AsString(object? v, long at) => v as string ?? throw Error(at, "global name is not a string");

    int ReadByte()
    {
        int b = input.ReadByte();
        if (b < 0) throw Error(_offset, "file ends inside a pickle");
        _offset++;
        return b;
    }

    byte[] ReadBytes(int n)
    {
        if (n < 0) throw Error(_offset, $"negative length {n}");
        if (input.CanSeek && n > input.Length - input.Position) throw Error(_offset, "file ends inside a pickle");   // before allocating n
        var buf = new byte[n];
        int got = input.ReadAtLeast(buf, n, throwOnEndOfStream: false);
        if (got < n) throw Error(_offset, "file ends inside a pickle");
        _offset += n;
        return buf;
    }

    int ReadInt32(long at)
    {
        int v = BinaryPrimitives.ReadInt32LittleEndian(ReadBytes(4));
        return v >= 0 ? v : throw Error(at, $"negative length {v}");
    }

    string ReadLine()
    {
        var sb = new StringBuilder();
        for (int b; (b = ReadByte()) != '\n';) sb.Append((char)b);
        return sb.ToString();
    }

    /// <summary>A little-endian two's-complement integer of n bytes (long when it fits, else BigInteger).</summary>
    object ReadLong(int n)
    {
        var v = new BigInteger(ReadBytes(n), isUnsigned: false, isBigEndian: false);
        return v >= long.MinValue && v <= long.MaxValue ? (long)v : v;
    }

    InvalidDataException Error(long at, string detail) => new($"{path}: {detail} (pickle byte {at}).");
}
