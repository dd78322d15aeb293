using System.Diagnostics.Metrics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Relay.SqlServer;

/// <summary>
/// Samples CDC capture health every <see cref="SqlServerSourceOptions.CaptureCheckInterval"/> on an ordinary connection,
/// for the <c>relay_sqlserver_capture_lag_seconds</c> gauge, and says (Error) when the agent or the capture job stops:
/// then Relay has nothing to read and looks idle, while the transaction log grows.
/// </summary>
sealed class CaptureMonitor : BackgroundService
{
    public const string MeterName = "Relay.SqlServer";

    readonly Func<SqlServerSourceOptions> _options;
    readonly Func<ICdcClient> _client;
    readonly ILogger _logger;
    bool _reportedStopped;

    /// <summary>The newest sample, or null before the first (or while the database is away).</summary>
    public CaptureHealth? Latest { get; private set; }

    public CaptureMonitor(IOptions<SqlServerSourceOptions> options, Relay.Core.OutboxMapping outbox, IMeterFactory meters, ILogger<CaptureMonitor> logger)
        : this(() => options.Value, () => new SqlCdcClient(options.Value.ConnectionString, outbox.Tables), meters, logger)
    {
    }

    internal CaptureMonitor(Func<SqlServerSourceOptions> options, Func<ICdcClient> client, IMeterFactory meters, ILogger logger)
    {
        (_options, _client, _logger) = (options, client, logger);
        var meter = meters.Create(MeterName);
        meter.CreateObservableGauge("relay_sqlserver_capture_lag_seconds",
            () => Latest?.Behind is { } behind ? [new Measurement<double>(behind.TotalSeconds)] : Array.Empty<Measurement<double>>(),
            unit: "s", description: "How far SQL Server's CDC capture job is behind the transaction log: the larger of its newest scan's latency and the time since that scan ended.");
        meter.CreateObservableGauge("relay_sqlserver_capture_running",
            () => Latest is { } health ? [new Measurement<long>(health.Stopped(_options().CaptureStalledAfter) ? 0 : 1)] : Array.Empty<Measurement<long>>(),
            description: "1 while SQL Server Agent and the CDC capture job run and scan the log; 0 when either is known to be stopped.");
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(_options().CaptureCheckInterval);
        try
        {
            do
                await SampleAsync(stoppingToken);
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>Takes one sample; logs when capture stops and when it runs again.</summary>
    public async Task SampleAsync(CancellationToken cancellationToken)
    {
        try
        {
            Latest = await _client().GetCaptureHealthAsync(cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Latest = null;   // the database is away: the run reconnects and says so
            return;
        }
        var stalledAfter = _options().CaptureStalledAfter;
        if (Latest.Stopped(stalledAfter) && !_reportedStopped)
        {
            var problems = string.Join("; ", Latest.Checks(stalledAfter).Where(c => c.Severity == Relay.Core.CheckSeverity.Fail).Select(c => $"{c.Name}: {c.Detail} — fix: {c.Fix}"));
            Log.CaptureStopped(_logger, problems);
            _reportedStopped = true;
        }
        else if (!Latest.Stopped(stalledAfter) && _reportedStopped)
        {
            Log.CaptureResumed(_logger);
            _reportedStopped = false;
        }
    }
}
