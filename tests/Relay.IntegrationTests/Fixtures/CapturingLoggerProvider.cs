using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Relay.Testing;

namespace Relay.IntegrationTests.Fixtures;

/// <summary>Keeps every log event (with its id) and line (for assertions) and echoes each line to the test's output.</summary>
sealed class CapturingLoggerProvider(ITestOutputHelper? output) : ILoggerProvider
{
    public ConcurrentQueue<string> Lines { get; } = new();
    public LogEvents Events { get; } = new();

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose() { }

    void Write(LogEvent logEvent, string line)
    {
        Events.Add(logEvent);
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
            var message = formatter(state, exception);
            // [LoggerMessage] state is the list of the message's properties (and its template, left out here).
            var properties = (state as IEnumerable<KeyValuePair<string, object?>> ?? [])
                .Where(p => p.Key != "{OriginalFormat}")
                .ToDictionary(p => p.Key, p => p.Value?.ToString());
            provider.Write(new LogEvent(eventId.Id, eventId.Name, logLevel.ToString(), message, exception?.ToString(), properties),
                $"{DateTime.Now:HH:mm:ss.fff} {logLevel} {eventId.Id} {category}: {message}{(exception is null ? "" : " " + exception)}");
        }
    }
}
