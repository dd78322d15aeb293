using Microsoft.Extensions.Logging;
using Npgsql.Replication;
using Npgsql.Replication.Internal;
using Npgsql.Replication.PgOutput;
using Relay.Core;

namespace Relay.Postgres;

/// <summary>
/// One replication session on the slot. It starts where the slot's <c>confirmed_flush_lsn</c> stands, so after any
/// crash the server re-sends exactly the transactions Relay had not confirmed.
/// </summary>
sealed class PostgresOutboxStream : IOutboxStream
{
    // Messages are copied into this buffer and decoded in place; most outbox rows fit in the default size.
    const int BufferSize = 64 * 1024, MaxKeptBufferSize = 1024 * 1024;

    readonly LogicalReplicationConnection _connection;
    readonly PostgresSourceOptions _options;
    readonly ILogger _logger;
    readonly PgOutputDecoder _decoder;
    readonly bool _binary;
    // Whether pgoutput is asked for logical decoding messages (only when prefixes are configured: PostgreSQL 14+).
    readonly bool _messagePrefixes;
    byte[] _buffer = new byte[BufferSize];
    readonly CancellationTokenSource _lifetime = new();
    string _startsAt;
    readonly PostgresMetrics _metrics;
    // The first-start snapshot, if this stream publishes one; its boundary once read, and whether its completion is noted.
    readonly SnapshotPlan? _snapshot;
    SourcePosition? _snapshotBoundary;
    bool _snapshotNoted;
    readonly CatalogWatch _catalog;
    SourcePosition _confirmed;
    IAsyncEnumerator<XLogDataMessage>? _messages;
    Task<bool>? _pendingMove;
    // Reading state (a stream is read once): inside a transaction, the last position handed to the sink, the idle timer.
    bool _inTransaction;
    readonly HashSet<string> _skippedTables = [];
    SourcePosition _marked;
    Task? _idleTick;
    TimeSpan _idleWait;
    Task? _heartbeat;

    public PostgresOutboxStream(LogicalReplicationConnection connection, PostgresSourceOptions options,
        IReadOnlyList<OutboxTableMapping> tables, IReadOnlyList<OutboxTableMapping> messages, PostgresPlan plan, CatalogWatch catalog,
        PostgresMetrics metrics, ILogger logger)
    {
        _metrics = metrics;
        _snapshot = plan.Snapshot;
        _catalog = catalog;
        _startsAt = plan.StartsAt;
        _connection = connection;
        _options = options;
        _idleWait = options.IdleAcknowledgeInterval;
        _logger = logger;
        _binary = plan.BinaryValues;
        _messagePrefixes = messages.Count > 0;
        _decoder = new PgOutputDecoder(tables, plan.ColumnTypes, (table, absent) =>
            Log.ColumnsAbsent(_logger, table.QualifiedName, string.Join(", ", absent.Select(c => $"{c.Name} ({c.ConfigurationKey})"))), messages);
    }

    public string Format(SourcePosition position) => Lsn.Format(position);

    /// <summary>
    /// A row's position is its transaction's commit LSN; decoding skips transactions whose commit record lies before the
    /// slot's confirmed position, so advancing the slot one byte past it skips exactly that transaction (run it with
    /// Relay stopped). A row of the first-start snapshot (at or before its boundary) was read from the table, not the
    /// slot: it has no such step (fix or delete the row).
    /// </summary>
    public string? DescribeSkip(SourcePosition position) => _snapshotBoundary is { } boundary && position <= boundary ? null :
        $"with Relay stopped, SELECT pg_replication_slot_advance('{_options.SlotName}', '{Lsn.Format(new SourcePosition(position.Commit + 1))}')";

    public SourcePosition Received => Lsn.ToPosition(_connection.LastReceivedLsn);

    public async Task ReadAsync(IOutboxSink sink, CancellationToken stopReading)
    {
        try
        {
            await ReadMessagesAsync(sink, stopReading);
        }
        catch (Exception e) when (e is Npgsql.NpgsqlException or TimeoutException)
        {
            throw PostgresErrors.Translate(e, _options.ConnectionString, _options.SlotName);
        }
    }

