using Microsoft.Extensions.Options;
using Relay;
using Relay.Core;
using Relay.Pipeline;
using Serilog;

var builder = Host.CreateApplicationBuilder(args);
if (!builder.Configuration.AddRelayConfigFile(args, out var configProblem))
    return Fail(configProblem);
builder.Services.AddSerilog((_, logger) =>
{
    logger.ReadFrom.Configuration(builder.Configuration);
    // Without a configured sink, still say what happens: readable text on stdout.
    if (!builder.Configuration.GetSection("Serilog:WriteTo").Exists())
        logger.MinimumLevel.Override("Microsoft", Serilog.Events.LogEventLevel.Warning)
            .MinimumLevel.Override("Npgsql", Serilog.Events.LogEventLevel.Warning)
            .WriteTo.Console(outputTemplate: "{Timestamp:HH:mm:ss} {Level:u3} {SourceContext}: {Message:lj}{NewLine}{Exception}");
});
builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = builder.Configuration.GetValue("Relay:Pipeline:DrainTimeout", TimeSpan.FromSeconds(30)) + TimeSpan.FromSeconds(10));

try
{
    builder.Services.AddRelay(builder.Configuration);
    using var host = builder.Build();
    if (host.Services.ValidateRelayConfiguration() is { Count: > 0 } failures)
        return Fail(string.Join(Environment.NewLine, failures.Select(f => $"Invalid configuration: {f}")));
    var status = host.Services.GetRequiredService<RelayStatus>();
    await host.RunAsync();
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
