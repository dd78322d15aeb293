// A naive outbox relay, written the obvious way, as the reference bench/ measures Relay against (issue 15). It is not
// shipped and not in the image. On purpose it has none of Relay's machinery: Npgsql's pgoutput messages with text
// values, one Produce with a delivery handler per row, linger.ms 5, the slot confirmed per transaction once all of its
// messages are acknowledged, no metrics, no in-flight bound beyond librdkafka's queue, no reconnection.
using System.Text;
using Confluent.Kafka;
using Npgsql.Replication;
using Npgsql.Replication.PgOutput;
using Npgsql.Replication.PgOutput.Messages;
using NpgsqlTypes;

string Arg(string name) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1]
    : throw new ArgumentException($"usage: NaiveRelay --connection CS --slot S --publication P --topic T --bootstrap B [--set key=value]… ({name} missing)");
var (connectionString, slot, publication, topic) = (Arg("--connection"), Arg("--slot"), Arg("--publication"), Arg("--topic"));

var config = new ProducerConfig { BootstrapServers = Arg("--bootstrap"), LingerMs = 5, EnableIdempotence = true, Acks = Acks.All };
for (var i = 0; i < args.Length - 1; i++)
    if (args[i] == "--set" && args[i + 1].Split('=', 2) is [var key, var value])
        config.Set(key, value);

using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); };
using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM,
    context => { context.Cancel = true; stop.Cancel(); });

using var producer = new ProducerBuilder<string, string>(config)
    .SetErrorHandler((_, e) => Console.Error.WriteLine($"kafka: {e.Code} {e.Reason}"))
    .Build();
await using var connection = new LogicalReplicationConnection(connectionString);
await connection.Open(stop.Token);
var confirmer = new Confirmer(connection);

Console.WriteLine($"naive relay: streaming from slot {slot} (publication {publication}) to {topic}");
var columns = new Dictionary<uint, string[]>();   // relation id -> column names
Transaction? current = null;
try
{
    await foreach (var message in connection.StartReplication(new PgOutputReplicationSlot(slot),
                       new PgOutputReplicationOptions(publication, PgOutputProtocolVersion.V1), stop.Token))
    {
        switch (message)
        {
            case BeginMessage:
                current = confirmer.Begin();
                break;
            case RelationMessage relation:
                columns[relation.RelationId] = relation.Columns.Select(c => c.ColumnName).ToArray();
                break;
            case InsertMessage insert:
                await ProduceAsync(insert, current!);
                break;
            case CommitMessage commit:
                confirmer.Commit(current!, commit.TransactionEndLsn);
                current = null;
                break;
        }
        if (confirmer.Failure is { } failure)
            throw new InvalidOperationException("A message was not delivered; stopping.", failure);
    }
}
catch (OperationCanceledException) when (stop.IsCancellationRequested)
{
}

producer.Flush(TimeSpan.FromSeconds(10));
try { await confirmer.ConfirmAsync(); }
catch (Exception e) when (e is Npgsql.NpgsqlException or InvalidOperationException or ObjectDisposedException) { }   // best effort
Console.WriteLine("naive relay: stopped");
return confirmer.Failure is null ? 0 : 1;

async Task ProduceAsync(InsertMessage insert, Transaction transaction)
{
    // Copy the row out before the next message: Npgsql reuses message objects.
    var names = columns[insert.Relation.RelationId];
    var row = new Dictionary<string, string?>(names.Length);
    var index = 0;
    await foreach (var value in insert.NewRow)
        row[names[index++]] = value.IsDBNull ? null : await value.Get<string>(stop.Token);

    var message = new Message<string, string>
    {
        Key = row["aggregateid"]!,
        Value = row["payload"]!,
        Headers = [new Header("id", Encoding.UTF8.GetBytes(row["id"]!)), new Header("type", Encoding.UTF8.GetBytes(row["type"]!))],
    };
    confirmer.Sent(transaction);
    while (true)
    {
        try
        {
            producer.Produce(topic, message, report => confirmer.Delivered(transaction, report.Error));
            return;
        }
        catch (ProduceException<string, string> e) when (e.Error.Code == ErrorCode.Local_QueueFull)
        {
            await Task.Delay(1, stop.Token);   // librdkafka's queue is full: let it drain
        }
    }
}

/// <summary>One transaction's messages not yet acknowledged (plus one until its commit is seen).</summary>
sealed class Transaction
{
    public int Pending = 1;
    public NpgsqlLogSequenceNumber End;
}

/// <summary>Confirms each transaction's end to the slot once it and every transaction before it are acknowledged.</summary>
sealed class Confirmer(LogicalReplicationConnection connection)
{
    readonly Queue<Transaction> _open = new();
    NpgsqlLogSequenceNumber _confirmed;

    public Exception? Failure { get; private set; }

    public Transaction Begin()
    {
        var transaction = new Transaction();
        lock (_open) _open.Enqueue(transaction);
        return transaction;
    }

    public void Sent(Transaction transaction) => Interlocked.Increment(ref transaction.Pending);

    public void Commit(Transaction transaction, NpgsqlLogSequenceNumber end)
    {
        transaction.End = end;
        Done(transaction);
    }

    public void Delivered(Transaction transaction, Error error)
    {
        if (error.IsError)
            Failure ??= new KafkaException(error);
        else
            Done(transaction);
    }

    void Done(Transaction transaction)
    {
        if (Interlocked.Decrement(ref transaction.Pending) != 0)
            return;
        lock (_open)
        {
            var end = _confirmed;
            while (_open.TryPeek(out var oldest) && Volatile.Read(ref oldest.Pending) == 0)
                end = _open.Dequeue().End;
            if (end == _confirmed)
                return;
            _confirmed = end;
        }
        _ = ConfirmAsync();
    }

    public Task ConfirmAsync()
    {
        NpgsqlLogSequenceNumber confirmed;
        lock (_open) confirmed = _confirmed;
        if (confirmed == default)
            return Task.CompletedTask;
        connection.SetReplicationStatus(confirmed);
        return connection.SendStatusUpdate();
    }
}