    async Task ReadMessagesAsync(IOutboxSink sink, CancellationToken stopReading)
    {
        if (_messages is not null || _snapshotBoundary is not null)
            throw new InvalidOperationException("A replication stream is read once.");
        if (_snapshot is not null)
        {
            // Before START_REPLICATION: on a first start the slot is created on this connection, and its exported
            // snapshot lives only until this connection's next command.
            var (boundary, startedAt) = await new FirstStartSnapshot(_options, _snapshot, _metrics, _logger).PublishAsync(_connection, sink, stopReading);
            _snapshotBoundary = boundary;   // before the commit: its confirmation may follow at once, and must know it
            await sink.OnCommitAsync(boundary, startedAt, stopReading);
            if (_snapshot.CreateSlot)
                _startsAt = Lsn.Format(boundary);
        }
        if (_options.HeartbeatInterval is { } heartbeat && heartbeat > TimeSpan.Zero)
            _heartbeat = EmitHeartbeatsAsync(heartbeat, _lifetime.Token);
        _messages = _connection
            .StartLogicalReplication(new PgOutputReplicationSlot(_options.SlotName), _lifetime.Token, walLocation: null,
                PluginOptions(_options.PublicationName, _binary, _messagePrefixes))
            .GetAsyncEnumerator(_lifetime.Token);
        Log.StreamingStarted(_logger, _options.SlotName, _options.PublicationName, _startsAt, _binary ? "binary" : "text");

        // Stopping must not end the replication command: the final confirmation after the drain is a status update on
        // this same streaming connection. So on stop we merely stop pulling messages; DisposeAsync ends the stream.
        var stopped = Task.Delay(Timeout.Infinite, stopReading);
        while (!stopReading.IsCancellationRequested)
        {
            var move = _messages.MoveNextAsync();
            var hasMessage = move.IsCompleted ? move.Result : await WaitForMessageAsync(move.AsTask(), stopped, sink, stopReading);
            if (stopReading.IsCancellationRequested)
                return;
            if (!hasMessage)
                throw new InvalidOperationException("PostgreSQL ended the replication stream.");

            var length = await ReadMessageAsync(_messages.Current.Data, stopReading);
            await DispatchAsync(_decoder.Decode(_buffer.AsSpan(0, length)), sink, stopReading);
            if (_buffer.Length > MaxKeptBufferSize)
                _buffer = new byte[BufferSize];   // after one huge row: do not keep its buffer
        }
    }

    /// <summary>
    /// Waits for the next message; while none comes, acknowledges the server's idle position every
    /// <see cref="PostgresSourceOptions.IdleAcknowledgeInterval"/>. On stop, the pending read is kept for DisposeAsync.
    /// </summary>
    async Task<bool> WaitForMessageAsync(Task<bool> move, Task stopped, IOutboxSink sink, CancellationToken stopReading)
    {
        while (true)
        {
            // One idle timer at a time, kept across waits until it fires: a new timer per wait would leave
            // thousands scheduled per second when small transactions stream in.
            _idleTick ??= Task.Delay(_idleWait, stopReading);
            var first = await Task.WhenAny(move, stopped, _idleTick);
            if (first == move)
            {
                _idleWait = _options.IdleAcknowledgeInterval;
                return await move;
            }
            if (first == stopped)
            {
                _pendingMove = move;
                return false;
            }
            _idleTick = null;
            // While the server's position stands still there is nothing to acknowledge: wait twice as long each time, up
            // to IdleWaitLimit, so an idle sidecar wakes rarely. Any message or a moved position restores the interval.
            if (!_inTransaction && await MarkIdlePositionAsync(sink, stopReading))
                _idleWait = _options.IdleAcknowledgeInterval;
            else
                _idleWait = TimeSpan.FromTicks(Math.Min(_idleWait.Ticks * 2, Math.Max(IdleWaitLimit.Ticks, _options.IdleAcknowledgeInterval.Ticks)));
        }
    }

