using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Polly;
using Polly.Retry;
using Relay.Core;
using Relay.Diagnostics;
using Relay.Kafka;
using Relay.Mapping;
using Relay.Options;

namespace Relay.Pipeline;

/// <summary>
/// Runs the relay: prepare the source, stream rows to Kafka, confirm acknowledged positions, and on failure reconnect
/// with backoff from the last confirmed position. Problems a restart cannot fix (configuration, database prerequisites,
/// a row that cannot be published) stop the process with exit code 1 so the orchestrator shows the crash.
/// </summary>
sealed class RelayWorker(
    IOutboxSource source,
    KafkaProducerFactory producers,
    IOptions<PipelineOptions> pipelineOptions,
    OutboxTables outboxTables,
    IHostApplicationLifetime lifetime,
    RelayStatus status,
    RelayMetrics metrics,
    ILogger<RelayWorker> logger) : BackgroundService
{
    readonly PipelineOptions _options = pipelineOptions.Value;
    int _consecutiveFailures;
    bool _hasStreamed;
    bool _isStandby;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Let the host finish starting before the first (possibly slow) connection.
        await Task.Yield();
        var tables = outboxTables.Mappings;
        Log.Starting(logger, source.GetType().Name, tables.Count, string.Join(", ", tables.Select(t => t.QualifiedName)));

        status.Set(RelayState.Starting);
        var retry = new ResiliencePipelineBuilder()
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<Exception>(IsTransient),
                MaxRetryAttempts = int.MaxValue,
                // Our own counter, reset by a run that made progress, so a flap after a long healthy period reconnects fast.
                DelayGenerator = args => ValueTask.FromResult<TimeSpan?>(
                    args.Outcome.Exception is StandbyException ? _options.StandbyRetryInterval : NextDelay()),
                OnRetry = args =>
                {
                    if (args.Outcome.Exception is StandbyException standby)
                    {
                        if (!_isStandby)
                            Log.Standby(logger, standby.Message, _options.StandbyRetryInterval);
                        _isStandby = true;
                        status.Set(RelayState.Standby);
                        metrics.SetRole(active: false, standby: true);
                    }
                    else
                    {
                        Log.RunFailed(logger, args.Outcome.Exception!, args.RetryDelay, args.AttemptNumber + 1);
                        status.Set(RelayState.Reconnecting);
                        metrics.SetRole(active: false, standby: false);
                    }
                    return ValueTask.CompletedTask;
                },
            })
            .Build();

        try
        {
            await retry.ExecuteAsync(async token => await RunOnceAsync(token), stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            status.Set(RelayState.Stopped);
        }
        catch (Exception e)
        {
            // Configuration, prerequisites, an unpublishable row under the stop policy, a database that cannot be
            // reached at start: a retry here cannot fix these, and the orchestrator should see it at once.
            var reason = e is RelayConfigurationException or OutboxRowException or SourceUnavailableException ? e.Message : e.ToString();
            Log.Fatal(logger, reason);
            status.SetFatal(reason);
            lifetime.StopApplication();
        }
    }

    bool IsTransient(Exception e) => e switch
    {
        RelayConfigurationException or OutboxRowException or OperationCanceledException => false,
        SourceUnavailableException => _hasStreamed,   // at start-up: fail fast; later: reconnect with backoff
        _ => true,
    };

    TimeSpan NextDelay()
    {
        var failures = Math.Min(++_consecutiveFailures, 16);
        var delay = _options.RestartDelay * Math.Pow(2, failures - 1);
        var capped = delay < _options.MaxRestartDelay ? delay : _options.MaxRestartDelay;
        return capped * (0.8 + Random.Shared.NextDouble() * 0.4);
    }

    /// <summary>One connected run, from the slot's confirmed position until stop or failure.</summary>
    async Task RunOnceAsync(CancellationToken stoppingToken)
    {
        await source.PrepareAsync(stoppingToken);

        var tracker = new CheckpointTracker(_options.MaxInFlightMessages, _options.MaxInFlightBytes);
        using var stopReading = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        // A delivery failure or fatal producer error ends reading at once, even if the stream is idle.
        // (Raised on librdkafka's delivery thread: cancel from the pool so no continuation runs on that thread.)
        tracker.Failed += _ => ThreadPool.QueueUserWorkItem(_ =>
        {
            try { stopReading.Cancel(); }
            catch (ObjectDisposedException) { }
        });
        using var producer = producers.Create(error => tracker.Fail(long.MaxValue, new Confluent.Kafka.KafkaException(error)));
        await using var stream = await source.OpenAsync(stoppingToken);
        _hasStreamed = true;
        if (_isStandby)
        {
            _isStandby = false;
            Log.TookOver(logger);
        }
        status.Set(RelayState.Streaming);
        metrics.SetRole(active: true, standby: false);
        metrics.SourceConnected.Set(1);
        (metrics.Tracker, metrics.Stream) = (tracker, stream);

        var confirmed = SourcePosition.None;
        long lastStallWarning = -30_000, stallSince = 0;
        StandbyException? lostClaim = null;
        var confirmLoop = ConfirmPeriodicallyAsync();
        Exception? readFailure = null;
        try
        {
            await stream.ReadAsync(new OutboxDispatcher(producer, tracker, stream.Format, metrics, logger), stopReading.Token);
        }
        catch (OperationCanceledException) when (stopReading.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            readFailure = e;
        }
        await stopReading.CancelAsync();
        await confirmLoop;
        if (stoppingToken.IsCancellationRequested)
            status.Set(RelayState.Stopping);

        // Whatever ended the run, what the broker acknowledged can be confirmed; wait (bounded) for the rest.
        if (tracker.InFlightMessages > 0 && tracker.Failure is null)
        {
            Log.Draining(logger, tracker.InFlightMessages, _options.DrainTimeout);
            if (!await tracker.WaitForAllAcknowledgedAsync(_options.DrainTimeout, CancellationToken.None))
                Log.DrainTimedOut(logger, tracker.InFlightMessages);
        }
        await ConfirmAsync(CancellationToken.None);
        metrics.SourceConnected.Set(0);
        metrics.SetRole(active: false, standby: false);

        if (lostClaim is not null)
            throw lostClaim;
        if (readFailure is not null)
            throw readFailure;
        if (tracker.Failure is OutboxRowException rowFailure)
            throw rowFailure;   // found in a delivery report: the Stop policy halts the relay
        if (tracker.Failure is { } failure)
            throw new DeliveryFailedException("Kafka did not acknowledge a message; reconnecting from the last confirmed position.", failure);
        Log.Stopped(logger, Describe(confirmed));

        // A broker outage shows as acknowledgements that stop while messages wait: say so, then say when it ends.
        void WatchForStall()
        {
            var now = Environment.TickCount64;
            var lastAcknowledged = tracker.LastAcknowledgedTicks;
            var stalled = tracker.InFlightMessages > 0 && now - lastAcknowledged >= _options.StallWarningAfter.TotalMilliseconds;
            if (stalled && now - lastStallWarning >= 30_000)
            {
                stallSince = stallSince == 0 ? lastAcknowledged : stallSince;
                lastStallWarning = now;
                Log.Stalled(logger, TimeSpan.FromMilliseconds(now - stallSince), tracker.InFlightMessages, Describe(confirmed));
            }
            else if (!stalled && stallSince != 0)
            {
                Log.StallEnded(logger, TimeSpan.FromMilliseconds(lastAcknowledged - stallSince));
                stallSince = 0;
                lastStallWarning = -30_000;
            }
        }

        string Describe(SourcePosition position) =>
            position == SourcePosition.None ? "(nothing new in this run)" : stream.Format(position);

        async Task ConfirmPeriodicallyAsync()
        {
            using var timer = new PeriodicTimer(_options.ConfirmInterval);
            var lastProgressLog = DateTime.UtcNow;
            try
            {
                while (await timer.WaitForNextTickAsync(stopReading.Token))
                {
                    await ConfirmAsync(stopReading.Token);
                    WatchForStall();
                    status.Tick();
                    if (DateTime.UtcNow - lastProgressLog >= TimeSpan.FromSeconds(30))
                    {
                        lastProgressLog = DateTime.UtcNow;
                        Log.Progress(logger, tracker.Produced, tracker.InFlightMessages, Describe(confirmed));
                    }
                }
            }
            catch (OperationCanceledException)
            {
            }
        }

        async Task ConfirmAsync(CancellationToken cancellationToken)
        {
            var position = tracker.Confirmable;
            if (position <= confirmed)
                return;
            try
            {
                await stream.ConfirmAsync(position, cancellationToken);
                confirmed = position;
                metrics.ConfirmedPosition.Set((double)position.Commit);
                _consecutiveFailures = 0;
            }
            catch (StandbyException e)
            {
                // Another relay took the position over (SQL Server lease): stop publishing and become a standby.
                lostClaim ??= e;
                stopReading.Cancel();
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                Log.ConfirmFailed(logger, e, stream.Format(position));
            }
        }
    }
}
