using System.Text;
using MobileBert.PretrainingData;
using Xunit;

namespace MobileBert.Tests.Pretraining;

public sealed class CorpusReaderTests
{
    private static string Write(string dir, string name, string content)
    {
        string p = Path.Combine(dir, name);
        Directory.CreateDirectory(Path.GetDirectoryName(p)!);
        File.WriteAllText(p, content, new UTF8Encoding(false));
        return p;
    }

    [Fact]
    public void BlankLinesAndFileBoundariesEndDocuments()
    {
        string dir = TestPaths.NewTempDir();
        Write(dir, "a.txt", "First doc line one\ncontinues here. Second sentence.\n\nSecond doc. Still second.\n   \nThird doc");
        Write(dir, "b.txt", "Fourth doc starts. And ends.");
        var r = CorpusReader.Read([dir]);
        Assert.Equal(4, r.Documents.Count);
        Assert.Equal(["First doc line one continues here.", "Second sentence."], r.Documents[0].Sentences);
        Assert.Equal(["Second doc.", "Still second."], r.Documents[1].Sentences);
        Assert.Equal(["Third doc"], r.Documents[2].Sentences); // a paragraph end is a sentence end
        Assert.Equal(["Fourth doc starts.", "And ends."], r.Documents[3].Sentences);
        Assert.EndsWith("b.txt", r.Documents[3].SourcePath);
        Assert.Equal(2, r.Files.Count);
    }

    [Fact]
    public void TwoBlankLinesModeKeepsParagraphsTogether()
    {
        string dir = TestPaths.NewTempDir();
        string f = Write(dir, "novel.txt", "Chapter 1\n\nIt began\nhere. Then more\n\nA new paragraph\n\n\n\nChapter 2\n\nNext chapter.");
        var r = CorpusReader.Read([f], new CorpusReadOptions { BlankLinesBetweenDocuments = 2 });
        Assert.Equal(2, r.Documents.Count);
        Assert.Equal(["Chapter 1", "It began here.", "Then more", "A new paragraph"], r.Documents[0].Sentences);
        Assert.Equal(["Chapter 2", "Next chapter."], r.Documents[1].Sentences);
    }

    [Fact]
    public void KjvVerseNumbersAreStrippedUnlessDisabled()
    {
        string dir = TestPaths.NewTempDir();
        string f = Write(dir, "kjv.txt", "Genesis 1\n\n  1 In the beginning God created the heaven and the earth.\n  2 And the earth was without " +
            "form, and void; and darkness was upon the face of\nthe deep.\n  3 And God said, Let there be light:\n  4 and there was light.\n");
        var r = CorpusReader.Read([f]);
        Assert.Equal(2, r.Documents.Count);
        Assert.Equal(["In the beginning God created the heaven and the earth.",
            "And the earth was without form, and void; and darkness was upon the face of the deep.",
            "And God said, Let there be light:", "and there was light."], r.Documents[1].Sentences); // a verse starts a sentence
        var kept = CorpusReader.Read([f], new CorpusReadOptions { StripVerseNumbers = false });
        Assert.StartsWith("1 In the beginning", kept.Documents[1].Sentences[0]);
    }

    [Fact]
    public void JsonObjectArrayAndJsonLinesAreDocuments()
    {
        string dir = TestPaths.NewTempDir();
        Write(dir, "one.json", "{\"year\": 1790, \"text\": \"Fellow citizens. We meet again.\\n\\nA new paragraph here.\"}");
        Write(dir, "many.json", "[{\"text\": \"Doc A one. Doc A two.\"}, {\"text\": \"\"}, {\"text\": null}, {\"text\": \"Doc B.\"}]");
        Write(dir, "lines.jsonl", "{\"text\": \"Line doc one. More.\"}\n\n{\"text\": \"Line doc two.\"}\n");
        var r = CorpusReader.Read([dir]);
        // folder order: lines.jsonl, many.json, one.json (ordinal)
        Assert.Equal(5, r.Documents.Count);
        Assert.Equal(["Line doc one.", "More."], r.Documents[0].Sentences);
        Assert.Equal(["Line doc two."], r.Documents[1].Sentences);
        Assert.Equal(["Doc A one.", "Doc A two."], r.Documents[2].Sentences);
        Assert.Equal(["Doc B."], r.Documents[3].Sentences);
        Assert.Equal(["Fellow citizens.", "We meet again.", "A new paragraph here."], r.Documents[4].Sentences);
    }

