using System.Text;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Running;
using Confluent.Kafka;
using Relay.Core;
using Relay.Mapping;
using Relay.Pipeline;

BenchmarkSwitcher.FromAssembly(typeof(HotPath).Assembly).Run(args);

/// <summary>
/// The per-row path after the replication message is copied: route the row to a message, take a sequence number in the
/// window, produce it (to an in-process mock broker) and acknowledge. Allocations per row are what the GC pays in a drain.
/// </summary>
[MemoryDiagnoser]
public class HotPath
{
    OutboxRow _row = null!;
    CheckpointTracker _tracker = null!;
    IProducer<byte[]?, byte[]?> _producer = null!;
    long _sequence;

    [GlobalSetup]
    public void Setup()
    {
        var table = OutboxTableMapping.Create(new OutboxTableOptions { Table = "public.outbox" }, 0);
        _row = new OutboxRow(table.Columns.Count) { Table = table };
        foreach (var (column, value) in new[] { ("id", Guid.NewGuid().ToString()), ("aggregateid", "order-42"), ("payload", "{\"orderId\": 42, \"customer\": \"customer-7\", \"total\": 99, \"currency\": \"EUR\", \"note\": \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}"), ("type", "OrderCreated"), ("aggregatetype", "Order") })
            _row.Values[table.Columns.ToList().FindIndex(c => c.Name == column)] = Encoding.UTF8.GetBytes(value);
        _tracker = new CheckpointTracker(1_000_000, long.MaxValue);
        _producer = new ProducerBuilder<byte[]?, byte[]?>(new ProducerConfig
        {
            BootstrapServers = "127.0.0.1:9", EnableIdempotence = true, Acks = Acks.All, LingerMs = 1,
            QueueBufferingMaxMessages = 2_000_000, QueueBufferingMaxKbytes = 2_000_000,
        }.With("test.mock.num.brokers", "1")).SetLogHandler((_, _) => { }).Build();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _producer.Flush(TimeSpan.FromSeconds(30));
        _producer.Dispose();
    }

    [Benchmark(Description = "route row -> message")]
    public Message<byte[]?, byte[]?> Route() => OutboxEventRouter.Route(_row).Message;

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
        var (topic, message) = OutboxEventRouter.Route(_row);
        var sequence = Interlocked.Increment(ref _sequence);
        _producer.Produce(topic, message, report => { if (report.Error.IsError) Console.Error.WriteLine(sequence); });
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
