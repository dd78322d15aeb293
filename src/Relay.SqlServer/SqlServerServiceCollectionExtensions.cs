using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Relay.Core;

namespace Relay.SqlServer;

public static class SqlServerServiceCollectionExtensions
{
    /// <summary>Registers the SQL Server CDC source with its options from <c>Relay:SqlServer</c>, validated at start.</summary>
    public static IServiceCollection AddSqlServerSource(this IServiceCollection services)
    {
        services.AddOptions<SqlServerSourceOptions>().BindConfiguration(SqlServerSourceOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<SqlServerSourceOptions>, SqlServerSourceOptionsValidator>();
        services.AddSingleton<IValidateOptions<OutboxOptions>, SqlServerOutboxRules>();
        services.AddSingleton<IOutboxSource, SqlServerOutboxSource>();
        services.AddHostedService<CaptureMonitor>();
        return services;
    }
}
