using Microsoft.Extensions.Logging;
using Relay.Core;
using Relay.Instrumentation;
using Relay.Options;

namespace Relay.Pipeline;

/// <summary>
/// Confirms to the source, every <see cref="PipelineOptions.ConfirmInterval"/>, the newest position the tracker says is
/// fully acknowledged (Debezium's offset commit), and watches for Kafka stalls. Time comes from a
/// <see cref="TimeProvider"/>, so the loop and the stall rule are tested without waiting.
/// </summary>
sealed class Checkpointer(
    CheckpointTracker tracker,
    IOutboxStream stream,
    PipelineOptions options,
    RelayStatus status,
    RelayMetrics metrics,
    ILogger logger,
    TimeProvider time)
{
    static readonly TimeSpan StallRepeat = TimeSpan.FromSeconds(30), ProgressEvery = TimeSpan.FromSeconds(30);

    readonly StallWatch _stalls = new(options.StallWarningAfter, StallRepeat);

    /// <summary>The newest position confirmed to the source in this run.</summary>
    public SourcePosition Confirmed { get; private set; }

    /// <summary>
    /// Set when confirming showed this run must end: another relay took the position over (SQL Server lease), or the
    /// source found that confirming would skip rows (PostgreSQL: an outbox table or the publication changed).
    /// </summary>
    public Exception? Ended { get; private set; }

    /// <summary>Raised once when <see cref="Ended"/> is set.</summary>
    public event Action? RunEnded;

    PeriodicTimer? _timer;
    int _quiet;

    /// <summary>Ticking at the idle pace (<see cref="PipelineOptions.IdleConfirmInterval"/>).</summary>
    internal bool Quiet => Volatile.Read(ref _quiet) == 1;

    /// <summary>Confirms, watches and ticks until <paramref name="stop"/> is cancelled.</summary>
    public async Task RunAsync(CancellationToken stop)
    {
        using var timer = _timer = new PeriodicTimer(options.ConfirmInterval, time);
        tracker.Active += Wake;
        var lastProgressLog = time.GetTimestamp();
        try
        {
            while (await timer.WaitForNextTickAsync(stop))
            {
                await RenewLeaseAsync(stop);
                await ConfirmAsync(stop);
                WatchForStall();
                status.Tick();
                PaceTicks();
                if (time.GetElapsedTime(lastProgressLog) >= ProgressEvery)
                {
                    lastProgressLog = time.GetTimestamp();
                    Log.Progress(logger, tracker.Produced, tracker.InFlightMessages, Describe(Confirmed));
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        finally
        {
            tracker.Active -= Wake;
        }
    }

    /// <summary>
    /// Ticks every <see cref="PipelineOptions.ConfirmInterval"/> while there is work, every
    /// <see cref="PipelineOptions.IdleConfirmInterval"/> while there is none: each tick of an idle relay costs it several
    /// wake-ups (timer, pool threads), and a sidecar is idle most of its life. A leased source renews on every tick.
    /// </summary>
    void PaceTicks()
    {
        var idle = stream is not ILeasedStream && tracker.InFlightMessages == 0 && tracker.Confirmable <= Confirmed;
        if (!idle)
        {
            Wake();
            return;
        }
        if (Interlocked.Exchange(ref _quiet, 1) == 0 && options.IdleConfirmInterval > options.ConfirmInterval)
        {
            _timer!.Period = options.IdleConfirmInterval;
            // A message may have been handed out between the check above and the quiet flag: do not sleep through it.
            if (tracker.InFlightMessages > 0 || tracker.Confirmable > Confirmed)
                Wake();
        }
    }

    /// <summary>The first message after an idle spell (from the reading thread): back to the busy pace at once.</summary>
    void Wake()
    {
        if (Interlocked.Exchange(ref _quiet, 0) == 1 && _timer is { } timer)
            timer.Period = options.ConfirmInterval;
    }

    /// <summary>Confirms what is confirmable and newer than what was confirmed; a failure is logged and tried again next time.</summary>
    public async Task ConfirmAsync(CancellationToken cancellationToken)
    {
        var position = tracker.Confirmable;
        if (position <= Confirmed || Ended is not null)
            return;
        try
        {
            await stream.ConfirmAsync(position, cancellationToken);
            Confirmed = position;
            metrics.SetConfirmedPosition(position.Commit);
        }
        catch (Exception e) when (e is StandbyException or RelayConfigurationException)
        {
            Ended = e;
            RunEnded?.Invoke();
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Log.ConfirmFailed(logger, e, stream.Format(position));
        }
    }

    /// <summary>
    /// Renews a leased source's claim on every tick, progress or not (a run waiting on Kafka must keep it); a lost claim
    /// ends the run like a lost confirmation does.
    /// </summary>
    public async Task RenewLeaseAsync(CancellationToken cancellationToken)
    {
        if (stream is not ILeasedStream leased || Ended is not null)
            return;
        try
        {
            await leased.RenewLeaseAsync(cancellationToken);
        }
        catch (StandbyException e)
        {
            Ended = e;
            RunEnded?.Invoke();
        }
    }

    /// <summary>A broker outage shows as acknowledgements that stop while messages wait: say so, then say when it ends.</summary>
    public void WatchForStall()
    {
        var now = time.GetUtcNow();
        var news = _stalls.Observe(now, tracker.InFlightMessages, now - tracker.SinceLastAcknowledged);
        if (news.Kind == StallNewsKind.Stalled)
            Log.Stalled(logger, news.Duration, tracker.InFlightMessages, Describe(Confirmed));
        else if (news.Kind == StallNewsKind.Resumed)
            Log.StallEnded(logger, news.Duration);
    }

    public string Describe(SourcePosition position) =>
        position == SourcePosition.None ? "(nothing new in this run)" : stream.Format(position);
}
