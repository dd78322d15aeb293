using Microsoft.Extensions.Configuration;
using Relay.Options;
using Serilog;
using Serilog.Events;
using Serilog.Settings.Configuration;
using Serilog.Formatting.Compact;

namespace Relay.Diagnostics;

/// <summary>Serilog from configuration; without a configured sink, JSON lines in a container and readable text elsewhere.</summary>
static class RelayLogging
{
    const string TextTemplate = "{Timestamp:HH:mm:ss} {Level:u3} {SourceContext}: {Message:lj}{NewLine}{Exception}";

    /// <summary>Whether logs are JSON lines: asked for, or <c>Auto</c> in a container.</summary>
    public static bool IsJson(LogFormat format) =>
        format == LogFormat.Json || (format == LogFormat.Auto && Environment.GetEnvironmentVariable("DOTNET_RUNNING_IN_CONTAINER") == "true");

    public static void Configure(LoggerConfiguration logger, IConfiguration configuration, LogFormat format)
    {
        // The sinks and formatters Relay ships, named: Serilog need not scan every loaded assembly at start-up.
        logger.ReadFrom.Configuration(configuration, new ConfigurationReaderOptions(
            typeof(ConsoleLoggerConfigurationExtensions).Assembly, typeof(RenderedCompactJsonFormatter).Assembly));
        // Invalid options fail the host's start with a stack trace; Relay prints each problem itself ("Invalid configuration: …").
        logger.MinimumLevel.Override("Microsoft.Extensions.Hosting.Internal.Host", LogEventLevel.Fatal);
        if (configuration.GetSection("Serilog:WriteTo").Exists())
            return;
        if (!configuration.GetSection("Serilog:MinimumLevel").Exists())
            logger.MinimumLevel.Information()
                .MinimumLevel.Override("Microsoft", LogEventLevel.Warning)
                .MinimumLevel.Override("Npgsql", LogEventLevel.Warning);
        if (IsJson(format))
            logger.WriteTo.Console(new RenderedCompactJsonFormatter());
        else
            logger.WriteTo.Console(outputTemplate: TextTemplate);
    }
}
