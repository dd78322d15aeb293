using System.Collections.Concurrent;
using System.Text;
using Confluent.Kafka;

namespace Relay.Bench;

/// <summary>
/// Counts the messages of one topic as they arrive, and nothing else: keys, values and headers are not copied out of
/// librdkafka (the measuring consumer shares the machine with what it measures, so it should cost as little as it can).
/// </summary>
sealed class DeliveryCounter : IDisposable
{
    readonly CancellationTokenSource _stop = new();
    readonly Thread _thread;
    long _count;

    public DeliveryCounter(string bootstrapServers, string topic, int partitions)
    {
        _thread = new Thread(() => Run(bootstrapServers, topic, partitions)) { IsBackground = true, Name = "delivery-counter" };
        _thread.Start();
    }

    public long Count => Interlocked.Read(ref _count);

    void Run(string bootstrapServers, string topic, int partitions)
    {
        using var consumer = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig
        {
            BootstrapServers = bootstrapServers,
            GroupId = "relay-bench-counter-" + Guid.NewGuid().ToString("N"),
            EnableAutoCommit = false,
            FetchWaitMaxMs = 100,
            ConsumeResultFields = "none",
        }).SetLogHandler((_, _) => { }).SetErrorHandler((_, _) => { }).Build();
        consumer.Assign(Enumerable.Range(0, partitions).Select(p => new TopicPartitionOffset(topic, p, Offset.Beginning)));
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                if (consumer.Consume(TimeSpan.FromMilliseconds(100)) is { IsPartitionEOF: false })
                    Interlocked.Increment(ref _count);
            }
            catch (ConsumeException)
            {
            }
        }
        consumer.Close();
    }

    public void Dispose()
    {
        if (_stop.IsCancellationRequested)
            return;
        _stop.Cancel();
        _thread.Join(TimeSpan.FromSeconds(10));
    }
}

/// <summary>
/// A live consumer, as an application would run one: notes when each event id (<c>id</c> header) is first received
/// (UTC wall clock, the clock PostgreSQL's commit timestamps use on this machine). It asks the brokers for data every
/// millisecond at most (fetch.wait.max.ms 1): the mock broker does not answer a waiting fetch when data arrives, it waits
/// out fetch.wait.max.ms, which would otherwise be added to every latency.
/// </summary>
sealed class LiveConsumer : IDisposable
{
    readonly CancellationTokenSource _stop = new();
    readonly Thread _thread;
    ConcurrentDictionary<string, DateTime> _receipts = new();
    long _messages;

    public LiveConsumer(string bootstrapServers, string topic, int partitions)
    {
        _thread = new Thread(() => Run(bootstrapServers, topic, partitions)) { IsBackground = true, Name = "live-consumer" };
        _thread.Start();
    }

    /// <summary>Distinct events received since <see cref="Reset"/>.</summary>
    public int Distinct => Volatile.Read(ref _receipts).Count;

    /// <summary>Messages received since <see cref="Reset"/>, duplicates included.</summary>
    public long Messages => Interlocked.Read(ref _messages);

    /// <summary>Forgets what was received (between runs: every message of the last run has arrived).</summary>
    public void Reset()
    {
        Volatile.Write(ref _receipts, new ConcurrentDictionary<string, DateTime>());
        Interlocked.Exchange(ref _messages, 0);
    }

    public bool TryGetReceipt(string id, out DateTime receivedAt) => Volatile.Read(ref _receipts).TryGetValue(id, out receivedAt);

    void Run(string bootstrapServers, string topic, int partitions)
    {
        using var consumer = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig
        {
            BootstrapServers = bootstrapServers,
            GroupId = "relay-bench-live-" + Guid.NewGuid().ToString("N"),
            EnableAutoCommit = false,
            FetchWaitMaxMs = 1,
            ConsumeResultFields = "headers",
        }).SetLogHandler((_, _) => { }).SetErrorHandler((_, _) => { }).Build();
        consumer.Assign(Enumerable.Range(0, partitions).Select(p => new TopicPartitionOffset(topic, p, Offset.Beginning)));
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                if (consumer.Consume(TimeSpan.FromMilliseconds(100)) is not { IsPartitionEOF: false } result)
                    continue;
                var receivedAt = DateTime.UtcNow;
                Interlocked.Increment(ref _messages);
                if (result.Message.Headers.TryGetLastBytes("id", out var id))
                    Volatile.Read(ref _receipts).TryAdd(Encoding.UTF8.GetString(id), receivedAt);
            }
            catch (ConsumeException)
            {
            }
        }
        consumer.Close();
    }

    public void Dispose()
    {
        if (_stop.IsCancellationRequested)
            return;
        _stop.Cancel();
        _thread.Join(TimeSpan.FromSeconds(10));
    }
}
