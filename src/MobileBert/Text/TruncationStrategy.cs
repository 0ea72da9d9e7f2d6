namespace MobileBert.Text;

/// <summary>How <see cref="WordPieceTokenizer.Encode"/> shortens inputs longer than <c>maxLength</c> (HF semantics).</summary>
public enum TruncationStrategy
{
    /// <summary>Remove one token at a time from the end of the longer sequence; on a tie, from the pair (HF <c>longest_first</c>).</summary>
    LongestFirst,

    /// <summary>Truncate only the first sequence (HF <c>only_first</c>).</summary>
    OnlyFirst,

    /// <summary>Truncate only the second sequence (HF <c>only_second</c>). A single sequence that is too long cannot be truncated with this
    /// strategy and throws.</summary>
    OnlySecond,
}
