using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;
using OpenQA.Selenium.Support.UI;
using Xunit;

namespace MobileBert.Serving.Tests;

/// <summary>
/// The web page in a real headless browser (Debian's chromium + chromium-driver; .ci/run installs them): pick a model,
/// type, see the label probabilities; for QA the answer highlighted in the context. The page must show what the API
/// returns. With MOBILEBERT_SCREENSHOT_DIR set it saves screenshots there (docs/images), and
/// MOBILEBERT_SCREENSHOT_CLASSIFIER / _QA choose the model folders shown (default: the tiny test models).
/// </summary>
[Collection(LoopbackCollection.Name)]
public class WebPageTests
{
    const string Chromium = "/usr/bin/chromium", ChromeDriver = "/usr/bin/chromedriver";

    static ChromeDriver StartBrowser()
    {
        Assert.True(File.Exists(Chromium) && File.Exists(ChromeDriver),
            $"{Chromium} and {ChromeDriver} are needed: apt-get install chromium chromium-driver (.ci/run does).");
        var options = new ChromeOptions { BinaryLocation = Chromium };
        options.AddArguments("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run", "--disable-dev-shm-usage", "--window-size=900,900",
            $"--user-data-dir={MobileBert.Tests.TestPaths.NewTempDir()}");
        var service = ChromeDriverService.CreateDefaultService(Path.GetDirectoryName(ChromeDriver)!, Path.GetFileName(ChromeDriver));
        service.SuppressInitialDiagnosticInformation = true;
        service.HideCommandPromptWindow = true;
        return new ChromeDriver(service, options, TimeSpan.FromSeconds(60));
    }

    [Fact]
    public async Task ThePageClassifiesAndHighlightsTheAnswer()
    {
        string classifierDir = Environment.GetEnvironmentVariable("MOBILEBERT_SCREENSHOT_CLASSIFIER") ?? TestModels.Classifier;
        string qaDir = Environment.GetEnvironmentVariable("MOBILEBERT_SCREENSHOT_QA") ?? TestModels.QuestionAnswererV1;
        string? shots = Environment.GetEnvironmentVariable("MOBILEBERT_SCREENSHOT_DIR");
        await using var server = await LoopbackServer.StartAsync(o => o.AddClassifier("sentiment", classifierDir).AddQuestionAnswerer("qa", qaDir)
            .AddMaskFiller("fill", TestModels.MaskedLm).AddEmbedder("embedder", TestModels.Classifier));
        using var client = server.Client();
        using var browser = StartBrowser();
        var wait = new WebDriverWait(browser, TimeSpan.FromSeconds(120));   // generous: the machine may be busy
        browser.Navigate().GoToUrl(server.Address);

        // Classifier: the bars show the API's probabilities, most probable first.
        wait.Until(d => d.FindElements(By.CssSelector("#model option")).Count == 4);
        new SelectElement(browser.FindElement(By.Id("model"))).SelectByValue("sentiment");
        const string text = "Great phone, excellent battery life.";
        browser.FindElement(By.Id("text")).SendKeys(text);
        browser.FindElement(By.Id("classify")).Click();
        wait.Until(d => d.FindElements(By.CssSelector("#labels .bar")).Count > 0);
        var expected = (await Http.PostOk(client, "/v1/models/sentiment/classify", new { texts = new[] { text }, truncate = true }))["results"]![0]!;
        var bars = browser.FindElements(By.CssSelector("#labels .bar"));
        Assert.Equal(expected["probabilities"]!.AsObject().Count, bars.Count);
        Assert.Equal((string?)expected["label"], bars[0].GetDomAttribute("data-label"));
        Assert.Equal($"{(float)expected["probability"]! * 100:0.0} %", bars[0].FindElement(By.ClassName("value")).Text);
        Assert.Empty(browser.FindElement(By.Id("error")).Text);
        if (shots is not null) Save(browser, shots, "serve-classify.png");

        // Question answering: the best answer is highlighted at its character offsets.
        new SelectElement(browser.FindElement(By.Id("model"))).SelectByValue("qa");
        wait.Until(d => d.FindElement(By.Id("qa-form")).Displayed);
        const string question = "What is a lexicographer?";
        const string context = "A secularist is an advocate of secularism. A lexicographer is a person who writes dictionaries. A saw set is a " +
            "tool used to bend each alternate sawtooth.";
        browser.FindElement(By.Id("question")).SendKeys(question);
        browser.FindElement(By.Id("context")).SendKeys(context);
        browser.FindElement(By.Id("answer")).Click();
        wait.Until(d => d.FindElements(By.CssSelector("#context-view mark")).Count == 1);
        var best = (await Http.PostOk(client, "/v1/models/qa/qa", new { question, context, top_k = 3 }))["answers"]![0]!;
        Assert.Equal((string?)best["text"], browser.FindElement(By.CssSelector("#context-view mark")).Text);
        Assert.Equal(context, browser.FindElement(By.Id("context-view")).Text);
        Assert.Empty(browser.FindElement(By.Id("error")).Text);
        if (shots is not null) Save(browser, shots, "serve-qa.png");

        // Fill-mask: the candidates of the first [MASK]; embeddings: the cosine similarity of two sentences.
        new SelectElement(browser.FindElement(By.Id("model"))).SelectByValue("fill");
        wait.Until(d => d.FindElement(By.Id("fill-form")).Displayed);
        browser.FindElement(By.Id("fill")).Click();
        wait.Until(d => d.FindElements(By.CssSelector("#fills .bar")).Count == 5);
        var fills = (await Http.PostOk(client, "/v1/models/fill/fill-mask", new { text = "The capital of France is [MASK].",
            top_k = 5 }))["masks"]![0]!;
        Assert.Equal((string?)fills[0]!["token"], browser.FindElements(By.CssSelector("#fills .bar"))[0].GetDomAttribute("data-label"));
        new SelectElement(browser.FindElement(By.Id("model"))).SelectByValue("embedder");
        wait.Until(d => d.FindElement(By.Id("embed-form")).Displayed);
        browser.FindElement(By.Id("embed-a")).SendKeys("A man is playing a guitar.");
        browser.FindElement(By.Id("embed-b")).SendKeys("Someone plays an instrument.");
        browser.FindElement(By.Id("embed")).Click();
        wait.Until(d => d.FindElement(By.Id("similarity")).Text.StartsWith("cosine similarity: ", StringComparison.Ordinal));
        Assert.Contains("64 dimensions, mean pooling", browser.FindElement(By.Id("similarity")).Text);

        // An error from the API is shown, not swallowed.
        new SelectElement(browser.FindElement(By.Id("model"))).SelectByValue("qa");
        browser.FindElement(By.Id("question")).Clear();
        browser.FindElement(By.Id("answer")).Click();
        wait.Until(d => d.FindElement(By.Id("error")).Text.Contains("question is empty"));
    }

    static void Save(IWebDriver browser, string dir, string name)
    {
        Directory.CreateDirectory(dir);
        ((ITakesScreenshot)browser).GetScreenshot().SaveAsFile(Path.Combine(dir, name));
    }
}
