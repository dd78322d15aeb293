using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Relay.Core;
using Relay.Diagnostics;
using Relay.Instrumentation;
using Relay.Kafka;
using Relay.Mapping;
using Relay.Options;
using Serilog;
using Serilog.Events;

namespace Relay.Republish;

/// <summary>
/// <c>relay republish</c>: checks the configuration as the daemon does, selects the rows, sends them through the
/// daemon's pipeline and says how it went. Exit codes: 0 every selected row acknowledged by Kafka; 1 failed (what was
/// acknowledged, and the command that resumes); 2 invalid configuration or arguments, or a source it cannot read;
/// 3 done, but some requested rows could not be re-published (event ids not found, no order value); 130/143 stopped
/// by SIGINT/SIGTERM (with the command that resumes).
/// </summary>
static class RepublishVerb
{
    public const int SucceededExitCode = 0, FailedExitCode = 1, InvalidExitCode = 2, IncompleteExitCode = 3;

    public static async Task<int> RunAsync(RepublishArguments arguments)
    {
        var output = Console.Error;
        var builder = Host.CreateApplicationBuilder([.. arguments.Overrides, "--hostBuilder:reloadConfigOnChange=false"]);
        builder.Logging.ClearProviders();
        if (!builder.Configuration.AddRelayConfigFile(arguments.ConfigPath, [.. arguments.Overrides], out var configProblem))
            return Invalid(output, [configProblem]);
        try
        {
            var diagnostics = builder.Configuration.GetSection(DiagnosticsOptions.Section).Get<DiagnosticsOptions>() ?? new DiagnosticsOptions();
            builder.Services.AddSerilog((_, logger) => ConfigureLogging(logger, builder.Configuration, diagnostics.LogFormat));
            builder.Services.AddRelay(builder.Configuration);
        }
        catch (RelayConfigurationException e)
        {
            return Invalid(output, [e.Message]);
        }
        using var host = builder.Build();
        var services = host.Services;
        if (services.ValidateRelayConfiguration() is { Count: > 0 } invalid)
            return Invalid(output, invalid);
        if (services.GetService<IOutboxTableReader>() is not { } reader)
        {
            output.WriteLine(
                $"relay republish reads PostgreSQL outbox tables only ({SourceKinds.Key} is {builder.Configuration[SourceKinds.Key]}). On SQL Server, CDC's " +
                "change tables already hold every insert for their retention period: re-publish a range by moving Relay's position back " +
                "(docs/sqlserver.md, \"Re-publish a range within retention\"); older rows: insert copies of them into the outbox table.");
            return InvalidExitCode;
        }
        var tables = services.GetRequiredService<OutboxMapping>().Tables;
        if (ResolveTable(arguments.Table, tables) is not { } table)
        {
            output.WriteLine($"Invalid argument: {TableProblem(arguments.Table, tables)}");
            return InvalidExitCode;
        }

        var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger(LogCategory);
        var pipeline = services.GetRequiredService<IOptions<PipelineOptions>>().Value;
        using var signals = new StopSignals(output, pipeline.DrainTimeout);
        SelectedRows rows;
        try
        {
            rows = await reader.SelectAsync(arguments.Selection(table), signals.Interrupt);
        }
        catch (OperationCanceledException) when (signals.Interrupt.IsCancellationRequested)
        {
            output.WriteLine("Interrupted before anything was sent.");
            return signals.ExitCode;
        }
        catch (RelayConfigurationException e)
        {
            output.WriteLine($"Cannot re-publish: {e.Message}");
            return InvalidExitCode;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The database unreachable (SourceUnavailableException, without the password) or failing a query.
            output.WriteLine($"Failed: {e.Message} Nothing was sent.");
            return FailedExitCode;
        }
        await using (rows)
        {
            var republish = new RepublishSession(arguments, table, rows, output, logger);
            if (republish.Prepare() is { } exitCode)
                return exitCode;
            // The pipeline's own warnings (dead letters, delivery failures) under its own name: a person sees them in text logs too.
            var run = new RepublishRun(services.GetRequiredService<KafkaProducerFactory>(), pipeline, services.GetRequiredService<RelayMetrics>(),
                services.GetRequiredService<ILoggerFactory>().CreateLogger("Relay.Pipeline"), TimeProvider.System, arguments.AckTimeout);
            var outcome = await republish.RunAsync(run, signals);
            return republish.Report(outcome, services.GetRequiredService<RelayMetrics>().For(table), signals);
        }
    }

    /// <summary>
    /// JSON logs (a container, a Job) keep the verb's events for the record. Text logs go to the person running it, who
    /// reads the same on stderr: only warnings, and not the verb's own events again.
    /// </summary>
    static void ConfigureLogging(LoggerConfiguration logger, IConfiguration configuration, LogFormat format)
    {
        RelayLogging.Configure(logger, configuration, format);
        if (RelayLogging.IsJson(format) || configuration.GetSection("Serilog:MinimumLevel").Exists())
            return;
        logger.MinimumLevel.Is(LogEventLevel.Warning).MinimumLevel.Override(LogCategory, LogEventLevel.Fatal);
    }

    const string LogCategory = "Relay.Republish";

    static OutboxTableMapping? ResolveTable(string? name, IReadOnlyList<OutboxTableMapping> tables) =>
        name is null
            ? tables.Count == 1 ? tables[0] : null
            : tables.FirstOrDefault(t => t.QualifiedName == name) ?? tables.FirstOrDefault(t => t.Schema == "public" && t.Name == name);

    static string TableProblem(string? name, IReadOnlyList<OutboxTableMapping> tables)
    {
        var configured = string.Join(", ", tables.Select(t => t.QualifiedName));
        return name is null
            ? $"--table: {tables.Count} outbox tables are configured ({configured}); say which one to re-publish."
            : $"--table '{name}' is not one of the outbox tables configured under {OutboxOptions.Section}:Tables ({configured}).";
    }

    static int Invalid(TextWriter output, IEnumerable<string> problems)
    {
        foreach (var problem in problems)
            output.WriteLine($"Invalid configuration: {problem}");
        return InvalidExitCode;
    }
}
