using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Relay.Core;
using Relay.Postgres.Republish;

namespace Relay.Postgres;

public static class PostgresServiceCollectionExtensions
{
    /// <summary>
    /// Registers the PostgreSQL source: its options from <c>Relay:Postgres</c> (validated at start), the source, and the
    /// slot lag monitor behind <c>relay_replication_slot_lag_bytes</c>, and the table reader of <c>relay republish</c>.
    /// </summary>
    public static IServiceCollection AddPostgresSource(this IServiceCollection services)
    {
        services.AddOptions<PostgresSourceOptions>().BindConfiguration(PostgresSourceOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<PostgresSourceOptions>, PostgresSourceOptionsValidator>();
        services.AddSingleton<IOutboxSource, PostgresOutboxSource>();
        services.AddSingleton<IOutboxTableReader, PostgresOutboxTableReader>();
        services.AddSingleton<PostgresMetrics>();
        services.AddHostedService<SlotLagMonitor>();
        return services;
    }
}
