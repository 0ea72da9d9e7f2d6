using MobileBert.PretrainingData;
using Xunit;

namespace MobileBert.Tests.Pretraining;

public sealed class SentenceSplitterTests
{
    private static void Check(string text, params string[] expected) => Assert.Equal(expected, SentenceSplitter.Split(text));

    [Fact] public void SplitsOnPeriodQuestionAndExclamation() =>
        Check("It is a truth. Is it? Yes! It is.", "It is a truth.", "Is it?", "Yes!", "It is.");

    [Fact] public void TitlesDoNotEndSentences() =>
        Check("Mr. Bennet called on Mrs. Long and Dr. Jones at St. James's. Then Mr. Darcy left.",
            "Mr. Bennet called on Mrs. Long and Dr. Jones at St. James's.", "Then Mr. Darcy left.");

    [Fact] public void InitialsAndAcronymsDoNotEndSentences() =>
        Check("J. R. Smith met the U.S. envoy. The economy grew 3.5 percent. I did it. So did I. Then we left.",
            "J. R. Smith met the U.S. envoy.", "The economy grew 3.5 percent.", "I did it.", "So did I.", "Then we left.");

    [Fact] public void ClosingQuotesStayWithTheirSentence() =>
        Check("\"I am quite tired.\" She sat down. 'Really?' He laughed. (It was late.) Morning came.",
            "\"I am quite tired.\"", "She sat down.", "'Really?'", "He laughed.", "(It was late.)", "Morning came.");

    [Fact] public void LowercaseContinuationDoesNotSplit() =>
        Check("\"Why?\" said he. \"Because!\" cried she; apples, pears, etc. and more.",
            "\"Why?\" said he.", "\"Because!\" cried she; apples, pears, etc. and more.");

    [Fact] public void NumberAbbreviationOnlyBeforeDigits() =>
        Check("See No. 5 on the list. I said no. It was final.", "See No. 5 on the list.", "I said no.", "It was final.");

    [Fact] public void EllipsesAndMixedTerminators() =>
        Check("Wait... Then what?! Nothing... nothing at all.", "Wait...", "Then what?!", "Nothing... nothing at all.");

    [Fact] public void WhitespaceAndLineBreaksAreNormalized() =>
        Check("  It was\nthe best of\r\n times.\tIt was   the worst.  ", "It was the best of times.", "It was the worst.");

    [Fact] public void NoTerminatorAndEmpty()
    {
        Check("Chapter 1", "Chapter 1");
        Check("   ");
        Check("");
    }
}
