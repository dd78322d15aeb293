using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Relay.Core;
using Relay.Diagnostics;
using Relay.Options;
using Relay.Pipeline;
using Serilog;

namespace Relay;

/// <summary><c>relay run</c>: the daemon. Exit codes: 0 stopped cleanly, 1 a problem a restart cannot fix, 2 invalid configuration.</summary>
static class RelayHost
{
    public static async Task<int> RunAsync(string? configPath, string[] overrides)
    {
        // Configuration is read once at start (a change means a restart): no file watchers on the working directory,
        // which cost ~300 ms of start-up and a busy thread where that directory is large.
        var builder = Host.CreateApplicationBuilder([.. overrides, "--hostBuilder:reloadConfigOnChange=false"]);
        builder.Logging.ClearProviders();   // Serilog writes the logs
        if (!builder.Configuration.AddRelayConfigFile(configPath, overrides, out var configProblem))
            return InvalidConfiguration([configProblem]);
        try
        {
            var diagnostics = builder.Configuration.GetSection(DiagnosticsOptions.Section).Get<DiagnosticsOptions>() ?? new DiagnosticsOptions();
            builder.Services.AddSerilog((_, logger) => RelayLogging.Configure(logger, builder.Configuration, diagnostics.LogFormat));
            builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout =
                builder.Configuration.GetValue("Relay:Pipeline:DrainTimeout", TimeSpan.FromSeconds(30)) + TimeSpan.FromSeconds(10));
            builder.Services.AddHostedService<DiagnosticsEndpoints>();
            builder.Services.AddRelay(builder.Configuration);
            using var app = builder.Build();
            var status = app.Services.GetRequiredService<RelayStatus>();
            await app.RunAsync();   // validates every option first (ValidateOnStart), reporting all problems at once
            return status.ExitCode;
        }
        catch (Exception e) when (RelayConfigurationValidation.Failures(e) is { } failures)
        {
            return InvalidConfiguration(failures);
        }
    }

    static int InvalidConfiguration(IEnumerable<string> failures)
    {
        foreach (var failure in failures)
            Console.Error.WriteLine($"Invalid configuration: {failure}");
        return 2;
    }
}
