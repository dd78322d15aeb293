using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using Relay.Core;
using Relay.Instrumentation;
using Relay.Kafka;
using Relay.Mapping;
using Relay.Options;

namespace Relay.Pipeline;

/// <summary>
/// One connected run, from the source's confirmed position until stop or failure. It owns the run's tracker, producer,
/// stream and dispatcher; what it shows the outside is <see cref="IRunSnapshot"/>. Whatever ends it, what Kafka
/// acknowledged is confirmed before it returns or throws.
/// </summary>
sealed class RelayRun(
    IOutboxSource source,
    KafkaProducerFactory producers,
    PipelineOptions options,
    RelayStatus status,
    RelayMetrics metrics,
    ILogger logger,
    TimeProvider time) : IRunSnapshot
{
    CheckpointTracker? _tracker;
    IOutboxStream? _stream;

    /// <summary>Whether this run confirmed anything to the source (its failure then resets the reconnection backoff).</summary>
    public bool MadeProgress { get; private set; }

    public int InFlightMessages => _tracker?.InFlightMessages ?? 0;
    public long InFlightBytes => _tracker?.InFlightBytes ?? 0;
    public TimeSpan SinceLastConfirmable => _tracker?.SinceLastConfirmable ?? TimeSpan.Zero;
    public SourcePosition Received => _stream?.Received ?? SourcePosition.None;
    public TimeSpan BehindSource => _tracker?.OldestPendingCommit is { } committed && time.GetUtcNow().UtcDateTime - committed is { Ticks: > 0 } behind
        ? behind : TimeSpan.Zero;

    /// <summary>Prepares and opens the source, streams until stopped or failed, drains and confirms.</summary>
    /// <param name="onStreaming">Called once the source is open and streaming.</param>
    /// <param name="stoppingToken">The relay is stopping: drain, confirm and return.</param>
    public async Task RunAsync(Action onStreaming, CancellationToken stoppingToken)
    {
        var plan = await source.PrepareAsync(stoppingToken);
        var tracker = new CheckpointTracker(options.MaxInFlightMessages, options.MaxInFlightBytes, time);
        using var stopReading = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        // A delivery failure or fatal producer error ends reading at once, even if the stream is idle.
        // (Raised on librdkafka's delivery thread: cancel from the pool so no continuation runs on that thread.)
        tracker.Failed += _ => ThreadPool.QueueUserWorkItem(_ => CancelQuietly(stopReading));
        using var kafka = producers.Create(error => tracker.Fail(long.MaxValue, new KafkaException(error)));
        await using var stream = await source.OpenAsync(plan, stoppingToken);
        (_tracker, _stream) = (tracker, stream);
        onStreaming();
        status.CurrentRun = this;
        status.Set(RelayState.Streaming);
        metrics.SetRole(active: true, standby: false);
        metrics.SetSourceConnected(true);

        var checkpointer = new Checkpointer(tracker, stream, options, status, metrics, logger, time);
        checkpointer.RunEnded += () => CancelQuietly(stopReading);
        var confirmLoop = checkpointer.RunAsync(stopReading.Token);
        // Confirmations and stall warnings must not stop unnoticed while reading goes on.
        _ = confirmLoop.ContinueWith(_ => CancelQuietly(stopReading), CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
        var readFailure = await ReadAsync(stream, new OutboxDispatcher(kafka.Producer, tracker, stream, metrics, logger, time), stopReading.Token);
        await stopReading.CancelAsync();
        await confirmLoop;
        if (stoppingToken.IsCancellationRequested)
            status.Set(RelayState.Stopping);

        // A lost claim fences this run: no draining, another relay may publish from the confirmed position soon. (After
        // a source change nothing more may be confirmed either, so there is nothing to drain for.)
        var earlierDrained = checkpointer.Ended is null && await DrainAsync(tracker);
        await checkpointer.ConfirmAsync(CancellationToken.None);
        MadeProgress = checkpointer.Confirmed > SourcePosition.None;
        metrics.SetSourceConnected(false);
        metrics.SetRole(active: false, standby: false);
        ThrowIfEnded(checkpointer.Ended, readFailure, tracker.Failure, earlierDrained);
        Log.Stopped(logger, checkpointer.Describe(checkpointer.Confirmed));
    }

    /// <returns>What ended reading, or null when it was asked to stop.</returns>
    static async Task<Exception?> ReadAsync(IOutboxStream stream, OutboxDispatcher dispatcher, CancellationToken stopReading)
    {
        try
        {
            await stream.ReadAsync(dispatcher, stopReading);
            return null;
        }
        catch (OperationCanceledException) when (stopReading.IsCancellationRequested)
        {
            return null;
        }
        catch (Exception e)
        {
            return e;
        }
    }

    /// <summary>
    /// Whatever ended the run, what the broker acknowledged can be confirmed: wait (bounded) for the rest. After a row
    /// that cannot be published, wait for the messages before it, so that the checkpoint reaches the transaction
    /// before the row's (skipping that transaction then skips nothing else).
    /// </summary>
    /// <returns>Whether everything that could still be acknowledged was.</returns>
    async Task<bool> DrainAsync(CheckpointTracker tracker)
    {
        if (tracker.InFlightMessages == 0)
            return true;
        var rowFailed = tracker.Failure is OutboxRowException or DeliveryFailedException { InnerException: OutboxRowException };
        if (tracker.Failure is not null && !rowFailed)
            return false;
        Log.Draining(logger, tracker.InFlightMessages, options.DrainTimeout);
        var drained = rowFailed
            ? await tracker.WaitForAcknowledgedBeforeFailureAsync(options.DrainTimeout, CancellationToken.None)
            : await tracker.WaitForAllAcknowledgedAsync(options.DrainTimeout, CancellationToken.None);
        if (!drained)
            Log.DrainTimedOut(logger, tracker.InFlightMessages);
        return drained;
    }

    static void ThrowIfEnded(Exception? ended, Exception? readFailure, Exception? deliveryFailure, bool earlierDrained)
    {
        if (ended is not null)
            throw ended;
        // The Stop policy halts the relay, whether the row was refused while reading or in a delivery report (then
        // reading may have ended waiting for room in the window).
        if ((deliveryFailure ?? readFailure) is OutboxRowException rowFailure)
            throw earlierDrained ? rowFailure : rowFailure.WithoutSkip();
        if (readFailure is not null)
            throw readFailure;
        if (deliveryFailure is not null)
            throw new DeliveryFailedException("Kafka did not acknowledge a message; reconnecting from the last confirmed position.", deliveryFailure);
    }

    static void CancelQuietly(CancellationTokenSource source)
    {
        try { source.Cancel(); }
        catch (ObjectDisposedException) { }
    }
}
