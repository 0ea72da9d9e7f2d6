using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace MobileBert.Serving.Tests;

/// <summary>The sample minimal-API app (samples/MobileBert.Serving.Sample) over the tiny test models.</summary>
public class SampleAppFactory : WebApplicationFactory<Program>
{
    protected virtual string? ApiKey => null;

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("Models:Sentiment", TestModels.Classifier);
        builder.UseSetting("Models:Qa", TestModels.QuestionAnswerer);
        builder.UseSetting("Models:Embedder", TestModels.Embedder);   // any backbone embeds
        builder.UseSetting("Models:FillMask", TestModels.MaskedLm);
        builder.UseSetting("MobileBert:MaxBatch", "8");
        if (ApiKey is { } key) builder.UseSetting("MobileBert:ApiKey", key);
    }
}

/// <summary>The sample app with an API key.</summary>
public sealed class KeyedSampleAppFactory : SampleAppFactory
{
    public const string Key = "s3cret-key-for-tests";
    protected override string? ApiKey => Key;
}
