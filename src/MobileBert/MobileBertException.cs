namespace MobileBert;

/// <summary>
/// Base of every exception the library throws for bad input, settings or files, or for a run that cannot go on (a diverged
/// loss, a non-finite gradient): a user's problem, not a defect. The message is one line naming the file, line, field or
/// parameter. Hosts catch this one type: the CLI prints <c>error: message</c> and exits with code 1, the server answers
/// with a problem document. Anything else that escapes is a defect.
/// </summary>
public abstract class MobileBertException(string message, Exception? inner = null) : Exception(message, inner);
