using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;
using Relay.Core;
using Relay.Options;
using Serilog;
using Serilog.Debugging;
using Serilog.Events;
using Serilog.Settings.Configuration;
using Serilog.Formatting.Compact;

namespace Relay.Diagnostics;

/// <summary>Serilog from configuration; without a configured sink, JSON lines in a container and readable text elsewhere.</summary>
static partial class RelayLogging
{
    const string TextTemplate = "{Timestamp:HH:mm:ss} {Level:u3} {SourceContext}: {Message:lj}{NewLine}{Exception}";

    /// <summary>Whether logs are JSON lines: asked for, or <c>Auto</c> in a container.</summary>
    public static bool IsJson(LogFormat format) =>
        format == LogFormat.Json || (format == LogFormat.Auto && Environment.GetEnvironmentVariable("DOTNET_RUNNING_IN_CONTAINER") == "true");

    public static void Configure(LoggerConfiguration logger, IConfiguration configuration, LogFormat format)
    {
        // The sinks and formatters Relay ships, named: Serilog need not scan every loaded assembly at start-up. What
        // Serilog cannot find or build there it only tells its SelfLog, and the relay would run without logs: a
        // configuration problem instead, that stops start-up.
        var problems = new List<string>();
        SelfLog.Enable(line => problems.Add(SelfLogTimestamp().Replace(line, "").Trim()));
        try
        {
            logger.ReadFrom.Configuration(configuration, new ConfigurationReaderOptions(
                typeof(ConsoleLoggerConfigurationExtensions).Assembly, typeof(RenderedCompactJsonFormatter).Assembly));
        }
        finally
        {
            SelfLog.Enable(Console.Error);   // later problems (a sink that cannot write) on stderr, not nowhere
        }
        if (problems.Count > 0)
            throw new RelayConfigurationException(
                $"Serilog: {string.Join("; ", problems)}. Relay ships the Console sink and Serilog's formatters (README \"Serilog\").");
        // Invalid options fail the host's start with a stack trace; Relay prints each problem itself ("Invalid configuration: …").
        logger.MinimumLevel.Override("Microsoft.Extensions.Hosting.Internal.Host", LogEventLevel.Fatal);
        // An unready relay answers each readiness probe with 503, and the health-check service logged each as an Error:
        // a line every probe through a start or a database outage, which the relay's own lines already tell once.
        logger.MinimumLevel.Override("Microsoft.Extensions.Diagnostics.HealthChecks", LogEventLevel.Fatal);
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

    [GeneratedRegex(@"^\S+Z ")]
    private static partial Regex SelfLogTimestamp();
}