    [Fact]
    public void BundledSotuSpeechIsOneDocument()
    {
        string f = PretrainingTestData.Corpus("sotu", "1790_george_washington_n.json");
        var r = CorpusReader.Read([f]);
        Assert.Single(r.Documents);
        Assert.StartsWith("Fellow-Citizens of the Senate and House of Representatives:", r.Documents[0].Sentences[0]);
        Assert.True(r.Documents[0].Sentences.Count > 30);
    }

    [Fact]
    public void InvalidUtf8AndUnpairedSurrogatesBecomeReplacementCharactersAndAreCounted()
    {
        string dir = TestPaths.NewTempDir();
        File.WriteAllBytes(Path.Combine(dir, "latin1.txt"), [.. "Line one.\nCaf"u8.ToArray(), 0xE9, .. " au lait.\n"u8.ToArray()]);
        File.WriteAllText(Path.Combine(dir, "emoji.jsonl"), "{\"text\":\"Broken \\ud83d emoji. Second sentence.\"}\n");
        var r = CorpusReader.Read([dir]);
        Assert.Equal(2, r.Replaced);
        var all = string.Join(" ", r.Documents.SelectMany(d => d.Sentences));
        Assert.Contains("Caf\uFFFD au lait.", all);
        Assert.Contains("Broken \uFFFD emoji.", all);
    }

    [Fact]
    public void MalformedJsonNamesPathAndLine()
    {
        string dir = TestPaths.NewTempDir();
        string f = Write(dir, "bad.json", "[\n  {\"text\": \"ok\"},\n  {\"text\": \"broken\" \"x\": 1}\n]");
        var ex = Assert.Throws<PretrainingDataException>(() => CorpusReader.Read([f]));
        Assert.Equal(f, ex.Path);
        Assert.Equal(3, ex.Line);
        Assert.Contains("line 3", ex.Message);

        string g = Write(dir, "bad.jsonl", "{\"text\": \"fine.\"}\n{\"text\": \"fine.\"}\n{\"text\": oops}\n");
        var ex2 = Assert.Throws<PretrainingDataException>(() => CorpusReader.Read([g]));
        Assert.Equal(g, ex2.Path);
        Assert.Equal(3, ex2.Line);
        Assert.Contains("line 3", ex2.Message);

        string h = Write(dir, "notext.jsonl", "{\"text\": \"fine.\"}\n{\"body\": \"no text\"}\n");
        var ex3 = Assert.Throws<PretrainingDataException>(() => CorpusReader.Read([h]));
        Assert.Equal(2, ex3.Line);
        Assert.Contains("\"text\"", ex3.Message);
    }

    [Fact]
    public void EmptyFolderMissingPathAndEmptyCorpus()
    {
        string empty = TestPaths.NewTempDir();
        File.WriteAllText(Path.Combine(empty, "notes.md"), "not a corpus file");
        var ex = Assert.Throws<PretrainingDataException>(() => CorpusReader.Read([empty]));
        Assert.Contains(empty, ex.Message);

        string missing = Path.Combine(empty, "nope");
        var ex2 = Assert.Throws<PretrainingDataException>(() => CorpusReader.Read([missing]));
        Assert.Equal(missing, ex2.Path);

        string blank = Path.Combine(empty, "blank.txt");
        File.WriteAllText(blank, "\n\n   \n");
        var ex3 = Assert.Throws<PretrainingDataException>(() => CorpusReader.Read([blank]));
        Assert.Contains("empty", ex3.Message);
        Assert.Contains(blank, ex3.Message);
    }

    [Fact]
    public void SkipBadFilesCountsAndReportsThem()
    {
        string dir = TestPaths.NewTempDir();
        Write(dir, "good.txt", "A good document. It has two sentences.");
        Write(dir, "broken.json", "{\"text\": ");
        Write(dir, "wrong.json", "{\"text\": 5}");
        Assert.Throws<PretrainingDataException>(() => CorpusReader.Read([dir]));
        var r = CorpusReader.Read([dir], new CorpusReadOptions { SkipBadFiles = true });
        Assert.Single(r.Documents);
        Assert.Equal(2, r.SkippedFiles.Count);
        Assert.Contains(r.SkippedFiles, s => s.Path.EndsWith("wrong.json"));
        Assert.Contains(r.SkippedFiles, s => s.Path.EndsWith("broken.json") && s.Reason.Contains("Malformed JSON"));
    }
}
