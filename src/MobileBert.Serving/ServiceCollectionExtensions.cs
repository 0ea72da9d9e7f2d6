using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace MobileBert.Serving;

/// <summary>Registers MobileBert models with dependency injection.</summary>
public static class ServiceCollectionExtensions
{
    /// <summary>
    /// Adds the models configured by <paramref name="configure"/>: <see cref="MobileBertModels"/> (the pool), a hosted
    /// service that loads them at start-up and drains their batches at shutdown, and keyed <see cref="IClassifier"/> /
    /// <see cref="IQuestionAnswerer"/> / <see cref="IEmbedder"/> / <see cref="IMaskFiller"/> services (key = model name:
    /// <c>[FromKeyedServices("sentiment")] IClassifier classifier</c>). <paramref name="configure"/> runs when the host
    /// starts, so it may read configuration that is complete only then.
    /// </summary>
    public static IServiceCollection AddMobileBert(this IServiceCollection services, Action<MobileBertServingOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<MobileBertServingOptions>().Configure(configure);
        services.AddSingleton<MobileBertModels>();
        services.AddHostedService<MobileBertHostedService>();
        services.AddKeyedSingleton<IClassifier>(KeyedService.AnyKey, (sp, key) =>
            sp.GetRequiredService<MobileBertModels>().GetClassifier(KeyName(key)));
        services.AddKeyedSingleton<IQuestionAnswerer>(KeyedService.AnyKey, (sp, key) =>
            sp.GetRequiredService<MobileBertModels>().GetQuestionAnswerer(KeyName(key)));
        services.AddKeyedSingleton<IEmbedder>(KeyedService.AnyKey, (sp, key) => sp.GetRequiredService<MobileBertModels>().GetEmbedder(KeyName(key)));
        services.AddKeyedSingleton<IMaskFiller>(KeyedService.AnyKey, (sp, key) =>
            sp.GetRequiredService<MobileBertModels>().GetMaskFiller(KeyName(key)));
        return services;
    }

    static string KeyName(object? key) =>
        key as string ?? throw new InvalidOperationException($"a model is looked up by its name (a string), got {key ?? "null"}.");
}

/// <summary>Loads the models when the host starts (before the server listens) and drains their batches when it stops
/// (after the server stopped taking requests, so every accepted request is answered).</summary>
sealed class MobileBertHostedService(MobileBertModels models, IHostApplicationLifetime lifetime) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        models.Load();
        lifetime.ApplicationStopping.Register(models.BeginShutdown);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => models.DrainAsync().WaitAsync(cancellationToken);
}
