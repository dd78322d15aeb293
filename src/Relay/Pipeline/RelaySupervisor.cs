using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Relay.Core;
using Relay.Instrumentation;
using Relay.Kafka;
using Relay.Mapping;
using Relay.Options;

namespace Relay.Pipeline;

/// <summary>
/// Keeps a <see cref="RelayRun"/> going: on failure it logs, backs off and starts a new run from the last confirmed
/// position (as JasperFx's HighWaterAgent does); while another relay holds the source it waits as a standby. Problems a
/// restart cannot fix (configuration, database prerequisites, a row that cannot be published, a database unreachable
/// at start) stop the process with exit code 1 so the orchestrator shows the crash.
/// </summary>
sealed class RelaySupervisor(
    IOutboxSource source,
    KafkaProducerFactory producers,
    IOptions<PipelineOptions> pipelineOptions,
    OutboxMapping outbox,
    IHostApplicationLifetime lifetime,
    RelayStatus status,
    RelayMetrics metrics,
    TimeProvider time,
    ILogger<RelaySupervisor> logger) : BackgroundService
{
    // Read when running, not when constructed: the host validates every option before it starts its services.
    PipelineOptions Settings => pipelineOptions.Value;
    bool _hasStreamed;
    bool _isStandby;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Let the host finish starting before the first (possibly slow) connection.
        await Task.Yield();
        var tables = outbox.All.ToList();
        Log.Starting(logger, source.GetType().Name, tables.Count, string.Join(", ", tables.Select(t => t.QualifiedName)));
        status.Set(RelayState.Starting);
        var backoff = new Backoff(Settings.RestartDelay, Settings.MaxRestartDelay);
        while (true)
        {
            var run = new RelayRun(source, producers, Settings, status, metrics, logger, time);
            TimeSpan delay;
            try
            {
                await run.RunAsync(OnStreaming, stoppingToken);
                if (stoppingToken.IsCancellationRequested)
                    break;
                throw new InvalidOperationException("The source's stream ended by itself; reconnecting from the last confirmed position.");
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (StandbyException e)
            {
                delay = EnterStandby(e);
            }
            catch (Exception e) when (IsTransient(e))
            {
                if (run.MadeProgress)
                    backoff.Reset();
                delay = backoff.Next();
                Log.RunFailed(logger, e, delay, backoff.Attempt);
                status.Set(RelayState.Reconnecting);
                metrics.SetRole(active: false, standby: false);
                metrics.SourceReconnecting();
            }
            catch (Exception e)
            {
                Stop(e);
                return;
            }
            finally
            {
                status.CurrentRun = null;
            }
            if (!await WaitAsync(delay, stoppingToken))
                break;
        }
        status.Set(RelayState.Stopped);
    }

    void OnStreaming()
    {
        _hasStreamed = true;
        if (_isStandby)
            Log.TookOver(logger);
        _isStandby = false;
    }

    TimeSpan EnterStandby(StandbyException e)
    {
        if (!_isStandby)
            Log.Standby(logger, e.Message, Settings.StandbyRetryInterval);
        _isStandby = true;
        status.Set(RelayState.Standby);
        metrics.SetRole(active: false, standby: true);
        return Settings.StandbyRetryInterval;
    }

    bool IsTransient(Exception e) => e switch
    {
        RelayConfigurationException or OutboxRowException => false,
        SourceUnavailableException => _hasStreamed,   // at start-up: fail fast; later: reconnect with backoff
        _ => true,
    };

    /// <summary>A retry cannot fix this, and the orchestrator should see it at once.</summary>
    void Stop(Exception e)
    {
        var reason = e is RelayConfigurationException or OutboxRowException or SourceUnavailableException ? e.Message : e.ToString();
        Log.Fatal(logger, reason);
        status.SetFatal(reason);
        lifetime.StopApplication();
    }

    /// <returns>False when the relay is stopping.</returns>
    async Task<bool> WaitAsync(TimeSpan delay, CancellationToken stoppingToken)
    {
        try
        {
            await Task.Delay(delay, time, stoppingToken);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}
