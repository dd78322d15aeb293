using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using Relay.Core;
using Relay.Instrumentation;
using Relay.Kafka;
using Relay.Mapping;
using Relay.Options;
using Relay.Pipeline;

namespace Relay.Republish;

/// <summary>
/// One run of <c>relay republish</c>. The rows go through the daemon's own pipeline — <see cref="OutboxDispatcher"/>
/// (mapping, topic, unpublishable-row policy, dead letters), the producer <see cref="KafkaProducerFactory"/> builds (the
/// idempotent producer: per-key order), <see cref="CheckpointTracker"/> (bounded in-flight window, acknowledgements
/// taken in order) — with each row its own position, so "acknowledged up to" names a row of the table: where a resumed
/// run starts. Unlike the daemon it gives up when Kafka acknowledges nothing for the ack timeout: a person is waiting.
/// </summary>
sealed class RepublishRun(
    KafkaProducerFactory producers,
    PipelineOptions pipeline,
    RelayMetrics metrics,
    ILogger logger,
    TimeProvider time,
    TimeSpan ackTimeout) : ISelectedRowSink, IPositionFormatter
{
    public const string RepublishedHeader = "relay.republished";
    static readonly KeyValuePair<string, byte[]>[] AddedHeaders = [new(RepublishedHeader, "true"u8.ToArray())];

    readonly CheckpointTracker _tracker = new(pipeline.MaxInFlightMessages, pipeline.MaxInFlightBytes, time);
    readonly RowKeys _keys = new();
    OutboxDispatcher? _dispatcher;
    string _orderColumn = "";
    long _read, _sent;
    volatile Error? _lastProducerError;

    /// <summary>Rows handed to the producer so far.</summary>
    public long Sent => Interlocked.Read(ref _sent);

    /// <summary>Rows that, with every row before them, Kafka acknowledged (published or dead-lettered).</summary>
    public long Acknowledged => (long)_tracker.Confirmable.Commit;

    /// <summary>
    /// Reads <paramref name="rows"/> into the pipeline until done, failed or <paramref name="interrupt"/>ed, then drains;
    /// <paramref name="abandon"/> stops waiting for acknowledgements at once (a second Ctrl-C).
    /// </summary>
    public async Task<RunOutcome> RunAsync(SelectedRows rows, CancellationToken interrupt, CancellationToken abandon)
    {
        _orderColumn = rows.OrderColumn;
        using var stopReading = CancellationTokenSource.CreateLinkedTokenSource(interrupt);
        // Raised on librdkafka's delivery thread: cancel from the pool so no continuation runs on that thread.
        _tracker.Failed += _ => ThreadPool.QueueUserWorkItem(_ => Cancel(stopReading));
        using var kafka = producers.Create(error => _tracker.Fail(long.MaxValue, new KafkaException(error)), error => _lastProducerError = error);
        _dispatcher = new OutboxDispatcher(kafka.Producer, _tracker, this, metrics, logger, time, AddedHeaders);
        using var watching = new CancellationTokenSource();
        using var stalled = new CancellationTokenSource();
        var watchdog = WatchAcknowledgementsAsync(stalled, watching.Token);

        Exception? readFailure = null;
        var readAll = false;
        try
        {
            await rows.ReadAsync(this, stopReading.Token);
            readAll = true;
        }
        catch (OperationCanceledException) when (stopReading.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            // E.g. the database went away: what was sent is still drained, so the resume point is as far as it can be.
            readFailure = e;
        }
        var drained = await DrainAsync(interrupt.IsCancellationRequested, abandon, stalled.Token);
        await watching.CancelAsync();
        await watchdog;
        return new RunOutcome(Sent, Acknowledged, _keys.AcknowledgedUpTo(Acknowledged), _tracker.Failure ?? readFailure, readAll, drained);
    }

    public async ValueTask OnRowAsync(OutboxRow row, RowKey key, CancellationToken cancellationToken)
    {
        var ordinal = ++_read;
        _keys.Add(ordinal, key);
        var position = new SourcePosition((ulong)ordinal);
        row.Position = position;
        row.CommitTimestamp = time.GetUtcNow().UtcDateTime;
        await _dispatcher!.OnRowAsync(row, cancellationToken);
        // Each row is its own "transaction": acknowledged up to a position means up to that row.
        await _dispatcher.OnCommitAsync(position, row.CommitTimestamp, cancellationToken);
        Interlocked.Exchange(ref _sent, ordinal);
        if ((ordinal & 1023) == 0)
            _keys.AcknowledgedUpTo(Acknowledged);
    }

    /// <summary>Names a row of this run in errors and in the <c>relay.position</c> header of its dead letter.</summary>
    public string Format(SourcePosition position) =>
        _keys.Find((long)position.Commit) is { } key ? $"{_orderColumn} {key.OrderValue}" : $"row {position.Commit} of this run";

    /// <summary>
    /// Whatever ended reading, waits for what is in flight, so the resume point is as late as it can be: everything after
    /// an interrupt (up to <see cref="PipelineOptions.DrainTimeout"/>), everything before a row that stopped the run,
    /// nothing after a Kafka failure. The ack timeout bounds every wait.
    /// </summary>
    async Task<bool> DrainAsync(bool interrupted, CancellationToken abandon, CancellationToken stalled)
    {
        if (_tracker.InFlightMessages == 0)
            return true;
        var rowFailed = _tracker.Failure is OutboxRowException;
        if (_tracker.Failure is not null && !rowFailed)
            return false;
        using var giveUp = CancellationTokenSource.CreateLinkedTokenSource(abandon, stalled);
        var timeout = interrupted ? pipeline.DrainTimeout : Timeout.InfiniteTimeSpan;
        try
        {
            if (!rowFailed && await _tracker.WaitForAllAcknowledgedAsync(timeout, giveUp.Token))
                return true;
            // A row refused while waiting (its delivery report came after reading ended) stops the wait at that row.
            return _tracker.Failure is OutboxRowException && await _tracker.WaitForAcknowledgedBeforeFailureAsync(timeout, giveUp.Token);
        }
        catch (OperationCanceledException) when (giveUp.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <summary>Kafka acknowledging nothing for the ack timeout while messages wait ends the run (the daemon would wait).</summary>
    async Task WatchAcknowledgementsAsync(CancellationTokenSource stalled, CancellationToken stop)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(250), time);
        try
        {
            while (await timer.WaitForNextTickAsync(stop))
            {
                var waiting = _tracker.InFlightMessages;
                if (waiting == 0 || _tracker.SinceLastAcknowledged < ackTimeout)
                    continue;
                var cause = _lastProducerError is { } error ? $" (last producer error: {error.Code}: {error.Reason})" : "";
                _tracker.Fail(long.MaxValue, new TimeoutException(
                    $"Kafka acknowledged nothing for {ackTimeout.TotalSeconds:0.#} s with {waiting} message(s) waiting{cause}. " +
                    "Check the brokers, the network path and Relay:Kafka, or give Kafka longer with --ack-timeout."));
                await stalled.CancelAsync();
                return;
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
    }

    static void Cancel(CancellationTokenSource source)
    {
        try { source.Cancel(); }
        catch (ObjectDisposedException) { }
    }
}

/// <summary>
/// How a run ended: rows sent and acknowledged (in order), the newest row that with every row before it Kafka
/// acknowledged (null when none was), what failed, whether every selected row was read (not stopped by a failure or an
/// interrupt), and whether every message that could still be acknowledged was before the run returned.
/// </summary>
sealed record RunOutcome(long Sent, long Acknowledged, RowKey? AcknowledgedUpTo, Exception? Failure, bool ReadAll, bool Drained)
{
    /// <summary>Every selected row was sent and Kafka acknowledged every message.</summary>
    public bool Succeeded => ReadAll && Failure is null && Drained && Acknowledged == Sent;
}
