using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Relay.Core;
using Relay.Diagnostics;
using Relay.Kafka;
using Relay.Options;
using Relay.Pipeline;
using Relay.Postgres;
using Relay.SqlServer;

namespace Relay;

public static class RelayServiceCollectionExtensions
{
    /// <summary>Registers the relay: options (validated at start), the configured source, the Kafka producer and the worker.</summary>
    public static IServiceCollection AddRelay(this IServiceCollection services, IConfiguration configuration)
    {
        AddValidatedOptions<PipelineOptions>(services, PipelineOptions.Section, OptionsRules.Pipeline);
        AddValidatedOptions<KafkaOptions>(services, KafkaOptions.Section, KafkaProducerFactory.Validate);
        AddValidatedOptions<OutboxOptions>(services, OutboxOptions.Section, OptionsRules.Outbox);
        services.AddSingleton<OutboxTables>();

        var source = configuration["Relay:Source"] ?? "Postgres";
        switch (source.ToLowerInvariant())
        {
            case "postgres" or "postgresql":
                AddValidatedOptions<PostgresSourceOptions>(services, PostgresSourceOptions.Section, o => OptionsRules.PositiveDurations(
                    PostgresSourceOptions.Section, (o.IdleAcknowledgeInterval, nameof(o.IdleAcknowledgeInterval)),
                    (o.WalReceiverStatusInterval, nameof(o.WalReceiverStatusInterval))));
                services.AddSingleton<IOutboxSource, PostgresOutboxSource>();
                break;
            case "sqlserver":
                AddValidatedOptions<SqlServerSourceOptions>(services, SqlServerSourceOptions.Section, o => OptionsRules.PositiveDurations(
                        SqlServerSourceOptions.Section, (o.PollInterval, nameof(o.PollInterval)), (o.MaxPollInterval, nameof(o.MaxPollInterval)),
                        (o.LeaseDuration, nameof(o.LeaseDuration)))
                        .Concat(o.PositionStore == PositionStoreKind.File && string.IsNullOrWhiteSpace(o.PositionFile)
                            ? [$"{SqlServerSourceOptions.Section}:PositionFile: is required with PositionStore = File"] : []));
                services.AddSingleton<IOutboxSource, SqlServerOutboxSource>();
                break;
            default:
                throw new RelayConfigurationException(
                    $"Relay:Source: '{source}' is not a supported source; use Postgres or SqlServer.");
        }

        services.AddSingleton<KafkaProducerFactory>();
        services.AddSingleton<RelayStatus>();
        services.AddSingleton<RelayMetrics>();
        AddValidatedOptions<DiagnosticsOptions>(services, DiagnosticsOptions.Section, o => OptionsRules.PositiveDurations(
            DiagnosticsOptions.Section, (o.LagSampleInterval, nameof(o.LagSampleInterval)), (o.LivenessTimeout, nameof(o.LivenessTimeout))));
        services.AddHostedService<SlotLagSampler>();
        services.AddHealthChecks()
            .AddCheck<LivenessCheck>("live", tags: ["live"])
            .AddCheck<ReadinessCheck>("ready", tags: ["ready"]);
        services.AddHostedService<RelayWorker>();
        return services;
    }

    /// <summary>Every configuration problem at once, each naming its key (empty when the configuration is valid).</summary>
    public static IReadOnlyList<string> ValidateRelayConfiguration(this IServiceProvider services)
    {
        var failures = new List<string>();
        void Check<T>() where T : class
        {
            try { _ = services.GetService<IOptions<T>>()?.Value; }
            catch (OptionsValidationException e) { failures.AddRange(e.Failures); }
        }
        Check<PipelineOptions>();
        Check<KafkaOptions>();
        Check<OutboxOptions>();
        Check<PostgresSourceOptions>();
        Check<SqlServerSourceOptions>();
        Check<DiagnosticsOptions>();
        return failures;
    }

    static void AddValidatedOptions<T>(IServiceCollection services, string section, Func<T, IEnumerable<string>>? rules = null)
        where T : class
    {
        services.AddOptions<T>().BindConfiguration(section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<T>>(new AnnotatedOptionsValidator<T>(section, rules));
    }
}
