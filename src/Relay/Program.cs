using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Prometheus;
using Relay;
using Relay.Core;
using Relay.Diagnostics;
using Relay.Options;
using Relay.Pipeline;
using Serilog;

if (args.FirstOrDefault() == "check")
    return await Preflight.RunAsync(args[1..]);

// Configuration is read once at start (a change means a restart): no file watchers on the working directory, which
// cost ~300 ms of start-up and a busy thread where that directory is large.
var builder = WebApplication.CreateBuilder([.. args, "--hostBuilder:reloadConfigOnChange=false"]);
if (!builder.Configuration.AddRelayConfigFile(args, out var configProblem))
    return Fail(configProblem);
RuntimeDefaults.Apply(builder.Configuration);
var diagnostics = builder.Configuration.GetSection(DiagnosticsOptions.Section).Get<DiagnosticsOptions>() ?? new DiagnosticsOptions();
builder.Services.AddSerilog((_, logger) => RelayLogging.Configure(logger, builder.Configuration, diagnostics.LogFormat));
builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = builder.Configuration.GetValue("Relay:Pipeline:DrainTimeout", TimeSpan.FromSeconds(30)) + TimeSpan.FromSeconds(10));
builder.WebHost.UseUrls(diagnostics.Port > 0 ? $"http://{HostPart(diagnostics.Address)}:{diagnostics.Port}" : "http://127.0.0.1:0");

try
{
    builder.Services.AddRelay(builder.Configuration);
    await using var app = builder.Build();
    if (app.Services.ValidateRelayConfiguration() is { Count: > 0 } failures)
        return Fail(string.Join(Environment.NewLine, failures.Select(f => $"Invalid configuration: {f}")));
    if (diagnostics.Port > 0)
    {
        app.MapMetrics("/metrics", app.Services.GetRequiredService<RelayMetrics>().Registry);
        app.MapHealthChecks("/healthz", new HealthCheckOptions { Predicate = check => check.Tags.Contains("live") });
        app.MapHealthChecks("/readyz", new HealthCheckOptions { Predicate = check => check.Tags.Contains("ready") });
    }
    var status = app.Services.GetRequiredService<RelayStatus>();
    await app.RunAsync();
    return status.ExitCode;
}
catch (Exception e) when (e is OptionsValidationException or RelayConfigurationException)
{
    var failures = e is OptionsValidationException validation ? validation.Failures : [e.Message];
    return Fail(string.Join(Environment.NewLine, failures.Select(f => $"Invalid configuration: {f}")));
}
catch (IOException e) when (e.InnerException is Microsoft.AspNetCore.Connections.AddressInUseException)
{
    return Fail($"Invalid configuration: {DiagnosticsOptions.Section}:Port: {e.Message} Choose a free port (or 0 to serve no endpoints).");
}

static string HostPart(string address) => address.Contains(':') && !address.StartsWith('[') ? $"[{address}]" : address;

static int Fail(string message)
{
    Console.Error.WriteLine(message);
    return 2;
}