    /// <summary>The longest idle wait once the server's position stood still for a while.</summary>
    static readonly TimeSpan IdleWaitLimit = TimeSpan.FromSeconds(10);

    async ValueTask DispatchAsync(PgOutputDecoder.Result decoded, IOutboxSink sink, CancellationToken stopReading)
    {
        switch (decoded)
        {
            case PgOutputDecoder.Result.Begin:
                _inTransaction = true;
                break;
            case PgOutputDecoder.Result.Insert or PgOutputDecoder.Result.Message:
                await sink.OnRowAsync(_decoder.Row, stopReading);
                break;
            case PgOutputDecoder.Result.Commit:
                _inTransaction = false;
                _marked = _decoder.CommitEnd;
                await sink.OnCommitAsync(_marked, _decoder.Row.CommitTimestamp, stopReading);
                break;
            case PgOutputDecoder.Result.UnknownTable:
                await OnUnknownTableAsync(_decoder.UnknownTable, stopReading);
                break;
        }
    }

    /// <summary>
    /// The server sends an insert of a table Relay does not publish: a table someone added to Relay's
    /// publication (ALTER PUBLICATION … ADD TABLE, the first step of adding an outbox table) whose rows would be skipped
    /// and confirmed past — lost once Relay is configured for it. Stop before confirming them instead; the relay restarted
    /// with the table configured publishes them. A publication of every table (or schema) publishes tables that are not
    /// outboxes by design: those are skipped, said once per session.
    /// </summary>
    async Task OnUnknownTableAsync((string Schema, string Name) table, CancellationToken cancellationToken)
    {
        var qualified = $"{table.Schema}.{table.Name}";
        // Every insert of such a table arrives here: ask the catalog once per session.
        if (_skippedTables.Contains(qualified))
            return;
        if (!await _catalog.IsListedInPublicationAsync(table.Schema, table.Name, cancellationToken))
        {
            _skippedTables.Add(qualified);
            Log.UnconfiguredTableSkipped(_logger, qualified, _options.PublicationName);
            return;
        }
        throw new RelayConfigurationException(
            $"Table {qualified} is in publication '{_options.PublicationName}' but not in Relay:Outbox:Tables: its rows (the first in the " +
            $"transaction at {Lsn.Format(_decoder.Row.Position)}) would not be published. Add it to Relay:Outbox:Tables and restart: nothing from " +
            $"that transaction on is confirmed, so its rows will be published then. If it is not an outbox table, run ALTER PUBLICATION " +
            $"{_options.PublicationName} DROP TABLE {qualified} instead.");
    }

    /// <summary>
    /// pgoutput's options: protocol 1 (PostgreSQL 10+), the publication, binary values when chosen (14+), and logical
    /// decoding messages when prefixes are configured (14+; pgoutput then sends every prefix, the decoder keeps Relay's).
    /// </summary>
    internal static IEnumerable<KeyValuePair<string, string?>> PluginOptions(string publication, bool binary, bool messages = false)
    {
        yield return new("proto_version", "1");
        yield return new("publication_names", $"\"{publication}\"");
        if (binary)
            yield return new("binary", "true");
        if (messages)
            yield return new("messages", "true");
    }

    /// <summary>Copies one message into the reused buffer (growing it for a message larger than the buffer).</summary>
    async ValueTask<int> ReadMessageAsync(Stream data, CancellationToken cancellationToken)
    {
        var length = 0;
        while (true)
        {
            if (length == _buffer.Length)
                Array.Resize(ref _buffer, _buffer.Length * 2);
            var read = await data.ReadAsync(_buffer.AsMemory(length), cancellationToken);
            if (read == 0)
                return length;
            length += read;
        }
    }

