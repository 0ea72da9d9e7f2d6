namespace MobileBert;

/// <summary>
/// Base of every exception the library throws for bad input, settings or files, or for a run that cannot go on (a diverged
/// loss, a non-finite gradient): a user's problem, not a defect. The message is one line naming the file, line, field or
/// setting. Hosts catch this one type: the CLI prints <c>error: message</c> and exits with code 1, the server answers
/// with a problem document. Anything else that escapes is a defect.
/// </summary>
public abstract class MobileBertException(string message, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>The options properties the message names (e.g. <c>Lr</c>, <c>TeacherDir</c>), as whole words. A host that
    /// exposes them under other names rewrites the message (the CLI writes <c>--lr</c>, <c>--teacher</c>).</summary>
    public IReadOnlyList<string> Settings { get; init; } = [];
}

/// <summary>A setting (an options property) holds a value the library cannot use; the message names it by its property name
/// (<see cref="MobileBertException.Settings"/>).</summary>
public sealed class SettingException : MobileBertException
{
    /// <param name="message">One line that names each of <paramref name="settings"/> by its property name.</param>
    public SettingException(string message, params string[] settings) : base(message) { Settings = settings; }
}
