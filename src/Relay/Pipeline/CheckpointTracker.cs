using Relay.Core;

namespace Relay.Pipeline;

/// <summary>
/// The checkpoint rule and the in-flight window in one place. Every produced message takes the next sequence number;
/// every commit remembers the sequence number it ends at. A commit's position becomes <see cref="Confirmable"/> only
/// when every message before that point has been acknowledged — not merely its own — so acknowledgements arriving out
/// of order across partitions can never move the checkpoint past a message the broker does not hold.
/// </summary>
/// <remarks>
/// Sequence numbers in flight map into a ring of <c>maxMessages</c> slots, so memory is fixed whatever the transaction
/// size. The reader waits in <see cref="ReserveAsync"/> while the window is full (backpressure).
/// </remarks>
public sealed class CheckpointTracker
{
    readonly object _gate = new();
    readonly bool[] _acknowledged;
    readonly int[] _sizes;
    readonly long _maxBytes;
    // Commits waiting for their messages' acknowledgements, oldest first, each ending at a later message than the one
    // before: commits with no message in between coalesce into the newest (_latest), so a long Kafka stall with many
    // transactions that publish nothing (PostgreSQL 12-14 sends every transaction; idle positions) keeps one entry.
    readonly Queue<PendingCommit> _commits = new();
    PendingCommit? _latest;
    readonly TimeProvider _time;
    long _next;
    long _watermark;
    long _inFlightBytes;
    SourcePosition _confirmable;
    SourcePosition _lastCommit;
    Exception? _failure;
    long _failedSequence = long.MaxValue;
    TaskCompletionSource? _waiter;

    public CheckpointTracker(int maxMessages, long maxBytes, TimeProvider? time = null)
    {
        _time = time ?? TimeProvider.System;
        _lastAcknowledged = _lastConfirmable = _time.GetTimestamp();
        ArgumentOutOfRangeException.ThrowIfLessThan(maxMessages, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBytes, 1);
        _acknowledged = new bool[maxMessages];
        _sizes = new int[maxMessages];
        _maxBytes = maxBytes;
    }

    /// <summary>The newest commit position whose messages, and all before them, are acknowledged.</summary>
    public SourcePosition Confirmable { get { lock (_gate) return _confirmable; } }

    public int InFlightMessages { get { lock (_gate) return (int)(_next - _watermark); } }

    public long InFlightBytes { get { lock (_gate) return _inFlightBytes; } }

    /// <summary>Since the broker last acknowledged a message, or since the first was sent after an idle window.</summary>
    public TimeSpan SinceLastAcknowledged => _time.GetElapsedTime(Interlocked.Read(ref _lastAcknowledged));
    long _lastAcknowledged;

    /// <summary>Since <see cref="Confirmable"/> last moved.</summary>
    public TimeSpan SinceLastConfirmable => _time.GetElapsedTime(Interlocked.Read(ref _lastConfirmable));
    long _lastConfirmable;

    /// <summary>When the oldest transaction not yet confirmable committed (UTC), or null when everything is.</summary>
    public DateTime? OldestPendingCommit { get { lock (_gate) return _commits.Count > 0 ? _commits.Peek().CommittedAt : _latest?.CommittedAt; } }

    /// <summary>Commits remembered while their messages are in flight (at most one per message in flight, plus one).</summary>
    public int PendingCommits { get { lock (_gate) return _commits.Count + (_latest is null ? 0 : 1); } }

    /// <summary>Messages handed out so far.</summary>
    public long Produced { get { lock (_gate) return _next; } }

    /// <summary>The first delivery failure, if any. Once set, nothing after the failed message is ever confirmable.</summary>
    public Exception? Failure { get { lock (_gate) return _failure; } }

    /// <summary>
    /// Raised when work appears after none was in flight (on the reading thread, outside the lock): a message handed out,
    /// or a commit confirmable at once (e.g. an idle position).
    /// </summary>
    public event Action? Active;

    /// <summary>Raised once, on the first failure (from the thread that reported it).</summary>
    public event Action<Exception>? Failed;

    /// <summary>
    /// Waits until the window has room for one more message of <paramref name="bytes"/>, then hands out its sequence
    /// number. A message larger than the byte limit still goes when nothing else is in flight.
    /// </summary>
    public async ValueTask<long> ReserveAsync(int bytes, CancellationToken cancellationToken)
    {
        while (true)
        {
            long? reserved = null;
            var wasIdle = false;
            Task? wait = null;
            lock (_gate)
            {
                if (_failure is not null)
                    throw new DeliveryFailedException("A message could not be delivered; stopping this run.", _failure);
                var inFlight = _next - _watermark;
                if (inFlight < _acknowledged.Length && (inFlight == 0 || _inFlightBytes + bytes <= _maxBytes))
                {
                    wasIdle = inFlight == 0;
                    if (wasIdle)
                        Interlocked.Exchange(ref _lastAcknowledged, _time.GetTimestamp());   // a stall counts from here
                    reserved = _next++;
                    _sizes[reserved.Value % _acknowledged.Length] = bytes;
                    _inFlightBytes += bytes;
                }
                else
                {
                    _waiter ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    wait = _waiter.Task;
                }
            }
            if (reserved is { } sequence)
            {
                if (wasIdle)
                    Active?.Invoke();
                return sequence;
            }
            await wait!.WaitAsync(cancellationToken);
        }
    }