    /// <summary>
    /// While no outbox change arrives, the server still decodes other tables' WAL and reports how far it got (in
    /// keepalives). Every transaction that committed before that point was sent before it, and everything received is
    /// processed, so the position can be confirmed once what is in flight is acknowledged: the slot then follows the
    /// server and retained WAL stays bounded. (pg_recvlogical does the same with keepalives.)
    /// </summary>
    /// <returns>Whether the server's position had moved.</returns>
    async Task<bool> MarkIdlePositionAsync(IOutboxSink sink, CancellationToken cancellationToken)
    {
        var received = Lsn.ToPosition(_connection.LastReceivedLsn);
        if (received <= _marked)
            return false;
        await sink.OnCommitAsync(received, DateTime.UtcNow, cancellationToken);
        _marked = received;
        return true;
    }

    /// <summary>A WAL record every interval (not part of any transaction), so an idle server still moves the slot.</summary>
    async Task EmitHeartbeatsAsync(TimeSpan interval, CancellationToken cancellationToken)
    {
        await using var dataSource = Npgsql.NpgsqlDataSource.Create(_options.ConnectionString);
        using var timer = new PeriodicTimer(interval);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                try
                {
                    await using var command = dataSource.CreateCommand("SELECT pg_logical_emit_message(false, 'relay.heartbeat', '')");
                    await command.ExecuteNonQueryAsync(cancellationToken);
                }
                catch (Exception e) when (e is Npgsql.NpgsqlException or TimeoutException)
                {
                    Log.HeartbeatFailed(_logger, e.Message);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>
    /// Confirms <paramref name="position"/> to the slot once the outbox tables and the publication are checked to be as
    /// they were (<see cref="CatalogWatch"/>); otherwise stops the relay (exit 1) without confirming, saying what changed.
    /// </summary>
    public async Task ConfirmAsync(SourcePosition position, CancellationToken cancellationToken)
    {
        if (await _catalog.FindChangeAsync(cancellationToken) is { } change)
        {
            var confirmed = _confirmed == SourcePosition.None ? "the slot's position at start" : Lsn.Format(_confirmed);
            Log.CatalogChanged(_logger, change, confirmed, _catalog.LastIntact);
            throw new RelayConfigurationException(
                $"{change} while Relay was streaming, so the server stopped sending those rows. Relay stopped without confirming past {confirmed}; " +
                $"the tables and publication were last seen intact at {_catalog.LastIntact:u}. Recover: put the table back in publication " +
                $"'{_options.PublicationName}' (ALTER PUBLICATION {_options.PublicationName} ADD TABLE …, SET (publish = 'insert'), or drop the slot " +
                $"(SELECT pg_drop_replication_slot('{_options.SlotName}')) if the publication is gone), re-publish the outbox rows committed since " +
                $"{_catalog.LastIntact:u}, then start Relay (docs/operations.md, \"Outbox table or publication changed\").");
        }
        if (_snapshotBoundary is { } boundary && position >= boundary && !_snapshotNoted)
        {
            // Every message of the snapshot is acknowledged: note it before the slot may move past the boundary.
            await FirstStartSnapshot.NoteCompleteAsync(_options, cancellationToken);
            _snapshotNoted = true;
            _metrics.SnapshotPending(false);
            Log.SnapshotCompleted(_logger, Lsn.Format(boundary), _options.PublicationName);
        }
        if (_snapshotBoundary is { } before && position <= before)
        {
            // The snapshot's own commit: the slot already stands there, and streaming may not have begun.
            _confirmed = position;
            return;
        }
        _connection.SetReplicationStatus(Lsn.FromPosition(position));
        await _connection.SendStatusUpdate(cancellationToken);
        _confirmed = position;
        Log.Confirmed(_logger, Lsn.Format(position), _options.SlotName);
    }

    public async ValueTask DisposeAsync()
    {
        await _lifetime.CancelAsync();
        if (_heartbeat is not null)
            await _heartbeat;
        if (_pendingMove is not null)
        {
            try { await _pendingMove; }
            catch (OperationCanceledException) { }
            catch (Exception) { /* the connection is going away anyway */ }
        }
        if (_messages is not null)
        {
            try { await _messages.DisposeAsync(); }
            catch (Exception) { /* ditto */ }
        }
        await _connection.DisposeAsync();
        await _catalog.DisposeAsync();
        _lifetime.Dispose();
    }

}
