using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Relay.Core;
using Relay.Diagnostics;
using Relay.Instrumentation;
using Relay.Kafka;
using Relay.Options;
using Relay.Pipeline;
using Relay.Postgres;
using Relay.SqlServer;

namespace Relay;

public static class RelayServiceCollectionExtensions
{
    /// <summary>
    /// Registers the relay: options (each section validated at start by its own validator), the source chosen by
    /// <c>Relay:Source</c> (which registers and validates its own options), the Kafka producer, metrics, health checks and
    /// the supervisor that runs the pipeline.
    /// </summary>
    public static IServiceCollection AddRelay(this IServiceCollection services, IConfiguration configuration)
    {
        // Each bound where its type is named: the configuration binder's generated code covers only such calls.
        services.AddOptions<PipelineOptions>().BindConfiguration(PipelineOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<PipelineOptions>, PipelineOptionsValidator>();
        services.AddOptions<KafkaOptions>().BindConfiguration(KafkaOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<KafkaOptions>, KafkaOptionsValidator>();
        services.AddOptions<OutboxOptions>().BindConfiguration(OutboxOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<OutboxOptions>, OutboxOptionsValidator>();
        services.AddOptions<DiagnosticsOptions>().BindConfiguration(DiagnosticsOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<DiagnosticsOptions>, DiagnosticsOptionsValidator>();
        services.AddSingleton<OutboxMappingResolver>();
        services.AddSingleton<OutboxMapping>();

        _ = SourceKinds.Parse(configuration) switch
        {
            SourceKind.Postgres => services.AddPostgresSource(),
            SourceKind.SqlServer => services.AddSqlServerSource(),
            _ => throw new ArgumentOutOfRangeException(nameof(configuration)),
        };

        services.AddMetrics();
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<RelayStatus>();
        services.AddSingleton<RelayMetrics>();
        services.AddSingleton<RelayMetricsExport>();
        services.AddSingleton<KafkaStatistics>();
        services.AddSingleton<KafkaProducerFactory>();
        services.AddHealthChecks()
            .AddCheck<LivenessCheck>("live", tags: ["live"])
            .AddCheck<ReadinessCheck>("ready", tags: ["ready"]);
        services.AddHostedService<RelaySupervisor>();
        return services;
    }
}
