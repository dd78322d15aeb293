using Microsoft.Extensions.Logging;
using Npgsql.Replication;
using Npgsql.Replication.PgOutput;
using Npgsql.Replication.PgOutput.Messages;
using Relay.Core;

namespace Relay.Postgres;

/// <summary>
/// One replication session on the slot. It starts where the slot's <c>confirmed_flush_lsn</c> stands, so after any
/// crash the server re-sends exactly the transactions Relay had not confirmed.
/// </summary>
sealed class PostgresOutboxStream : IOutboxStream
{
    const uint ByteaTypeOid = 17;

    readonly LogicalReplicationConnection _connection;
    readonly PostgresSourceOptions _options;
    readonly ILogger _logger;
    readonly Dictionary<(string Schema, string Name), OutboxTableMapping> _tablesByName;
    // Per relation id: the mapping, and for each column of the relation where its value goes in the row (-1: unused).
    readonly Dictionary<uint, RelationPlan> _relations = [];
    readonly OutboxRow _row;
    readonly CancellationTokenSource _lifetime = new();
    readonly string _startPosition;
    IAsyncEnumerator<PgOutputReplicationMessage>? _messages;
    Task<bool>? _pendingMove;
    Task? _heartbeat;

    public PostgresOutboxStream(LogicalReplicationConnection connection, PostgresSourceOptions options,
        IReadOnlyList<OutboxTableMapping> tables, string startPosition, ILogger logger)
    {
        _startPosition = startPosition;
        _connection = connection;
        _options = options;
        _logger = logger;
        _tablesByName = tables.ToDictionary(t => (t.Schema, t.Name));
        _row = new OutboxRow(tables.Max(t => t.Columns.Count));
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
        var replicationOptions = new PgOutputReplicationOptions(_options.PublicationName, PgOutputProtocolVersion.V1);
        _messages = _connection
            .StartReplication(new PgOutputReplicationSlot(_options.SlotName), replicationOptions, _lifetime.Token)
            .GetAsyncEnumerator(_lifetime.Token);
        Log.StreamingStarted(_logger, _options.SlotName, _options.PublicationName, _startPosition);

        // Stopping must not end the replication command: the final confirmation after the drain is a status update on
        // this same streaming connection. So on stop we merely stop pulling messages; DisposeAsync ends the stream.
        var stopped = Task.Delay(Timeout.Infinite, stopReading);
        SourcePosition transaction = default;
        var committedAt = default(DateTime);
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

            switch (_messages.Current)
            {
                case BeginMessage begin:
                    transaction = Lsn.ToPosition(begin.TransactionFinalLsn);
                    committedAt = begin.TransactionCommitTimestamp;
                    inTransaction = true;
                    break;
                case RelationMessage relation:
                    OnRelation(relation);
                    break;
                case InsertMessage insert when _relations.TryGetValue(insert.Relation.RelationId, out var plan):
                    await ReadRowAsync(insert, plan, transaction, stopReading);
                    _row.CommitTimestamp = committedAt;
                    await sink.OnRowAsync(_row, stopReading);
                    break;
                case CommitMessage commit:
                    inTransaction = false;
                    marked = Lsn.ToPosition(commit.TransactionEndLsn);
                    await sink.OnCommitAsync(marked, stopReading);
                    break;
            }
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

    void OnRelation(RelationMessage relation)
    {
        if (!_tablesByName.TryGetValue((relation.Namespace, relation.RelationName), out var table))
        {
            _relations.Remove(relation.RelationId);
            return;
        }
        var targets = new int[relation.Columns.Count];
        var bytea = new bool[relation.Columns.Count];
        Array.Fill(targets, -1);
        for (var i = 0; i < relation.Columns.Count; i++)
        {
            var index = table.Columns.ToList().FindIndex(c => c.Name == relation.Columns[i].ColumnName);
            targets[i] = index;
            bytea[i] = relation.Columns[i].DataTypeId == ByteaTypeOid;
        }
        // A column dropped while Relay runs: stop with the key to fix rather than publish incomplete messages.
        var missing = table.Columns.Where((_, index) => !targets.Contains(index)).FirstOrDefault();
        if (missing is not null)
            throw new RelayConfigurationException(
                $"{missing.ConfigurationKey}: column '{missing.Name}' is no longer in table '{table.QualifiedName}' " +
                "(the table was altered while Relay was running).");
        _relations[relation.RelationId] = new RelationPlan(table, targets, bytea);
    }

    async Task ReadRowAsync(InsertMessage insert, RelationPlan plan, SourcePosition transaction, CancellationToken cancellationToken)
    {
        // Copy every value now: Npgsql reuses the message (and its buffer) for the next one.
        _row.Table = plan.Table;
        _row.Position = transaction;
        _row.EnsureCapacity(plan.Table.Columns.Count);
        var column = 0;
        await foreach (var value in insert.NewRow.WithCancellation(cancellationToken))
        {
            var target = plan.Targets[column];
            if (target >= 0)
            {
                if (value.IsDBNull)
                    _row.Values[target] = null;
                else
                {
                    var bytes = new byte[value.Length];
                    await using (var stream = value.GetStream())
                        await stream.ReadExactlyAsync(bytes, cancellationToken);
                    _row.Values[target] = plan.Bytea[column] ? DecodeHexBytea(bytes) : bytes;
                }
            }
            column++;
        }
    }

    /// <summary>Text-format bytea is <c>\x</c> followed by hex digits (we set <c>bytea_output = hex</c>).</summary>
    internal static byte[] DecodeHexBytea(byte[] text)
    {
        if (text.Length < 2 || text[0] != '\\' || text[1] != 'x')
            throw new FormatException("bytea value is not in hex format.");
        return Convert.FromHexString(System.Text.Encoding.ASCII.GetString(text, 2, text.Length - 2));
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

    sealed record RelationPlan(OutboxTableMapping Table, int[] Targets, bool[] Bytea);
}
