using System.Collections.Concurrent;
using System.Text;
using Confluent.Kafka;

namespace Relay.DevServices;

/// <summary>
/// Reads every partition of the topics a filter accepts, from the beginning, while a run goes on (the mock broker
/// deletes old batches past 5 MiB per partition, so counting afterwards is not reliable). Topics that appear later
/// (auto-created on first produce) are picked up by a periodic metadata refresh. No consumer group is used.
/// </summary>
public sealed class KafkaTopicReader : IDisposable
{
    readonly ConcurrentQueue<ReceivedMessage> _messages = new();
    readonly CancellationTokenSource _stop = new();
    readonly Thread _thread;
    readonly Action<ReceivedMessage>? _onMessage;
    readonly string _bootstrapServers;
    readonly Func<string, bool> _topicFilter;
    // The next offset to read in each partition seen so far (one past the last message read).
    readonly ConcurrentDictionary<TopicPartition, long> _nextOffsets = new();

    public KafkaTopicReader(string bootstrapServers, Func<string, bool> topicFilter, Action<ReceivedMessage>? onMessage = null)
    {
        _onMessage = onMessage;
        (_bootstrapServers, _topicFilter) = (bootstrapServers, topicFilter);
        _thread = new Thread(() => Run(bootstrapServers, topicFilter, _stop.Token)) { IsBackground = true, Name = "kafka-topic-reader" };
        _thread.Start();
    }

    public IReadOnlyCollection<ReceivedMessage> Messages => _messages;

    public int Count => _messages.Count;

    /// <summary>How many distinct event ids (<c>id</c> header) arrived: duplicates from a re-sent tail count once.</summary>
    public int DistinctIds => _ids.Count;
    readonly ConcurrentDictionary<string, bool> _ids = new();

    /// <summary>Waits until <paramref name="count"/> distinct event ids arrived; false on timeout.</summary>
    public async Task<bool> WaitForDistinctIdsAsync(int count, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (_ids.Count < count)
        {
            if (DateTime.UtcNow > deadline)
                return false;
            await Task.Delay(50, cancellationToken);
        }
        return true;
    }

    /// <summary>Waits until at least <paramref name="count"/> messages arrived; false on timeout.</summary>
    public async Task<bool> WaitForCountAsync(int count, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (_messages.Count < count)
        {
            if (DateTime.UtcNow > deadline)
                return false;
            await Task.Delay(50, cancellationToken);
        }
        return true;
    }

    /// <summary>
    /// Waits until this reader has read everything the brokers hold now in the topics it follows (up to each partition's
    /// high watermark); false on timeout. Once the producer's acknowledgements are known (e.g. the slot is confirmed past
    /// the last row), nothing published before then can arrive later: what <see cref="Messages"/> holds is all there is.
    /// </summary>
    public async Task<bool> WaitForCaughtUpAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var deadline = DateTime.UtcNow + timeout;
        var highWatermarks = await Task.Run(() =>
        {
            using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = _bootstrapServers })
                .SetLogHandler((_, _) => { }).SetErrorHandler((_, _) => { }).Build();
            using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(new ConsumerConfig
            {
                BootstrapServers = _bootstrapServers,
                GroupId = "relay-test-watermarks-" + Guid.NewGuid().ToString("N"),
                EnableAutoCommit = false,
            }).SetLogHandler((_, _) => { }).SetErrorHandler((_, _) => { }).Build();
            return admin.GetMetadata(TimeSpan.FromSeconds(10)).Topics
                .Where(t => t.Error.Code == ErrorCode.NoError && _topicFilter(t.Topic))
                .SelectMany(t => t.Partitions.Select(p => new TopicPartition(t.Topic, p.PartitionId)))
                .Select(tp => (Partition: tp, High: consumer.QueryWatermarkOffsets(tp, TimeSpan.FromSeconds(10)).High.Value))
                .Where(w => w.High > 0)
                .ToList();
        }, cancellationToken);
        while (!highWatermarks.All(w => _nextOffsets.TryGetValue(w.Partition, out var next) && next >= w.High))
        {
            if (DateTime.UtcNow > deadline)
                return false;
            await Task.Delay(50, cancellationToken);
        }
        return true;
    }

    void Run(string bootstrapServers, Func<string, bool> topicFilter, CancellationToken cancellationToken)
    {
        // Connection errors are expected while a fault test has the brokers down: keep librdkafka's stderr quiet.
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = bootstrapServers, SocketTimeoutMs = 5000 })
            .SetLogHandler((_, _) => { }).SetErrorHandler((_, _) => { }).Build();
        using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(new ConsumerConfig
        {
            BootstrapServers = bootstrapServers,
            GroupId = "relay-test-reader-" + Guid.NewGuid().ToString("N"),
            EnableAutoCommit = false,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            TopicMetadataRefreshIntervalMs = 1000,
        }).SetLogHandler((_, _) => { }).SetErrorHandler((_, _) => { }).Build();
        var assigned = new HashSet<TopicPartition>();
        var nextRefresh = DateTime.MinValue;
        while (!cancellationToken.IsCancellationRequested)
        {
            if (DateTime.UtcNow >= nextRefresh)
            {
                nextRefresh = DateTime.UtcNow + TimeSpan.FromMilliseconds(500);
                try
                {
                    var fresh = admin.GetMetadata(TimeSpan.FromSeconds(2)).Topics
                        .Where(t => t.Error.Code == ErrorCode.NoError && topicFilter(t.Topic))
                        .SelectMany(t => t.Partitions.Select(p => new TopicPartition(t.Topic, p.PartitionId)))
                        .Where(assigned.Add)
                        .Select(tp => new TopicPartitionOffset(tp, Offset.Beginning))
                        .ToList();
                    if (fresh.Count > 0)
                        consumer.IncrementalAssign(fresh);
                }
                catch (KafkaException)
                {
                    // Broker down in a fault test: try again at the next refresh.
                }
            }
            ConsumeResult<byte[]?, byte[]?>? result;
            try
            {
                result = consumer.Consume(TimeSpan.FromMilliseconds(100));
            }
            catch (ConsumeException)
            {
                continue;
            }
            if (result is null || result.IsPartitionEOF)
                continue;
            var headers = new Dictionary<string, byte[]>();
            foreach (var header in result.Message.Headers ?? [])
                headers[header.Key] = header.GetValueBytes();
            var message = new ReceivedMessage(result.Topic, result.Partition.Value, result.Offset.Value,
                result.Message.Key, result.Message.Value, headers);
            // A callback (the dev broker's printer) runs for as long as it likes: keep nothing then.
            if (_onMessage is null)
            {
                _messages.Enqueue(message);
                if (message.Header("id") is { } id)
                    _ids.TryAdd(id, true);
            }
            else
                _onMessage(message);
            _nextOffsets[result.TopicPartition] = result.Offset.Value + 1;   // after the message is in Messages
        }
        consumer.Close();
    }

    public void Dispose()
    {
        _stop.Cancel();
        _thread.Join(TimeSpan.FromSeconds(10));
        _stop.Dispose();
    }
}
