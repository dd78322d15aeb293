using System.Buffers.Binary;
using Microsoft.Extensions.DependencyInjection;
using System.Text;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Running;
using Confluent.Kafka;
using Relay.Core;
using Relay.Instrumentation;
using Microsoft.Extensions.Logging.Abstractions;
using Relay.Diagnostics;
using Relay.Mapping;
using Relay.Pipeline;
using Relay.Postgres;

BenchmarkSwitcher.FromAssembly(typeof(HotPath).Assembly).Run(args);

/// <summary>
/// The per-row path: decode the replication message (pgoutput bytes, as the server sends them) into the row; route the
/// row to a message, take a sequence number in the window, produce it (to an in-process mock broker) and acknowledge.
/// The last benchmark is all of it, through the dispatcher the relay runs. The per-row path after decoding: route the row to a message, take a sequence number in the
/// window, produce it (to an in-process mock broker) and acknowledge. Allocations per row are what the GC pays in a drain.
/// </summary>
[MemoryDiagnoser]
public class HotPath
{
    OutboxRow _row = null!;
    CheckpointTracker _tracker = null!;
    IProducer<byte[]?, byte[]?> _producer = null!;
    long _sequence;
    PgOutputDecoder _decoder = null!;
    byte[] _binaryInsert = null!, _textInsert = null!;
    OutboxDispatcher _dispatcher = null!;

    [GlobalSetup]
    public void Setup()
    {
        var table = OutboxMapping.For(new OutboxOptions { Tables = [new OutboxTableOptions { Table = "public.outbox" }] }).Tables[0];
        _row = new OutboxRow(table.Columns.Count) { Table = table };
        foreach (var (column, value) in new[] { ("id", Guid.NewGuid().ToString()), ("aggregateid", "order-42"), ("payload", "{\"orderId\": 42, \"customer\": \"customer-7\", \"total\": 99, \"currency\": \"EUR\", \"note\": \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}"), ("type", "OrderCreated"), ("aggregatetype", "Order") })
            _row.Values[table.Columns.ToList().FindIndex(c => c.Name == column)] = Encoding.UTF8.GetBytes(value);
        _tracker = new CheckpointTracker(1_000_000, long.MaxValue);
        _producer = new ProducerBuilder<byte[]?, byte[]?>(new ProducerConfig
        {
            BootstrapServers = "127.0.0.1:9", EnableIdempotence = true, Acks = Acks.All, LingerMs = 1,
            QueueBufferingMaxMessages = 2_000_000, QueueBufferingMaxKbytes = 2_000_000,
        }.With("test.mock.num.brokers", "1").With("dotnet.producer.delivery.report.fields", "none")).SetLogHandler((_, _) => { }).Build();

        // The Debezium outbox table (uuid id, text columns, jsonb payload, a timestamptz Relay ignores) as pgoutput sends it.
        _decoder = new PgOutputDecoder([table]);
        _decoder.Decode(Relation(table.Name, ("id", 2950), ("aggregatetype", 25), ("aggregateid", 25), ("type", 25), ("payload", 3802), ("created_at", 1184)));
        const string payload = "{\"orderId\": 42, \"customer\": \"customer-7\", \"total\": 99, \"currency\": \"EUR\", \"lines\": 3, \"note\": \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}";
        _binaryInsert = Insert(Value('b', Guid.NewGuid().ToByteArray(bigEndian: true)), Value('b', "Order"u8.ToArray()), Value('b', "key-42"u8.ToArray()),
            Value('b', "OrderCreated"u8.ToArray()), Value('b', [1, .. Encoding.UTF8.GetBytes(payload)]), Value('b', new byte[8]));
        _textInsert = Insert(Value('t', Encoding.UTF8.GetBytes(Guid.NewGuid().ToString())), Value('t', "Order"u8.ToArray()), Value('t', "key-42"u8.ToArray()),
            Value('t', "OrderCreated"u8.ToArray()), Value('t', Encoding.UTF8.GetBytes(payload)), Value('t', "2026-11-26 08:00:00.123456+00"u8.ToArray()));
        _decoder.Decode([(byte)'B', .. new byte[20]]);
        _dispatcher = new OutboxDispatcher(_producer, new CheckpointTracker(1_000_000, long.MaxValue), new NoStream(), new RelayMetrics(new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>()), NullLogger.Instance, TimeProvider.System);
    }

    [Benchmark(Description = "decode pgoutput insert (binary values) -> row")]
    public OutboxRow DecodeBinary()
    {
        _decoder.Decode(_binaryInsert);
        return _decoder.Row;
    }

    [Benchmark(Description = "decode pgoutput insert (text values) -> row")]
    public OutboxRow DecodeText()
    {
        _decoder.Decode(_textInsert);
        return _decoder.Row;
    }

    [Benchmark(Description = "decode + dispatch: route, window, produce with delivery handler")]
    public ValueTask DecodeAndDispatch()
    {
        _decoder.Decode(_binaryInsert);
        return _dispatcher.OnRowAsync(_decoder.Row, CancellationToken.None);
    }

    static byte[] Relation(string name, params (string Name, uint Type)[] columns)
    {
        var message = new List<byte> { (byte)'R', 0, 0, 0, 1 };
        message.AddRange([.. "public"u8.ToArray(), 0, .. Encoding.UTF8.GetBytes(name), 0, (byte)'d', 0, (byte)columns.Length]);
        foreach (var (column, type) in columns)
        {
            var oid = new byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(oid, type);
            message.AddRange([0, .. Encoding.UTF8.GetBytes(column), 0, .. oid, 255, 255, 255, 255]);
        }
        return [.. message];
    }

    static byte[] Insert(params byte[][] values) => [(byte)'I', 0, 0, 0, 1, (byte)'N', 0, (byte)values.Length, .. values.SelectMany(v => v)];

    static byte[] Value(char kind, byte[] bytes)
    {
        var length = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(length, bytes.Length);
        return [(byte)kind, .. length, .. bytes];
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _producer.Flush(TimeSpan.FromSeconds(30));
        _producer.Dispose();
    }

    [Benchmark(Description = "route row -> message")]
    public Message<byte[]?, byte[]?> Route()
    {
        OutboxEventRouter.TryRoute(_row, out _, out var message);
        return message;
    }

    [Benchmark(Description = "reserve + acknowledge + commit")]
    public async Task<SourcePosition> Track()
    {
        var sequence = await _tracker.ReserveAsync(300, CancellationToken.None);
        _tracker.Commit(new SourcePosition((ulong)sequence + 1));
        _tracker.Acknowledge(sequence);
        return _tracker.Confirmable;
    }

    [Benchmark(Description = "route + produce with delivery handler")]
    public void RouteAndProduce()
    {
        OutboxEventRouter.TryRoute(_row, out var topic, out var message);
        var sequence = Interlocked.Increment(ref _sequence);
        _producer.Produce(topic!, message, report => { if (report.Error.IsError) Console.Error.WriteLine(sequence); });
    }
}

static class ConfigExtensions
{
    public static ProducerConfig With(this ProducerConfig config, string key, string value)
    {
        config.Set(key, value);
        return config;
    }
}

/// <summary>Only formats positions: the dispatcher's view of a stream in these benchmarks.</summary>
sealed class NoStream : IOutboxStream
{
    public Task ReadAsync(IOutboxSink sink, CancellationToken stopReading) => Task.CompletedTask;
    public Task ConfirmAsync(SourcePosition position, CancellationToken cancellationToken) => Task.CompletedTask;
    public SourcePosition Received => SourcePosition.None;
    public string Format(SourcePosition position) => position.ToString();
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