    /// <summary>The broker acknowledged message <paramref name="sequence"/> (called from the delivery-report thread).</summary>
    public void Acknowledge(long sequence)
    {
        TaskCompletionSource? wake;
        lock (_gate)
        {
            var slot = (int)(sequence % _acknowledged.Length);
            _acknowledged[slot] = true;
            _lastAcknowledged = _time.GetTimestamp();
            _inFlightBytes -= _sizes[slot];
            while (_watermark < _next && _acknowledged[(int)(_watermark % _acknowledged.Length)])
            {
                _acknowledged[(int)(_watermark % _acknowledged.Length)] = false;
                _watermark++;
            }
            while (_commits.Count > 0 && _commits.Peek().End <= _watermark)
            {
                _confirmable = _commits.Dequeue().Position;
                _lastConfirmable = _time.GetTimestamp();
            }
            if (_commits.Count == 0 && _latest is { } latest && latest.End <= _watermark)
            {
                (_confirmable, _latest) = (latest.Position, null);
                _lastConfirmable = _time.GetTimestamp();
            }
            wake = _waiter;
            _waiter = null;
        }
        wake?.TrySetResult();
    }

    /// <summary>Message <paramref name="sequence"/> failed for good: the window stops there.</summary>
    public void Fail(long sequence, Exception error)
    {
        TaskCompletionSource? wake;
        bool first;
        lock (_gate)
        {
            first = _failure is null;
            _failure ??= error;
            _failedSequence = Math.Min(_failedSequence, sequence);
            wake = _waiter;
            _waiter = null;
        }
        wake?.TrySetResult();
        if (first)
            Failed?.Invoke(error);
    }

    /// <summary>
    /// A transaction that committed at <paramref name="committedAt"/> ended at <paramref name="position"/> (or the source
    /// vouches that everything before it was read); all messages handed out so far belong to it or earlier ones.
    /// Positions that do not move forward are ignored.
    /// </summary>
    public void Commit(SourcePosition position, DateTime committedAt = default)
    {
        TaskCompletionSource? wake = null;
        var confirmableAtOnce = false;
        lock (_gate)
        {
            if (position <= _lastCommit)
                return;
            _lastCommit = position;
            if (_watermark == _next && _latest is null)
            {
                _confirmable = position;
                _lastConfirmable = _time.GetTimestamp();
                wake = _waiter;
                _waiter = null;
                confirmableAtOnce = true;
            }
            else if (_latest is { } latest && latest.End == _next)
                _latest = latest with { Position = position };   // no message since: the newer position replaces it
            else
            {
                if (_latest is { } older)
                    _commits.Enqueue(older);
                _latest = new PendingCommit(_next, position, committedAt);
            }
        }
        wake?.TrySetResult();
        if (confirmableAtOnce)
            Active?.Invoke();
    }

    /// <summary>Waits until every message handed out is acknowledged, a delivery failed, or the timeout passes.</summary>
    /// <returns><c>true</c> when nothing is left in flight.</returns>
    public Task<bool> WaitForAllAcknowledgedAsync(TimeSpan timeout, CancellationToken cancellationToken) =>
        WaitForWatermarkAsync(failed => failed ? null : _next, timeout, cancellationToken);

    /// <summary>
    /// After a message failed for good (a row that cannot be published), waits until every message before it is
    /// acknowledged, so the checkpoint reaches the transaction before the failed one, or the timeout passes.
    /// </summary>
    /// <returns><c>true</c> when everything before the failed message is acknowledged.</returns>
    public Task<bool> WaitForAcknowledgedBeforeFailureAsync(TimeSpan timeout, CancellationToken cancellationToken) =>
        WaitForWatermarkAsync(_ => Math.Min(_failedSequence, _next), timeout, cancellationToken);

    /// <summary>
    /// Waits until the watermark reaches <c>target(failed)</c> — given whether a message failed, the watermark to wait
    /// for, or null to give up — or the timeout passes.
    /// </summary>
    async Task<bool> WaitForWatermarkAsync(Func<bool, long?> target, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var timer = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timer.CancelAfter(timeout);
        while (true)
        {
            Task wait;
            lock (_gate)
            {
                if (target(_failure is not null) is not { } watermark)
                    return false;
                if (_watermark >= watermark)
                    return true;
                _waiter ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                wait = _waiter.Task;
            }
            try
            {
                await wait.WaitAsync(timer.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                return false;
            }
        }
    }
}

/// <summary>A commit at <c>Position</c> whose messages end before sequence number <c>End</c>.</summary>
readonly record struct PendingCommit(long End, SourcePosition Position, DateTime CommittedAt);
