using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Relay.Core;
using Relay.SqlServer;

namespace Relay.Tests;

/// <summary>Issue 13, rows 6 and 7: a stopped agent or capture job is seen by relay check and by the running relay; max text repl size is reported.</summary>
public class SqlServerCaptureHealthTests
{
    static CancellationToken Token => TestContext.Current.CancellationToken;

    sealed class EventLog : ILogger
    {
        public List<int> Ids { get; } = [];
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (Ids)
                Ids.Add(eventId.Id);
        }
    }

    static async Task<IReadOnlyList<PreflightCheck>> CheckAsync(CaptureHealth health)
    {
        var (cdc, tables) = FakeCdc.TwoTables();
        cdc.Health = health;
        var source = new SqlServerOutboxSource(FakeCdc.Options(), tables, NullLogger.Instance, () => cdc, () => new MemoryStore(null));
        return await source.CheckAsync(Token);
    }

    [Fact]
    public async Task relay_check_fails_when_the_agent_or_the_capture_job_is_stopped()
    {
        var agentStopped = await CheckAsync(new CaptureHealth(false, null, null, null, -1));
        var agent = Assert.Single(agentStopped, c => c.Name == "SQL Server Agent");
        Assert.Equal(CheckSeverity.Fail, agent.Severity);
        Assert.Contains("start SQL Server Agent", agent.Fix);

        var jobStopped = await CheckAsync(new CaptureHealth(true, false, TimeSpan.FromHours(2), TimeSpan.Zero, -1));
        Assert.Equal(CheckSeverity.Fail, Assert.Single(jobStopped, c => c.Name == "CDC capture job").Severity);
        Assert.Contains("sp_cdc_start_job", Assert.Single(jobStopped, c => c.Name == "CDC capture job").Fix);
        Assert.Equal(CheckSeverity.Fail, Assert.Single(jobStopped, c => c.Name == "CDC capture lag").Severity);

        var healthy = await CheckAsync(new CaptureHealth(true, true, TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(1), -1));
        Assert.All(healthy, c => Assert.Equal(CheckSeverity.Pass, c.Severity));
    }

    [Fact]
    public async Task relay_check_reports_a_max_text_repl_size_that_fails_large_inserts()
    {
        var checks = await CheckAsync(new CaptureHealth(true, true, TimeSpan.Zero, TimeSpan.Zero, 65536));
        var setting = Assert.Single(checks, c => c.Name == "max text repl size");
        Assert.Equal(CheckSeverity.Warn, setting.Severity);
        Assert.Contains("7139", setting.Detail);
        Assert.Equal("EXEC sp_configure 'max text repl size', -1; RECONFIGURE;", setting.Fix);
    }

    [Fact]
    public async Task the_running_relay_says_once_when_capture_stops_and_exports_how_far_it_is_behind()
    {
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var cdc = new FakeCdc { Health = new CaptureHealth(true, true, TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(1), -1) };
        var log = new EventLog();
        var monitor = new CaptureMonitor(() => FakeCdc.Options(), () => cdc, services.GetRequiredService<IMeterFactory>(), log);
        using var listener = new MeterListener();
        var measured = new Dictionary<string, double>();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == CaptureMonitor.MeterName)
                l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<double>((instrument, value, _, _) => measured[instrument.Name] = value);
        listener.SetMeasurementEventCallback<long>((instrument, value, _, _) => measured[instrument.Name] = value);
        listener.Start();

        await monitor.SampleAsync(Token);
        listener.RecordObservableInstruments();
        Assert.Equal(4, measured["relay_sqlserver_capture_lag_seconds"]);
        Assert.Equal(1, measured["relay_sqlserver_capture_running"]);
        Assert.DoesNotContain(EventIdRanges.SqlServer + 7, log.Ids);

        cdc.Health = new CaptureHealth(true, false, TimeSpan.FromMinutes(20), TimeSpan.FromSeconds(1), -1);   // sp_cdc_stop_job
        await monitor.SampleAsync(Token);
        await monitor.SampleAsync(Token);
        listener.RecordObservableInstruments();
        Assert.Equal(1200, measured["relay_sqlserver_capture_lag_seconds"]);
        Assert.Equal(0, measured["relay_sqlserver_capture_running"]);
        Assert.Single(log.Ids, id => id == EventIdRanges.SqlServer + 7);

        cdc.Health = new CaptureHealth(true, true, TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(1), -1);
        await monitor.SampleAsync(Token);
        Assert.Contains(EventIdRanges.SqlServer + 8, log.Ids);
    }
}
