using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Relay;
using Relay.Core;
using Relay.Diagnostics;
using Relay.Options;
using Relay.Pipeline;
using Serilog;

RuntimeDefaults.LimitMallocArenas();
if (args.FirstOrDefault() == "check")
    return await Preflight.RunAsync(args[1..]);

// Configuration is read once at start (a change means a restart): no file watchers on the working directory, which
// cost ~300 ms of start-up and a busy thread where that directory is large.
var builder = Host.CreateApplicationBuilder([.. args, "--hostBuilder:reloadConfigOnChange=false"]);
builder.Logging.ClearProviders();   // Serilog writes the logs
if (!builder.Configuration.AddRelayConfigFile(args, out var configProblem))
    return Fail(configProblem);
RuntimeDefaults.Apply(builder.Configuration);
var diagnostics = builder.Configuration.GetSection(DiagnosticsOptions.Section).Get<DiagnosticsOptions>() ?? new DiagnosticsOptions();
builder.Services.AddSerilog((_, logger) => RelayLogging.Configure(logger, builder.Configuration, diagnostics.LogFormat));
builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = builder.Configuration.GetValue("Relay:Pipeline:DrainTimeout", TimeSpan.FromSeconds(30)) + TimeSpan.FromSeconds(10));
builder.Services.AddHostedService<DiagnosticsEndpoints>();

try
{
    builder.Services.AddRelay(builder.Configuration);
    using var app = builder.Build();
    if (app.Services.ValidateRelayConfiguration() is { Count: > 0 } failures)
        return Fail(string.Join(Environment.NewLine, failures.Select(f => $"Invalid configuration: {f}")));
    var status = app.Services.GetRequiredService<RelayStatus>();
    await app.RunAsync();
    return status.ExitCode;
}
catch (Exception e) when (e is OptionsValidationException or RelayConfigurationException)
{
    var failures = e is OptionsValidationException validation ? validation.Failures : [e.Message];
    return Fail(string.Join(Environment.NewLine, failures.Select(f => $"Invalid configuration: {f}")));
}

static int Fail(string message)
{
    Console.Error.WriteLine(message);
    return 2;
}
