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
    byte[] _buffer = new byte[BufferSize];
    readonly CancellationTokenSource _lifetime = new();
    readonly string _startPosition;
    IAsyncEnumerator<XLogDataMessage>? _messages;
    Task<bool>? _pendingMove;
    Task? _heartbeat;

    public PostgresOutboxStream(LogicalReplicationConnection connection, PostgresSourceOptions options,
        IReadOnlyList<OutboxTableMapping> tables, IReadOnlyDictionary<(string Table, string Column), PgType> columnTypes,
        bool binary, string startPosition, ILogger logger)
    {
        _startPosition = startPosition;
        _connection = connection;
        _options = options;
        _logger = logger;
        _binary = binary;
        _decoder = new PgOutputDecoder(tables, columnTypes);
    }

    public string Format(SourcePosition position) => Lsn.Format(position);

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
        if (_options.HeartbeatInterval is { } heartbeat && heartbeat > TimeSpan.Zero)
            _heartbeat = EmitHeartbeatsAsync(heartbeat, _lifetime.Token);
        if (_messages is not null)
            throw new InvalidOperationException("A replication stream is read once.");
        _messages = _connection
            .StartLogicalReplication(new PgOutputReplicationSlot(_options.SlotName), _lifetime.Token, walLocation: null,
                PluginOptions(_options.PublicationName, _binary))
            .GetAsyncEnumerator(_lifetime.Token);
        Log.StreamingStarted(_logger, _options.SlotName, _options.PublicationName, _startPosition, _binary ? "binary" : "text");

        // Stopping must not end the replication command: the final confirmation after the drain is a status update on
        // this same streaming connection. So on stop we merely stop pulling messages; DisposeAsync ends the stream.
        var stopped = Task.Delay(Timeout.Infinite, stopReading);
        var inTransaction = false;
        var marked = SourcePosition.None;
        Task? idleTick = null;
        while (!stopReading.IsCancellationRequested)
        {
            var move = _messages.MoveNextAsync();
            bool hasMessage;
            if (move.IsCompleted)
                hasMessage = move.Result;
            else
            {
                var moveTask = move.AsTask();
                while (true)
                {
                    // One idle timer at a time, kept across waits until it fires: a new timer per wait would leave
                    // thousands scheduled per second when small transactions stream in.
                    idleTick ??= Task.Delay(_options.IdleAcknowledgeInterval, stopReading);
                    var first = await Task.WhenAny(moveTask, stopped, idleTick);
                    if (first == moveTask)
                        break;
                    if (first == stopped)
                    {
                        _pendingMove = moveTask;
                        return;
                    }
                    idleTick = null;
                    if (!inTransaction)
                        marked = await MarkIdlePositionAsync(sink, marked, stopReading);
                }
                hasMessage = await moveTask;
            }
            if (!hasMessage)
                throw new InvalidOperationException("PostgreSQL ended the replication stream.");

            var length = await ReadMessageAsync(_messages.Current.Data, stopReading);
            switch (_decoder.Decode(_buffer.AsSpan(0, length)))
            {
                case PgOutputDecoder.Result.Begin:
                    inTransaction = true;
                    break;
                case PgOutputDecoder.Result.Insert:
                    await sink.OnRowAsync(_decoder.Row, stopReading);
                    break;
                case PgOutputDecoder.Result.Commit:
                    inTransaction = false;
                    marked = _decoder.CommitEnd;
                    await sink.OnCommitAsync(marked, stopReading);
                    break;
            }
            if (_buffer.Length > MaxKeptBufferSize)
                _buffer = new byte[BufferSize];   // after one huge row: do not keep its buffer
        }
    }

    /// <summary>pgoutput's options: protocol 1 (PostgreSQL 10+), the publication, and binary values when chosen (14+).</summary>
    internal static IEnumerable<KeyValuePair<string, string?>> PluginOptions(string publication, bool binary)
    {
        yield return new("proto_version", "1");
        yield return new("publication_names", $"\"{publication}\"");
        if (binary)
            yield return new("binary", "true");
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
    async Task<SourcePosition> MarkIdlePositionAsync(IOutboxSink sink, SourcePosition marked, CancellationToken cancellationToken)
    {
        var received = Lsn.ToPosition(_connection.LastReceivedLsn);
        if (received <= marked)
            return marked;
        await sink.OnCommitAsync(received, cancellationToken);
        return received;
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

    public async Task ConfirmAsync(SourcePosition position, CancellationToken cancellationToken)
    {
        _connection.SetReplicationStatus(Lsn.FromPosition(position));
        await _connection.SendStatusUpdate(cancellationToken);
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
        _lifetime.Dispose();
    }

}
