using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Relay.Pipeline;
using Relay.DevServices;
using Relay.Testing;

namespace Relay.IntegrationTests.Fixtures;

/// <summary>The relay's own host (same registrations as Program) running inside the test process.</summary>
public sealed class InProcessRelay : IAsyncDisposable
{
    readonly IHost _host;
    readonly CapturingLoggerProvider _logs;

    InProcessRelay(IHost host, CapturingLoggerProvider logs, int diagnosticsPort)
    {
        _host = host;
        _logs = logs;
        DiagnosticsPort = diagnosticsPort;
    }

    /// <summary>Where <c>/metrics</c>, <c>/healthz</c> and <c>/readyz</c> answer (0: not served).</summary>
    public int DiagnosticsPort { get; }

    public RelayStatus Status => _host.Services.GetRequiredService<RelayStatus>();
    /// <summary>Every log line as text (for checks on what must never appear, such as a password).</summary>
    public IReadOnlyCollection<string> Logs => _logs.Lines;
    /// <summary>Every log event, with its event id (see <see cref="RelayEvents"/>).</summary>
    public LogEvents Events => _logs.Events;

    /// <summary>Waits until at least <paramref name="count"/> events with this id were logged; false on timeout.</summary>
    public Task<bool> WaitForEventAsync(int id, TimeSpan timeout, int count = 1) => Events.WaitForAsync(id, timeout, count);

    /// <summary>Completes when the host begins to stop (e.g. after a fatal error).</summary>
    public Task Stopping
    {
        get
        {
            var lifetime = _host.Services.GetRequiredService<IHostApplicationLifetime>();
            var stopping = new TaskCompletionSource();
            lifetime.ApplicationStopping.Register(() => stopping.TrySetResult());
            return stopping.Task;
        }
    }

    public static async Task<InProcessRelay> StartAsync(RelaySettings settings)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(settings);
        var logs = new CapturingLoggerProvider(TestContext.Current.TestOutputHelper);
        builder.Logging.AddProvider(logs).SetMinimumLevel(LogLevel.Information);
        var port = builder.Configuration["Relay:Diagnostics:Port"] is { } configured ? int.Parse(configured, CultureInfo.InvariantCulture) : PostgresCluster.FreePort();
        builder.Configuration["Relay:Diagnostics:Port"] = port.ToString(CultureInfo.InvariantCulture);
        builder.Configuration["Relay:Diagnostics:Address"] = "127.0.0.1";
        builder.Services.AddHostedService<Relay.Diagnostics.DiagnosticsEndpoints>();
        builder.Services.AddRelay(builder.Configuration);
        var host = builder.Build();
        // Off xunit's synchronization context: the relay runs as in production, on the thread pool.
        await Task.Run(() => host.StartAsync(TestContext.Current.CancellationToken));
        return new InProcessRelay(host, logs, port);
    }

    static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };

    /// <summary>
    /// What <c>/metrics</c> shows now (Prometheus text), a series without labels written <c>name value</c> (the exporter
    /// writes an empty <c>{}</c>, which Prometheus reads the same).
    /// </summary>
    public async Task<string> ScrapeMetricsAsync() =>
        (await Http.GetStringAsync($"http://127.0.0.1:{DiagnosticsPort}/metrics")).Replace("{} ", " ", StringComparison.Ordinal);

    public async Task StopAsync() => await _host.StopAsync(TimeSpan.FromSeconds(60));

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _host.Dispose();
    }
}
