using System.Collections.Concurrent;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Relay.Pipeline;

namespace Relay.IntegrationTests.Fixtures;

/// <summary>The relay's own host (same registrations as Program) running inside the test process.</summary>
public sealed class InProcessRelay : IAsyncDisposable
{
    readonly IHost _host;
    readonly CapturingLoggerProvider _logs;

    InProcessRelay(IHost host, CapturingLoggerProvider logs)
    {
        _host = host;
        _logs = logs;
    }

    public RelayStatus Status => _host.Services.GetRequiredService<RelayStatus>();
    public IReadOnlyCollection<string> Logs => _logs.Lines;

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
        builder.Services.AddRelay(builder.Configuration);
        var host = builder.Build();
        // Off xunit's synchronization context: the relay runs as in production, on the thread pool.
        await Task.Run(() => host.StartAsync(TestContext.Current.CancellationToken));
        return new InProcessRelay(host, logs);
    }

    public async Task StopAsync() => await _host.StopAsync(TimeSpan.FromSeconds(60));

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _host.Dispose();
    }
}

/// <summary>Keeps every log line (for assertions) and echoes it to the test's output.</summary>
sealed class CapturingLoggerProvider(ITestOutputHelper? output) : ILoggerProvider
{
    public ConcurrentQueue<string> Lines { get; } = new();

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose() { }

    void Write(string line)
    {
        Lines.Enqueue(line);
        try { output?.WriteLine(line); }
        catch (InvalidOperationException) { /* the test already finished */ }
    }

    sealed class Logger(CapturingLoggerProvider provider, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel))
                return;
            provider.Write($"{DateTime.Now:HH:mm:ss.fff} {logLevel} {category}: {formatter(state, exception)}{(exception is null ? "" : " " + exception)}");
        }
    }
}
